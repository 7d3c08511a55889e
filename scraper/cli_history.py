"""Ad hoc history commands: ``query``, ``search``, ``history`` and ``export`` (README "Querying the history").

All four open the database read-only (``db.query``), so they are safe beside a running daemon. The
database is the config's ``database``, or ``--db FILE``. Scraped text printed to the terminal goes
through ``clean``; ``--json`` and ``--csv`` print stored values (JSON escapes control characters).

``--region`` means what it means in a subscriber's filters: 嘉兴市 (or 嘉兴) covers the city and its
counties, an announcement matches when its issuer or one of its entities is inside, and an entity is
inside when its region or city is (an entity without a place takes its list's issuer).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import click

from config.programs import load_registry
from config.regions import Regions, load_regions
from config.subscribers import STAGES
from db.query import DEFAULT_TIMEOUT, QueryError, Rows, entities_of, entity_matches, open_readonly, run_query
from db.query import selections, timeline
from db.store import search as search_index
from scraper.clikit import clean, database_path, db_options, echo_table, reading_settings
from scraper.export import ExportError, json_text, to_csv, to_json, to_xlsx
from scraper.files import write_atomic

_INDENT = " " * 12
_SINCE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")
_RENDER: dict[str, Callable[[Sequence[str], Sequence[Sequence[object]]], bytes]] = {
    "csv": to_csv, "json": to_json, "xlsx": to_xlsx}


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """YYYY, YYYY-MM or YYYY-MM-DD -> the first day it names, as YYYY-MM-DD."""
    if value is None:
        return None
    full = value + {4: "-01-01", 7: "-01"}.get(len(value), "")
    try:
        if not _SINCE.match(value):
            raise ValueError
        return date.fromisoformat(full).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)") from None


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except (QueryError, ExportError) as e:
        raise click.ClickException(str(e)) from None


# --------------------------------------------------------------------------------------------- query

@click.command()
@click.argument("sql")
@click.option("--table", "fmt", flag_value="table", default=True, help="Aligned columns (the default).")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with a header row.")
@click.option("--json", "fmt", flag_value="json", help="A JSON array of objects.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds before the query is stopped.")
@click.option("--max-rows", type=click.IntRange(min=1), help="Keep at most this many rows.")
@db_options
def query(sql: str, fmt: str, timeout: float, max_rows: int | None, config_path: str, db_path: str | None) -> None:
    """Run one read-only SQL statement (views: v_selections, v_batches, v_timeline, v_source_health)."""
    with _errors():
        result = run_query(database_path(config_path, db_path), sql, timeout=timeout, max_rows=max_rows)
    _emit(result, fmt, empty="no rows")
    if result.truncated:
        click.echo(f"(only the first {max_rows} rows; raise --max-rows for more)", err=True)


def _emit(result: Rows, fmt: str, *, empty: str) -> None:
    """Rows as a table, CSV or JSON on stdout; "no …" for none (on stderr beside empty CSV/JSON)."""
    if not result.rows:
        click.echo(empty, err=fmt != "table")
    if fmt == "json":
        click.echo(json_text(result.dicts()))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(result.columns)
        w.writerows([[v.hex() if isinstance(v, bytes) else v for v in r] for r in result.rows])
        click.echo(buf.getvalue(), nl=False)
    elif result.rows:
        echo_table(result.columns, result.rows)


# -------------------------------------------------------------------------------------------- search

@click.command()
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many results.")
@db_options
def search(text: str, as_json: bool, limit: int, config_path: str, db_path: str | None) -> None:
    """Announcements whose title, body or selected entities contain TEXT (two characters or more), newest first."""
    text = text.strip()
    if len(text) < 2:
        raise click.BadParameter(f"search needs at least two characters, got {text!r}", param_hint="TEXT")
    with _errors(), open_readonly(database_path(config_path, db_path)) as db:
        hits = search_index(db, text, limit)
        matches = entity_matches(db, [str(h["key"]) for h in hits], text)
    if as_json:
        click.echo(json_text([{**h, "entities": matches.get(str(h["key"]), [])} for h in hits]))
    elif not hits:
        click.echo(f"no announcements mention {clean(text)!r}")
    for h in [] if as_json else hits:
        click.echo(f"{clean(h['pub_date']) or '?':<10}  {clean(h['program']) or '-'}  {clean(h['stage']) or '-'}")
        click.echo(f"{_INDENT}{clean(h['title'])}\n{_INDENT}{clean(h['url'])}")
        for name in matches.get(str(h["key"]), []):
            click.echo(f"{_INDENT}  entity: {clean(name)}")


# ------------------------------------------------------------------------------------------- history

@click.command()
@click.option("--program", help="A program key (sme-cluster, little-giant, …).")
@click.option("--region", help="A city, county or province: 嘉兴市, 平湖市, 嘉兴 ….")
@click.option("--since", callback=_since, help="Published on or after this date (YYYY-MM-DD, YYYY-MM or YYYY).")
@click.option("--stage", type=click.Choice(STAGES), help="Only this stage.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_options
def history(program: str | None, region: str | None, since: str | None, stage: str | None, as_json: bool,
            config_path: str, db_path: str | None) -> None:
    """The announcements of known programs, oldest first: date, stage, program, batch, title, entities."""
    settings = reading_settings(config_path)
    _check_program(settings.programs, program)
    regions, area = _region(settings.regions, region)
    with _errors(), open_readonly(database_path(settings, db_path)) as db:
        rows = timeline(db, program=program, since=since, stage=stage).dicts()
        if area is not None:
            rows = _in_area(rows, entities_of(db, [str(r["key"]) for r in rows]), regions, area)
    if as_json:
        click.echo(json_text(rows))
    elif not rows:
        click.echo("no announcements of known programs" + (" match these filters" if _any(
            program, region, since, stage) else " yet"))
    for r in [] if as_json else rows:
        _echo_announcement(r, area)


def _check_program(extra: Sequence[Any], program: str | None) -> None:
    if program is None:
        return
    keys = load_registry(extra).keys()
    if program not in keys:
        raise click.BadParameter(f"unknown program {program!r} (known: {', '.join(keys)})", param_hint="--program")


def _region(extra: Any, name: str | None) -> tuple[Regions, str | None]:
    regions = load_regions(extra)
    if name is None:
        return regions, None
    area, _ = regions.locate(name)
    if area is None:
        raise click.BadParameter(f"unknown region {name!r} (a province, city or county such as 浙江省, 嘉兴市, "
                                 "平湖市 or 嘉兴)", param_hint="--region")
    return regions, area


def _within(regions: Regions, area: str, place: str | None) -> bool:
    """notifier.routing's rule: the place is the area, or the area contains it."""
    return bool(place) and (place == area or regions.contains(area, str(place)))


def _entity_in(regions: Regions, area: str, region: str | None, city: str | None, issuer: str | None) -> bool:
    places: list[str | None] = [p for p in (region, city) if p] or [issuer]
    return any(_within(regions, area, p) for p in places)


def _in_area(rows: list[dict[str, Any]], ents: dict[str, list[tuple[str, str | None, str | None]]],
             regions: Regions, area: str) -> list[dict[str, Any]]:
    """Announcements issued in ``area`` or selecting someone there, each with ``matching`` entities."""
    out = []
    for r in rows:
        issuer = r["issuer_region"]
        matching = [{"name": n, "region": reg, "city": c} for n, reg, c in ents[r["key"]]
                    if _entity_in(regions, area, reg, c, issuer)]
        if matching or _within(regions, area, issuer):
            out.append({**r, "matching": matching})
    return out


def _echo_announcement(r: dict[str, Any], area: str | None) -> None:
    batch = " ".join(x for x in (f"{r['year']}年" if r["year"] else "", f"第{r['batch']}批" if r["batch"] else "",
                                 "复核" if r["review"] else "") if x)
    parts = [f"{clean(r['program_name'])} ({clean(r['program'])})", clean(r["level"]), batch,
             f"{r['entities']} entities"]
    click.echo(f"{r['published']:<10}  {clean(r['stage']):<8}  " + " · ".join(p for p in parts if p))
    click.echo(f"{_INDENT}{clean(r['title'])}\n{_INDENT}{clean(r['link'])}")
    if area is not None and r["matching"]:
        click.echo(f"{_INDENT}in {area} ({len(r['matching'])}):")
        for e in r["matching"]:
            click.echo(f"{_INDENT}  {clean(e['name'])}  {clean(e['region'] or e['city'] or '')}".rstrip())


def _any(*values: object) -> bool:
    return any(v is not None for v in values)


# -------------------------------------------------------------------------------------------- export

@click.command()
@click.option("--format", "fmt", type=click.Choice(sorted(_RENDER)),
              help="csv, json or xlsx (default: from -o's suffix, else csv).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write this file (atomically); default stdout.")
@click.option("--program", help="A program key (sme-cluster, little-giant, …).")
@click.option("--region", help="Entities in this city, county or province: 嘉兴市, 平湖市, 嘉兴 ….")
@click.option("--since", callback=_since, help="Lists published on or after this date (YYYY-MM-DD, YYYY-MM or YYYY).")
@db_options
def export(fmt: str | None, output: str | None, program: str | None, region: str | None, since: str | None,
           config_path: str, db_path: str | None) -> None:
    """Export selected entities (the v_selections view) as CSV, JSON or an Excel workbook."""
    fmt = fmt or (Path(output).suffix.lower().lstrip(".") if output else "")
    fmt = fmt if fmt in _RENDER else "csv"
    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx needs -o FILE (a workbook is binary)")
    settings = reading_settings(config_path)
    _check_program(settings.programs, program)
    regions, area = _region(settings.regions, region)
    with _errors(), open_readonly(database_path(settings, db_path)) as db:
        found = selections(db, program=program, since=since)
    columns, rows = _export_rows(found, regions, area)
    if not rows:
        what = "no selections match these filters" if _any(program, region, since) else "no selections stored yet"
        click.echo(f"{what}; nothing exported", err=output is None)
        return
    with _errors():
        data = _RENDER[fmt](columns, rows)
    _write(data, output, f"{len(rows)} selections ({fmt})")


def _export_rows(found: Rows, regions: Regions, area: str | None) -> tuple[list[str], list[tuple[object, ...]]]:
    """The v_selections columns (issuer_region is for the filter only), rows in ``area`` when given."""
    cols = list(found.columns)
    at = {c: i for i, c in enumerate(cols)}
    keep = [r for r in found.rows if area is None or _entity_in(
        regions, area, _str(r[at["region"]]), _str(r[at["city"]]), _str(r[at["issuer_region"]]))]
    return cols[:-1], [tuple(r[:-1]) for r in keep]


def _str(v: object) -> str | None:
    return None if v is None else str(v)


def _write(data: bytes, output: str | None, what: str) -> None:
    if output is None:
        click.echo(data, nl=False)  # bytes go to the binary stream: the BOM and UTF-8 stay as written
        return
    try:
        write_atomic(output, data)
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from None
    click.echo(f"wrote {what} to {output}")
