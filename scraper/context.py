"""What a check needs, and the one logged fetch every check uses."""

from __future__ import annotations

import time
from dataclasses import dataclass

from config import Settings
from db import Database, store
from scraper.errors import Blocked, Broken, ScraperError
from scraper.fetch import Fetcher
from scraper.models import Fetched
from scraper.timeutil import iso, utcnow


@dataclass
class Context:
    """What a check needs; built once by the CLI or the daemon."""

    settings: Settings
    db: Database
    fetcher: Fetcher


async def fetch_logged(ctx: Context, source: str | None, url: str, *, purpose: str,
                       ids: list[int] | None = None, **kw: object) -> Fetched:
    """Fetch and write one ``fetches`` row (ok, not-modified, blocked, broken or error), whatever happens."""
    started = iso(utcnow())
    t0 = time.monotonic()
    try:
        fetched = await ctx.fetcher.get(url, **kw)  # type: ignore[arg-type]
    except ScraperError as e:
        outcome = "blocked" if isinstance(e, Blocked) else "broken" if isinstance(e, Broken) else "error"
        store.record_fetch(ctx.db, source=source, url=url, purpose=purpose, started_at=started,
                           status=getattr(e, "status", None), nbytes=None, duration=time.monotonic() - t0,
                           outcome=outcome, error=str(e))
        raise
    row = store.record_fetch(ctx.db, source=source, url=url, purpose=purpose, started_at=started,
                             status=fetched.status, nbytes=len(fetched.body), duration=time.monotonic() - t0,
                             outcome="not-modified" if fetched.not_modified else "ok", error=None)
    if ids is not None:
        ids.append(row)
    return fetched
