"""``run --once``: check the due sources, then deliver. The daemon runs the same pieces on a schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from config import Settings
from db import Database, store
from notifier.relay import RelayReport, relay_once
from scraper.feeds import write_feeds
from scraper.fetch import Fetcher
from scraper.pipeline import CheckResult, Context, run_cycle
from scraper.schedule import is_due
from scraper.timeutil import utcnow

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class OnceReport:
    results: tuple[CheckResult, ...]
    skipped: tuple[str, ...]  # sources not due yet
    deliveries: RelayReport


async def run_once(settings: Settings, db: Database, *, only: Iterable[str] = (), force: bool = False,
                   transport: "httpx.AsyncBaseTransport | None" = None) -> OnceReport:
    """Check every due source (or ``only`` these, or all with ``force``), then deliver what is pending."""
    wanted = set(only)
    now = utcnow()
    due, skipped = [], []
    for s in settings.sources:
        if (wanted and s.name not in wanted) or (not wanted and not s.enabled):
            continue
        state = store.source_state(db, s.name)
        if force or wanted or is_due(s, state.last_checked_at if state else None, now, settings.timezone):
            due.append(s)
        else:
            skipped.append(s.name)
    try:
        async with Fetcher.for_settings(settings, transport) as fetcher:
            # Naming a source explicitly (--source) also overrides a block back-off; --all does not.
            results = await run_cycle(Context(settings, db, fetcher), due, force=bool(wanted))
    finally:
        report = await relay_once(settings, db)  # pending alerts go out even if a check blew up
    write_feeds(settings, db)  # [feeds]: logs its failures, never raises
    return OnceReport(tuple(results), tuple(skipped), report)
