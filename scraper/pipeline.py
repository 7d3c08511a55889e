"""Check one source, or all due sources, end to end.

    sources row ──> fetch list page (conditional GET) ──> adapter.parse ──> ListItems
        │                                                                       │
        │            seen keys (db) ──> diff.new_keys <── diff.keyed ───────────┘
        │                                   │
        │               fetch + parse detail pages of new items
        │                                   │
        └── store.commit_check: announcements + events + deliveries, ONE transaction
                                            │
                            notifier.relay_once (later, outside any transaction)

Only valid fetches touch state. A failed, blocked or empty fetch bumps the
source's failure counter and changes nothing else: it never reads as "every
item was removed" and never alerts a subscriber. ``run --once`` and the daemon
both call :func:`check_source`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass
from typing import Iterable

from config import Settings, Source
from db import Database, store
from notifier.routing import plan
from scraper import diff
from scraper.errors import Blocked, FetchError, ParseError, ScraperError
from scraper.fetch import Fetcher
from scraper.listing import read_list
from scraper.models import Announcement, Detail, Fetched, ListItem
from scraper.parse import parse_detail
from scraper.timeutil import iso, utcnow

log = logging.getLogger("clusterwatch.pipeline")


@dataclass(frozen=True)
class CheckResult:
    """What one check of one source did. ``outcome`` is one of OUTCOMES."""

    source: str
    outcome: str
    items: int = 0
    new: int = 0
    deliveries: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("new", "unchanged", "not_modified", "baseline")

    def __str__(self) -> str:
        if not self.ok:
            return f"{self.source}: {self.outcome}: {self.error}"
        return f"{self.source}: {self.outcome} ({self.items} items, {self.new} new, {self.deliveries} deliveries)"


OUTCOMES = ("new", "unchanged", "not_modified", "baseline", "failed", "blocked", "empty", "parse_error")


@dataclass
class Context:
    """What a check needs; built once by the CLI or the daemon."""

    settings: Settings
    db: Database
    fetcher: Fetcher


async def fetch_logged(ctx: Context, source: str | None, url: str, *, purpose: str, **kw: object) -> Fetched:
    """Fetch and write one ``fetches`` row, whatever happens."""
    started = iso(utcnow())
    t0 = time.monotonic()
    try:
        fetched = await ctx.fetcher.get(url, **kw)  # type: ignore[arg-type]
    except ScraperError as e:
        outcome = "blocked" if isinstance(e, Blocked) else "failed"
        store.record_fetch(ctx.db, source=source, url=url, purpose=purpose, started_at=started,
                           status=getattr(e, "status", None), nbytes=None, duration=time.monotonic() - t0,
                           outcome=outcome, error=str(e))
        raise
    outcome = "not_modified" if fetched.not_modified else "ok"
    store.record_fetch(ctx.db, source=source, url=url, purpose=purpose, started_at=started, status=fetched.status,
                       nbytes=len(fetched.body), duration=time.monotonic() - t0, outcome=outcome, error=None)
    return fetched


async def check_source(ctx: Context, source: Source) -> CheckResult:
    """Fetch, parse, diff and store one source. Never raises for an expected failure."""
    try:
        return await _check(ctx, source)
    except Blocked as e:
        return _failed(ctx, source, "blocked", str(e))
    except FetchError as e:
        return _failed(ctx, source, "failed", str(e))
    except ParseError as e:
        return _failed(ctx, source, "parse_error", str(e))


async def _check(ctx: Context, source: Source) -> CheckResult:
    state = store.source_state(ctx.db, source.name)
    conditional = state is not None and state.consecutive_failures == 0
    listing = await read_list(
        functools.partial(fetch_logged, ctx, source.name, purpose="list"), source,
        etag=state.etag if conditional and state else None,
        last_modified=state.last_modified if conditional and state else None,
    )
    fetched = listing.first
    now = iso(utcnow())
    if fetched.not_modified:
        store.record_unchanged(ctx.db, source.name, now=now, outcome="not_modified")
        return _done(CheckResult(source.name, "not_modified"))
    if not listing.items:
        return _failed(ctx, source, "empty", f"{source.url}: the list has no items (adapter {listing.adapter})")
    items = diff.keyed(source.name, listing.items)
    keys = list(items)
    seen = store.known_keys(ctx.db, source.name, keys)
    new = diff.new_keys(keys, seen)
    baseline = state is None or state.baseline_at is None
    silent = baseline and source.baseline == "silent"
    if silent:
        announcements = [diff.announcement(source.name, k, items[k], None) for k in new]
    else:
        announcements = await _understand(ctx, source, [(k, items[k]) for k in new], referer=fetched.final_url)
    events = [] if silent else [diff.event_for(a) for a in announcements]
    texts = {e.key: f"{a.title}\n{a.body}" for e, a in zip(events, announcements)}
    deliveries = plan(events, ctx.settings.subscribers, texts)
    outcome = "baseline" if baseline else ("new" if new else "unchanged")
    wrote = store.commit_check(
        ctx.db, source=source.name, now=iso(utcnow()), seen_keys=[k for k in keys if k in seen],
        announcements=announcements, events=events, deliveries=deliveries, baseline=silent,
        etag=fetched.headers.get("etag"), last_modified=fetched.headers.get("last-modified"), outcome=outcome,
    )
    return _done(CheckResult(source.name, outcome, len(keys), wrote.new_announcements, wrote.deliveries))


async def _understand(ctx: Context, source: Source, new: list[tuple[str, ListItem]], referer: str
                      ) -> list[Announcement]:
    """Follow new items to their detail pages (at most ``max_new_details`` per check)."""
    out = []
    for i, (key, item) in enumerate(new):
        detail: Detail | None = None
        error: str | None = None
        if source.follow_details and i < source.max_new_details:
            try:
                fetched = await fetch_logged(ctx, source.name, item.url, purpose="detail", referer=referer)
                detail = parse_detail(fetched.text, fetched.final_url)
            except ScraperError as e:
                error = str(e)
                log.warning("%s: detail page failed, alerting with the list entry only: %s", source.name, e)
        out.append(diff.announcement(source.name, key, item, detail, error))
    return out


def _failed(ctx: Context, source: Source, outcome: str, error: str) -> CheckResult:
    count = store.record_failure(ctx.db, source.name, now=iso(utcnow()), outcome=outcome, error=error)
    result = CheckResult(source.name, outcome, error=error)
    log.warning("%s (%d in a row)", result, count)
    return result


def _done(result: CheckResult) -> CheckResult:
    log.info("%s", result)
    return result


def sync_sources(db: Database, sources: Iterable[Source]) -> None:
    store.sync_sources(db, [(s.name, s.url, s.kind) for s in sources], iso(utcnow()))


async def run_cycle(ctx: Context, sources: Iterable[Source]) -> list[CheckResult]:
    """Check several sources concurrently; the fetcher keeps each host polite."""
    sources = list(sources)
    sync_sources(ctx.db, sources)
    return list(await asyncio.gather(*(check_source(ctx, s) for s in sources)))

