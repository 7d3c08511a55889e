"""What a check needs, and the one logged fetch every check uses."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from config import Settings
from db import Database, store
from scraper.errors import Blocked, Broken, ScraperError
from scraper.fetch import Fetcher
from scraper.models import FetchRecord, Fetched
from scraper.timeutil import iso, utcnow


@dataclass
class Context:
    """What a check needs; built once by the CLI or the daemon."""

    settings: Settings
    db: Database
    fetcher: Fetcher


class FetchLog:
    """A check's fetch rows. They are written in the same transaction as the check's
    outcome: one fsync per source per cycle instead of one per HTTP request."""

    def __init__(self) -> None:
        self.rows: list[FetchRecord] = []

    def mark_broken(self, purpose: str, error: str) -> None:
        """Fetches that arrived fine but held no usable list are ``broken``, not ``ok``."""
        self.rows = [dataclasses.replace(r, outcome="broken", error=error)
                     if r.purpose == purpose and r.outcome == "ok" else r for r in self.rows]

    def take(self) -> list[FetchRecord]:
        rows, self.rows = self.rows, []
        return rows


async def fetch_logged(ctx: Context, source: str | None, url: str, *, purpose: str,
                       log: FetchLog | None = None, **kw: object) -> Fetched:
    """Fetch and record one ``fetches`` row (ok, not-modified, blocked, broken or error), whatever happens.

    With a ``log`` the row waits for the check's transaction; without one it is written at once.
    """
    started = iso(utcnow())
    t0 = time.monotonic()
    try:
        fetched = await ctx.fetcher.get(url, **kw)  # type: ignore[arg-type]
    except ScraperError as e:
        outcome = "blocked" if isinstance(e, Blocked) else "broken" if isinstance(e, Broken) else "error"
        _record(ctx, log, FetchRecord(source, url, purpose, started, getattr(e, "status", None), None,
                                      round(time.monotonic() - t0, 4), outcome, str(e)))
        raise
    _record(ctx, log, FetchRecord(source, url, purpose, started, fetched.status, len(fetched.body),
                                  round(time.monotonic() - t0, 4), "not-modified" if fetched.not_modified else "ok",
                                  None))
    return fetched


def _record(ctx: Context, log: FetchLog | None, row: FetchRecord) -> None:
    if log is not None:
        log.rows.append(row)
    else:
        store.record_fetches(ctx.db, [row])
