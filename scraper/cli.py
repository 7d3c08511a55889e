"""The ``clusterwatch`` command line. Each command parses its options and calls one library function."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import click

import config
import config.loader
from config import Settings, Source

from scraper import logs
from scraper.clikit import clean, config_option, echo_table, exclusive, load_settings, optional_settings


_load = load_settings


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less log output (repeatable).")
@click.option("--log-format", type=click.Choice(logs.FORMATS), envvar="CLUSTERWATCH_LOG_FORMAT",
              default="text", show_default=True,
              help="Log lines as text or as JSON objects (also $CLUSTERWATCH_LOG_FORMAT).")
@click.version_option(package_name="clusterwatch")
def main(verbose: int, quiet: int, log_format: str) -> None:
    """Watch government bureau sites for new batches of selected enterprises and clusters."""
    logs.setup(verbose=verbose, quiet=quiet, fmt=log_format)


@main.command()
@config_option
@click.option("--once", is_flag=True, help="Check due sources once, deliver, and exit (for cron).")
@click.option("--source", "only", multiple=True, help="Check only this source (repeatable); ignores schedules.")
@click.option("--all", "force", is_flag=True, help="Check every enabled source, due or not.")
def run(config_path: str, once: bool, only: tuple[str, ...], force: bool) -> None:
    """Check sources and deliver alerts (without --once: run the daemon)."""
    from db import open_db
    from scraper.runner import run_once

    settings = _load(config_path)
    unknown = [n for n in only if settings.source(n) is None]
    if unknown:
        raise click.ClickException(f"no source named {unknown[0]!r} in {config_path}")
    if not once:
        _daemon(settings)
        return
    with exclusive(settings, "run --once"):
        db = open_db(settings.database)
        report = asyncio.run(run_once(settings, db, only=only, force=force))
    for r in report.results:
        click.echo(str(r))
    if report.skipped:
        click.echo(f"not due yet: {', '.join(report.skipped)}")
    click.echo(f"deliveries: {report.deliveries}")


@main.command()
@config_option
def daemon(config_path: str) -> None:
    """Run the scheduler until SIGTERM / SIGINT."""
    _daemon(_load(config_path))


def _daemon(settings: Settings) -> None:
    with exclusive(settings, "daemon"):
        _run_daemon(settings)


def _run_daemon(settings: Settings) -> None:
    from db import open_db
    from scraper.fetch import Fetcher
    from scraper.pipeline import Context
    from scraper.schedule import Daemon

    async def main_loop() -> None:
        async with Fetcher.for_settings(settings) as fetcher:
            await Daemon(Context(settings, open_db(settings.database), fetcher)).run()

    asyncio.run(main_loop())


@main.command()
@click.argument("source_or_url")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.option("--adapter", "kind", type=click.Choice(sorted(config.loader.ADAPTER_KINDS)), default=None,
              help="Read the page with this adapter (auto: detect the CMS family).")
@click.option("--pages", type=click.IntRange(1, 50), default=None, help="List pages to read (default: the source's).")
def check(source_or_url: str, config_path: str, as_json: bool, kind: str | None, pages: int | None) -> None:
    """Dry run: fetch and parse one source (or URL) and print its items. Writes nothing."""
    from scraper.checker import dry_run

    settings, source = _check_target(source_or_url, config_path)
    try:
        page = asyncio.run(dry_run(settings, source, kind=kind, pages=pages))
    except Exception as e:  # ScraperError, with its URL and reason
        raise click.ClickException(clean(f"{source.name}: {e}")) from None
    if as_json:
        for item in page.items:
            click.echo(json.dumps({"title": item.title, "date": item.date, "url": item.url}, ensure_ascii=False))
        return
    click.echo(f"{source.name}: {len(page.items)} items (adapter {page.adapter})")
    for item in page.items:
        click.echo(clean(f"{item.date or '----------'}  {item.title}\n            {item.url}"))


def _check_target(source_or_url: str, config_path: str) -> tuple[Settings, Source]:
    if source_or_url.startswith(("http://", "https://")):
        return _optional_settings(config_path), Source(name="adhoc", url=source_or_url)
    settings = _load(config_path)
    source = settings.source(source_or_url)
    if source is None:
        raise click.ClickException(f"no source named {source_or_url!r} in {config_path}")
    return settings, source


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--dead-window", default="7d", show_default=True, metavar="DURATION",
              help="Dead deliveries this recent make status fail (e.g. 24h, 7d; 'all' = any dead delivery).")
def status(config_path: str, as_json: bool, dead_window: str) -> None:
    """Show each source's health; exit 2 when a source is failing past its budget or deliveries are dead.

    Exit codes for monitors: 0 healthy, 2 unhealthy (reasons on stderr), 1 a usage or config error.
    """
    from scraper.status import source_status, verdict

    window = _duration(dead_window)
    settings = _load(config_path)
    rows = source_status(settings)
    v = verdict(settings, rows, dead_window=window)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        header = ("source", "adapter", "last success", "last outcome", "fails", "items", "next run")
        echo_table(header, [(r["source"], r["adapter"], r["last_success"] or "never", r["last_outcome"] or "-",
                             str(r["consecutive_failures"]), str(r["items_known"]), r["next_run"] or "disabled")
                            for r in rows])
        for r in rows:
            if r["last_error"]:
                click.echo(f"{r['source']}: {clean(r['last_error'])}")
            for problem in r["count_problems"]:
                click.echo(f"{r['source']}: list count mismatch: {clean(problem)}")
        click.echo(f"deliveries: {v.waiting} waiting, {v.dead} dead")
    for problem in v.problems:
        click.echo(f"unhealthy: {problem}", err=True)
    if not v.healthy:
        raise SystemExit(2)


def _duration(text: str) -> float | None:
    """``90s``, ``30m``, ``24h``, ``7d`` → seconds; ``all`` → None."""
    t = text.strip().lower()
    if t == "all":
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if t and t[-1] in units:
            value = float(t[:-1]) * units[t[-1]]
        else:
            value = float(t)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration such as 24h, 7d or all", param_hint="--dead-window")
    if not value > 0:
        raise click.BadParameter(f"{text!r} must be positive", param_hint="--dead-window")
    return value


@main.command()
@click.argument("source_name")
@config_option
@click.option("--pages", type=click.IntRange(1, 500), required=True, help="How many list pages to walk.")
@click.option("--details", is_flag=True, help="Also read each new announcement's detail page (slow, polite).")
def backfill(source_name: str, config_path: str, pages: int, details: bool) -> None:
    """Walk deeper into a source's list once, silently: adds history, sends no alerts."""
    from db import open_db
    from scraper.fetch import Fetcher
    from scraper.pipeline import Context, backfill as run_backfill, sync_sources

    settings = _load(config_path)
    source = settings.source(source_name)
    if source is None:
        raise click.ClickException(f"no source named {source_name!r} in {config_path}")
    async def go():  # type: ignore[no-untyped-def]
        async with Fetcher.for_settings(settings) as fetcher:
            return await run_backfill(Context(settings, db, fetcher), source, pages=pages, details=details)

    with exclusive(settings, "backfill"):
        db = open_db(settings.database)
        sync_sources(db, settings.sources)
        result = asyncio.run(go())
    click.echo(str(result))
    if not result.ok:
        raise SystemExit(1)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def subscribers(config_path: str, as_json: bool) -> None:
    """List subscribers with their mode, filters and channels (secrets never shown)."""
    settings = _load(config_path)
    rows = []
    for sub in settings.subscribers:
        f = sub.filters
        filters = {k: list(v) for k, v in vars(f).items() if v}
        channels = [{"kind": c.kind, "id": ", ".join(c.ids()), "to": list(c.to), "url": c.url,
                     "signed": bool(c.secrets)} for c in sub.channels]
        rows.append({"name": sub.name, "operator": sub.operator, "mode": sub.mode,
                     "digest_at": sub.digest_at if sub.mode == "digest" else None, "timezone": sub.timezone,
                     "filters": filters, "channels": channels})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        mode = f"digest at {r['digest_at']} {r['timezone']}" if r["mode"] == "digest" else "instant"
        click.echo(f"{r['name']}{' (operator)' if r['operator'] else ''}: {mode}")
        for key, values in r["filters"].items():
            click.echo(f"  {key}: {', '.join(values)}")
        if not r["filters"]:
            click.echo("  filters: none (announcement.new and revisions from every source)")
        for c in r["channels"]:
            target = ", ".join(c["to"]) if c["to"] else (c["url"] or "")
            click.echo(f"  -> {c['kind']} [{c['id']}] {target}{' (signed)' if c['signed'] else ''}")


@main.group(invoke_without_command=True)
@config_option
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "dead"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def deliveries(ctx: click.Context, config_path: str, status: str | None, as_json: bool) -> None:
    """List deliveries (newest first); subcommands requeue or re-enable."""
    if ctx.invoked_subcommand is not None:
        return
    from db import open_db, outbox

    rows = outbox.listing(open_db(_load(config_path).database), status)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        when = r["sent_at"] or f"next {r['next_attempt_at']}"
        click.echo(f"{r['id']:>6}  {r['status']:<7} {r['attempts']:>2}x  {r['subscriber']}/{r['channel']}  "
                   f"{r['type']}  {r['title'] or ''}  ({when}){'  ' + r['last_error'] if r['last_error'] else ''}")


@deliveries.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", is_flag=True, help="Requeue every dead delivery.")
@config_option
def deliveries_retry(ids: tuple[int, ...], dead: bool, config_path: str) -> None:
    """Requeue deliveries (same idempotency key) for the next relay run."""
    from db import open_db, outbox
    from scraper.timeutil import iso, utcnow

    if not ids and not dead:
        raise click.UsageError("give delivery ids or --dead")
    n = outbox.requeue(open_db(_load(config_path).database), ids=list(ids), dead=dead, now=iso(utcnow()))
    click.echo(f"{n} deliveries requeued")


@deliveries.command("enable")
@click.argument("subscriber")
@click.argument("channel")
@config_option
def deliveries_enable(subscriber: str, channel: str, config_path: str) -> None:
    """Use an endpoint again after it answered 410 Gone."""
    from db import open_db, outbox

    outbox.enable(open_db(_load(config_path).database), subscriber, channel)
    click.echo(f"{subscriber}/{channel} enabled")


@main.group()
def notify() -> None:
    """Check that alerts reach their channels."""


@notify.command("test")
@click.argument("subscriber")
@config_option
def notify_test(subscriber: str, config_path: str) -> None:
    """Send a test message through each of SUBSCRIBER's channels and report each result."""
    from notifier.test_message import send_test

    settings = _load(config_path)
    sub = next((s for s in settings.subscribers if s.name == subscriber), None)
    if sub is None:
        raise click.ClickException(f"no subscriber named {subscriber!r} in {config_path}")
    results = asyncio.run(send_test(settings, sub))
    for r in results:
        click.echo(f"{'ok  ' if r.ok else 'FAIL'} {r.channel}: {r.detail}")
    if not all(r.ok for r in results):
        raise SystemExit(1)


@main.command("classify")
@click.argument("titles", nargs=-1, required=True)
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per title (the default is one line each).")
def classify_cmd(titles: tuple[str, ...], config_path: str, as_json: bool) -> None:
    """Say what each title announces: program, level, stage, review, batch, year, cohorts, region."""
    from scraper.analyse import knowledge
    from scraper.classify import classify

    registry = knowledge(_optional_settings(config_path)).registry
    for title in titles:
        c = classify(title, None, registry).as_dict()
        if as_json:
            click.echo(json.dumps(c, ensure_ascii=False))
        else:
            fields = " ".join(f"{k}={v}" for k, v in c.items() if k != "cohorts" and v not in (None, False))
            click.echo(f"{title}\n    {fields}")


@main.command()
@click.argument("url_or_file")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def extract(url_or_file: str, config_path: str, as_json: bool) -> None:
    """Read one detail page (URL or saved .html) or attachment: fields, classification, attachments, entities."""
    from scraper.attachments import AttachmentError
    from scraper.errors import ScraperError
    from scraper.extractor import extract as run_extract

    settings = _optional_settings(config_path)
    try:
        report = asyncio.run(run_extract(settings, url_or_file))
    except (ScraperError, AttachmentError, OSError) as e:
        raise click.ClickException(clean(f"{url_or_file}: {e}")) from None
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for key in ("title", "url", "file", "pub_date", "issuer"):
        if report.get(key):
            click.echo(clean(f"{key}: {report[key]}"))
    c = report["classification"]
    click.echo(clean("classification: " + " ".join(f"{k}={v}" for k, v in c.items() if k != "cohorts" and v is not None)))
    for a in report.get("attachments", []):
        click.echo(clean(f"attachment: {a['text']} ({a['entities'] or 0} entities) {a['error'] or a['parse_error'] or ''}"))
    if report.get("count_problem"):
        click.echo(clean(f"count check: {report['count_problem']}"))
    click.echo(f"entities ({len(report['entities'])}):")
    for e in report["entities"]:
        where = "/".join(dict.fromkeys(x for x in (e["city"], e["region"]) if x))
        click.echo(clean(f"  {e['row'] or '-':>4}  {e['name']}  [{where or '?'}]  {e['category'] or ''} {e['role']}"))


_optional_settings = optional_settings


@main.group("config")
def config_group() -> None:
    """Work with the config file."""


@config_group.command("check")
@config_option
def config_check(config_path: str) -> None:
    """Validate a config and summarise it."""
    settings = _load(config_path)
    click.echo(f"{config_path}: OK")
    click.echo(f"  database: {settings.database}")
    click.echo(f"  sources ({len(settings.sources)}):")
    for s in settings.sources:
        when = f"cron {s.cron!r}" if s.cron else f"every {s.interval}s"
        click.echo(f"    {s.name}: {s.kind}, {when}{'' if s.enabled else ' (disabled)'}  {s.url}")
    click.echo(f"  subscribers ({len(settings.subscribers)}):")
    for sub in settings.subscribers:
        chans = ", ".join(f"{c.kind}({len(c.to)})" if c.kind == "email" else c.kind for c in sub.channels)
        click.echo(f"    {sub.name}: {chans}")
    if settings.smtp:
        auth = f", login {settings.smtp.username}" if settings.smtp.username else ""
        click.echo(f"  smtp: {settings.smtp.host}:{settings.smtp.port} ({settings.smtp.security}{auth})")
    if settings.feeds:
        click.echo(f"  feeds: {settings.feeds.dir} ({settings.feeds.entries} entries per feed)")
    if settings.secrets_file:
        from config.secrets import loose_permissions

        click.echo(f"  secrets file: {settings.secrets_file}")
        warning = loose_permissions(settings.secrets_file)
        if warning:
            click.echo(f"warning: {warning}", err=True)
    allowed = [str(n) for n in settings.network.allow_networks] + list(settings.network.allow_hosts)
    click.echo(f"  network allow-list: {', '.join(allowed) if allowed else 'none (public addresses only)'}")


@main.command()
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to put the demo's config and database (default: a new temporary folder).")
def demo(workdir: Path | None) -> None:
    """Run the offline demo: a sample bureau site, SMTP and webhook receivers on 127.0.0.1."""
    from scraper.demo import run_demo

    target = workdir or Path(tempfile.mkdtemp(prefix="clusterwatch-demo-"))
    if (target / "clusterwatch.db").exists():
        raise click.ClickException(f"{target} already holds a demo database; pick an empty folder")
    run_demo(target, out=click.echo)


# Commands that live in their own modules (scraper/cli_*.py) are registered here.
# --- registered commands (one line each) ---
from scraper.cli_history import query as _query, search as _search, history as _history, export as _export; main.add_command(_query); main.add_command(_search); main.add_command(_history); main.add_command(_export)  # noqa: E402,E702
from scraper.cli_feed import feed as _feed; main.add_command(_feed)  # noqa: E402,E702
from scraper.cli_ui import ui_cmd as _ui; main.add_command(_ui)  # noqa: E402,E702
from scraper.cli_ops import backup as _backup, restore as _restore; main.add_command(_backup); main.add_command(_restore)  # noqa: E402,E702


if __name__ == "__main__":  # pragma: no cover
    main()
