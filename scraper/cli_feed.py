"""``clusterwatch feed``: an Atom feed of stored events, to stdout or a file."""

from __future__ import annotations

from pathlib import Path

import click

from config import Settings
from db import Database, open_db
from db.feeds import known_sources
from notifier.feed import DEFAULT_LIMIT, DEFAULT_TYPES, FEED_TYPES, FeedFilter, Feeds
from scraper.clikit import config_option, database_path, reading_settings
from scraper.feeds import FILE_MODE
from scraper.files import write_atomic


@click.command()
@config_option
@click.option("--program", "programs", multiple=True, metavar="KEY",
              help="Only this program (a registry key such as sme-cluster; repeatable: any of them).")
@click.option("--region", "regions", multiple=True, metavar="PLACE",
              help="Only events whose issuer or a selected entity lies in this place (嘉兴市 covers 平湖市; repeatable).")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source (repeatable).")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help=f"Only this event type (repeatable): {', '.join(FEED_TYPES)}. "
                   f"Default: {', '.join(DEFAULT_TYPES)}, as for alerts.")
@click.option("--subscriber", default=None, metavar="NAME",
              help="Exactly what this subscriber is alerted about (its filters and event types).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=DEFAULT_LIMIT, show_default=True,
              help="Newest events to include.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file atomically (mode 0644) instead of standard output.")
def feed(config_path: str, programs: tuple[str, ...], regions: tuple[str, ...], sources: tuple[str, ...],
         types: tuple[str, ...], subscriber: str | None, limit: int, output: Path | None) -> None:
    """Print an Atom feed of events (valid Atom 1.0, UTF-8), newest first."""
    settings = reading_settings(config_path)
    database_path(settings, None)  # a missing config is an error here, not an empty default
    if not settings.database.exists():
        raise click.ClickException(f"no database at {settings.database}: run `clusterwatch run --once` first")
    feeds = Feeds(settings)
    db = open_db(settings.database)
    flt = _filter(settings, feeds, db, programs, regions, sources, types, subscriber)
    data = feeds.document(db, flt, limit)
    if output is None:
        click.echo(data, nl=False)  # bytes go to the binary stream as they are
    else:
        try:
            write_atomic(output, data, FILE_MODE)
        except OSError as e:
            raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from None


def _filter(settings: Settings, feeds: Feeds, db: Database, programs: tuple[str, ...], regions: tuple[str, ...],
            sources: tuple[str, ...], types: tuple[str, ...], subscriber: str | None) -> FeedFilter:
    """The options checked against the config and the database; unknown values name the known ones."""
    keys = feeds.registry.keys()
    for k in programs:
        if k not in keys:
            raise click.ClickException(f"unknown program {k!r}; known programs: {', '.join(keys)}")
    places = []
    for r in regions:
        place, _ = feeds.regions.locate(r)
        if place is None:
            raise click.ClickException(
                f"unknown region {r!r}; known regions: {feeds.regions.province}, {', '.join(feeds.regions.cities)}, "
                "their counties and districts, and China's provinces (config/regions.toml, [regions] in the config)")
        places.append(place)
    known = sorted({s.name for s in settings.sources} | known_sources(db))
    for s in sources:
        if s not in known:
            raise click.ClickException(f"unknown source {s!r}; known sources: {', '.join(known) or '(none)'}")
    for t in types:
        if t not in FEED_TYPES:
            raise click.ClickException(f"unknown event type {t!r}; feed event types: {', '.join(FEED_TYPES)}")
    sub = None
    if subscriber is not None:
        sub = next((s for s in settings.subscribers if s.name == subscriber), None)
        if sub is None:
            names = ", ".join(s.name for s in settings.subscribers) or "(none in the config)"
            raise click.ClickException(f"unknown subscriber {subscriber!r}; subscribers: {names}")
    return FeedFilter(programs=tuple(dict.fromkeys(programs)), regions=tuple(dict.fromkeys(places)),
                      sources=tuple(dict.fromkeys(sources)), types=tuple(dict.fromkeys(types)), subscriber=sub)
