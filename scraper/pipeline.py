"""Check one source end to end. ``run --once``, ``backfill`` and the daemon all call it.

    sources row ─> read_list (first request, conditional GET; next pages) ─> ListItems
        │                                                                       │
        │   validity gate: no items / much smaller than usual ─> "broken"       │
        │            seen keys (db) ─> diff.new_keys <─ diff.keyed ─────────────┘
        │                       │  mass-change breaker: too many at once ─> held until the next check agrees
        │        fetch + parse detail pages of the new items
        └── store.commit_check: announcements + events + deliveries, ONE transaction
                                │
                notifier.relay_once (later, outside any transaction)

Only a valid check touches content. A blocked, broken or failed check bumps the
source's failure counter, clears its validators and changes nothing else: it
never reads as "every item was removed" and never alerts a subscriber.
Operators hear once when a source keeps failing and once when it recovers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from config import Settings, Source
from db import Database, store
from db.store import SourceState
from notifier.routing import plan
from scraper import analyse, diff, downloads, faults, health
from scraper.errors import Blocked, Broken, FetchError, ParseError, ScraperError
from scraper.context import Context, FetchLog, fetch_logged
from scraper.listing import ListRead, read_list
from scraper.archive import Archive
from scraper.models import Announcement, Detail, Event, ListItem, StoredFile
from scraper import understand
from scraper.understand import Understanding
from scraper.parse import parse_detail
from scraper.timeutil import iso, parse_iso, utcnow

log = logging.getLogger("clusterwatch.pipeline")

SUCCESS_OUTCOMES = ("baseline", "new", "unchanged", "not-modified", "held", "backfilled")
FAILURE_OUTCOMES = ("blocked", "broken", "error")


@dataclass(frozen=True)
class CheckResult:
    """What one check of one source did."""

    source: str
    outcome: str  # SUCCESS_OUTCOMES, FAILURE_OUTCOMES or "skipped"
    items: int = 0
    new: int = 0
    deliveries: int = 0
    error: str | None = None
    adapter: str | None = None
    pages: int = 0  # list pages read (backfill)

    @property
    def ok(self) -> bool:
        return self.outcome in SUCCESS_OUTCOMES

    def __str__(self) -> str:
        if self.outcome == "skipped" or not self.ok:
            return f"{self.source}: {self.outcome}: {self.error}"
        if self.outcome == "backfilled":
            return f"{self.source}: backfilled ({self.pages} pages, {self.items} items, {self.new} added to history)"
        return f"{self.source}: {self.outcome} ({self.items} items, {self.new} new, {self.deliveries} deliveries)"


@dataclass
class _Run:
    """One check's working state: its source, its start and the fetch rows it wrote."""

    source: Source
    state: SourceState | None
    started: datetime
    log: FetchLog = field(default_factory=FetchLog)

    @property
    def failures(self) -> int:
        return self.state.consecutive_failures if self.state else 0


async def check_source(ctx: Context, source: Source, *, force: bool = False) -> CheckResult:
    """Check one source. Never raises: every failure becomes a recorded outcome."""
    run = _Run(source, store.source_state(ctx.db, source.name), utcnow())
    if not force and run.state and run.state.backoff_until and parse_iso(run.state.backoff_until) > run.started:
        return CheckResult(source.name, "skipped", error=f"blocked earlier; backing off until {run.state.backoff_until}")
    try:
        return await _check(ctx, run)
    except Blocked as e:
        return _failed(ctx, run, "blocked", str(e))
    except ParseError as e:
        run.log.mark_broken("list", str(e))
        return _failed(ctx, run, "broken", str(e))
    except Broken as e:
        return _failed(ctx, run, "broken", str(e))
    except FetchError as e:
        return _failed(ctx, run, "error", str(e))
    except Exception as e:  # a bug or a database problem: isolate it to this source, keep the traceback
        log.critical("%s: unexpected error", source.name, exc_info=True)
        return _failed(ctx, run, "error", f"internal error: {type(e).__name__}: {e}")


async def _check(ctx: Context, run: _Run) -> CheckResult:
    source, state = run.source, run.state
    conditional = state is not None and run.failures == 0
    if source.ignore_robots:
        log.warning("%s: robots.txt is IGNORED for this source (ignore_robots = true in the config)", source.name)
    listing = await read_list(
        functools.partial(fetch_logged, ctx, source.name, purpose="list", log=run.log,
                          obey_robots=not source.ignore_robots), source,
        etag=state.etag if conditional and state else None,
        last_modified=state.last_modified if conditional and state else None,
    )
    if listing.not_modified:
        events = _recovery(ctx, run)
        store.record_unchanged(ctx.db, source.name, now=iso(run.started), outcome="not-modified", events=events,
                               deliveries=plan(events, ctx.settings.subscribers), fetches=run.log.take())
        return _done(CheckResult(source.name, "not-modified", adapter=listing.adapter))
    problem = validity_problem(listing, state, ctx.settings.health.shrink_ratio)
    if problem:
        run.log.mark_broken("list", problem)
        return _failed(ctx, run, "broken", problem)
    return await _store_list(ctx, run, listing)


def validity_problem(listing: ListRead, state: SourceState | None, shrink_ratio: float) -> str | None:
    """Why a 200 list is not usable content, or None. (Challenges and maintenance pages never get here.)"""
    url = listing.first.final_url
    if not listing.items:
        return f"{url}: the list has no items (adapter {listing.adapter})"
    size, usual = len(listing.first.body), state.last_ok_bytes if state else None
    if usual and size < usual * shrink_ratio:
        return f"{url}: the page is {size} bytes, far smaller than the usual {usual}"
    return None


async def _store_list(ctx: Context, run: _Run, listing: ListRead) -> CheckResult:
    source, state = run.source, run.state
    items = diff.keyed(source.name, listing.items)
    keys = list(items)
    seen = store.known_keys(ctx.db, source.name, keys)
    new = diff.new_keys(keys, seen)
    baseline = state is None or state.baseline_at is None
    silent = baseline and source.baseline == "silent"
    if not baseline and diff.too_many_new(len(new), len(keys)):
        held = _hold(ctx, run, new, len(keys))
        if held:
            return held
    k = analyse.knowledge(ctx.settings)
    if silent:
        pairs = [(diff.announcement(source.name, key, items[key], None), None) for key in new]
        understood = {a.key: analyse.title_only(a, k) for a, _ in pairs}
        files: list[StoredFile] = []
    else:
        pairs = await _understand(ctx, run, [(key, items[key]) for key in new], referer=listing.first.final_url)
        understood, files = await _analyse(ctx, run, pairs, k)
    announcements = [a for a, _ in pairs]
    events = [] if silent else [diff.event_for(a, understand.payload(a, understood[a.key])) for a in announcements]
    if not silent:
        states = store.batch_states(ctx.db, [u.batch_key for u in understood.values() if u.batch_key])
        events += analyse.batch_events([(a, understood[a.key]) for a in announcements], states)
    texts = {e.key: _search_text(e, announcements, understood) for e in events}
    events_all = events + _recovery(ctx, run)
    deliveries = plan(events_all, ctx.settings.subscribers, texts, k.regions)
    outcome = "baseline" if baseline else ("new" if new else "unchanged")
    first = listing.first
    wrote = store.commit_check(
        ctx.db, source=source.name, now=iso(run.started), seen_keys=[k for k in keys if k in seen],
        announcements=announcements, events=events_all, deliveries=deliveries, baseline=silent,
        etag=_validator(first.headers.get("etag")), last_modified=_validator(first.headers.get("last-modified")),
        outcome=outcome, list_bytes=len(first.body), adapter=listing.adapter, files=files, fetches=run.log.take(),
        understood=understood,
    )
    faults.point("after_commit")
    if not baseline:
        await downloads.recheck(ctx, source, [k for k in keys if k in seen])
    return _done(CheckResult(source.name, outcome, len(keys), wrote.new_announcements, wrote.deliveries,
                             adapter=listing.adapter))


def _hold(ctx: Context, run: _Run, new: list[str], total: int) -> CheckResult | None:
    """Mass-change breaker: a check announcing most of the page at once (a layout change that
    re-keys every item, a restored old database) is held until the next valid check agrees."""
    fingerprint = hashlib.sha256("\n".join(sorted(new)).encode()).hexdigest()[:32]
    if run.state and run.state.quarantine == fingerprint:
        log.warning("%s: the next check agrees on %d new items; announcing them", run.source.name, len(new))
        return None
    events = _recovery(ctx, run)  # a held check is a valid one: a failing streak ends here too
    store.set_quarantine(ctx.db, run.source.name, now=iso(run.started), fingerprint=fingerprint, outcome="held",
                         fetches=run.log.take(), events=events, deliveries=plan(events, ctx.settings.subscribers))
    error = f"{len(new)} of {total} items look new at once; held until the next check agrees"
    log.warning("%s: %s", run.source.name, error)
    return CheckResult(run.source.name, "held", total, 0, 0, error=error)


def _validator(value: str | None) -> str | None:
    """An ETag / Last-Modified worth sending back: printable ASCII only (httpx refuses anything else)."""
    if value and value.isascii() and value.isprintable() and len(value) <= 200:
        return value
    return None


async def _analyse(ctx: Context, run: _Run, pairs: list[tuple[Announcement, Detail | None]],
                   k: "analyse.Knowledge") -> tuple[dict[str, Understanding], list[StoredFile]]:
    """Download each new announcement's attachments, then classify it and collect its entities."""
    archive = Archive.beside(ctx.settings.database)
    understood: dict[str, Understanding] = {}
    files: list[StoredFile] = []
    for a, detail in pairs:
        got = await downloads.download(ctx, run.source, a.key, a.attachments, a.url, run.log) if a.attachments else []
        understood[a.key], parsed = analyse.analyse(a, detail, got, archive, k)
        files += parsed
    return understood, files


def _search_text(event: Event, announcements: list[Announcement], understood: dict[str, Understanding]) -> str:
    """What keyword filters search: title, body and entity names."""
    a = next((x for x in announcements if x.key == event.announcement_key), None)
    if a is None:
        return ""
    u = understood.get(a.key)
    names = " ".join(e.name for e in u.entities) if u else ""
    return f"{a.title}\n{a.body}\n{names}"


async def _understand(ctx: Context, run: _Run, new: list[tuple[str, ListItem]],
                      referer: str) -> list[tuple[Announcement, Detail | None]]:
    """Follow new items to their detail pages (at most ``max_new_details`` per check).

    A failed detail page still alerts, with the list entry only. After a block,
    no further detail pages are requested from that site in this check.
    """
    source = run.source
    out = []
    blocked: str | None = None
    for i, (key, item) in enumerate(new):
        detail: Detail | None = None
        error: str | None = blocked
        if source.follow_details and i < source.max_new_details and blocked is None:
            try:
                fetched = await fetch_logged(ctx, source.name, item.url, purpose="detail", referer=referer,
                                             log=run.log, obey_robots=not source.ignore_robots)
                detail = parse_detail(fetched.text, fetched.final_url)
            except ScraperError as e:
                error = str(e)
                blocked = f"not fetched: the site blocked an earlier detail page ({e})" if isinstance(e, Blocked) else None
                log.warning("%s: detail page failed, alerting with the list entry only: %s", source.name, e)
        out.append((diff.announcement(source.name, key, item, detail, error), detail))
    return out


def _recovery(ctx: Context, run: _Run) -> list[Event]:
    state = run.state
    if state is None:
        return []
    ev = health.recovered_event(run.source.name, run.source.url, failures_before=state.consecutive_failures,
                                since=state.failing_since, now=iso(run.started),
                                threshold=ctx.settings.health.failures_before_alert,
                                streak=store.failing_alerts(ctx.db, run.source.name))
    return [ev] if ev else []


def _failed(ctx: Context, run: _Run, outcome: str, error: str) -> CheckResult:
    """Record a failed check (no content touched); tell operators once when the streak reaches the limit."""
    source, now = run.source, iso(run.started)
    count = run.failures + 1
    since = run.state.failing_since if run.state and run.state.failing_since else now
    ev = health.failing_event(source.name, source.url, failures=count, since=since, outcome=outcome, error=error,
                              threshold=ctx.settings.health.failures_before_alert,
                              streak=store.failing_alerts(ctx.db, source.name) + 1)
    events = [ev] if ev else []
    backoff = None
    if outcome == "blocked":
        blocks = count if run.state is not None and run.state.last_outcome == "blocked" else 1
        backoff = health.blocked_backoff(ctx.settings.health, blocks, run.started)
    try:
        count = store.record_failure(ctx.db, source.name, now=now, outcome=outcome, error=error, events=events,
                                     deliveries=plan(events, ctx.settings.subscribers), backoff_until=backoff,
                                     fetches=run.log.take())
    except Exception:  # the database itself is the problem: report, do not crash the cycle
        log.critical("%s: could not record the failure", source.name, exc_info=True)
    result = CheckResult(source.name, outcome, error=error)
    log.warning("%s (%d in a row)", result, count)
    return result


def _done(result: CheckResult) -> CheckResult:
    log.info("%s", result)
    return result


async def backfill(ctx: Context, source: Source, *, pages: int, details: bool = False) -> CheckResult:
    """Walk ``pages`` list pages once and store what was never seen, silently: history, no alerts.

    It does not touch the source's health or validators; a failure is reported, not counted.
    """
    run = _Run(source, store.source_state(ctx.db, source.name), utcnow())
    try:
        listing = await read_list(functools.partial(fetch_logged, ctx, source.name, purpose="backfill", log=run.log,
                                                    obey_robots=not source.ignore_robots), source, pages=pages)
    except ScraperError as e:
        store.record_fetches(ctx.db, run.log.take())
        return CheckResult(source.name, "error", error=str(e))
    items = diff.keyed(source.name, listing.items)
    new = diff.new_keys(list(items), store.known_keys(ctx.db, source.name, list(items)))
    pairs = [(k, items[k]) for k in new]
    if details:
        every = dataclasses.replace(source, max_new_details=max(1, len(pairs)))
        announcements = [a for a, _ in await _understand(ctx, dataclasses.replace(run, source=every), pairs,
                                                         referer=listing.first.final_url)]
    else:
        announcements = [diff.announcement(source.name, k, item, None) for k, item in pairs]
    added = store.record_history(ctx.db, announcements, now=iso(run.started), fetches=run.log.take())
    return _done(CheckResult(source.name, "backfilled", len(items), added, 0, adapter=listing.adapter,
                             pages=listing.pages))


def sync_sources(db: Database, sources: Iterable[Source], settings: "Settings | None" = None) -> None:
    store.sync_sources(db, [(s.name, s.url, s.kind) for s in sources], iso(utcnow()))
    if settings is not None:
        registry = analyse.knowledge(settings).registry
        store.sync_programs(db, [(p.key, p.name, p.name_en, p.level) for p in registry.programs])


async def run_cycle(ctx: Context, sources: Iterable[Source], *, force: bool = False) -> list[CheckResult]:
    """Check several sources concurrently; the fetcher keeps each host polite. One source never stops another."""
    sources = list(sources)
    sync_sources(ctx.db, sources, ctx.settings)
    return list(await asyncio.gather(*(check_source(ctx, s, force=force) for s in sources)))
