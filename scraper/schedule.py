"""The daemon's scheduler; the only module that imports APScheduler.

Each source gets its own interval or cron job (``coalesce=True``,
``max_instances=1``, a generous misfire grace time, a little jitter), plus one
job that drains the delivery outbox. SIGTERM / SIGINT stop new runs, wait for
the checks in flight, then exit.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import undefined

from config import Settings, Source
from db.store import source_state
from notifier.relay import relay_once
from scraper.feeds import write_feeds
from scraper.pipeline import Context, check_source, sync_sources
from scraper.timeutil import parse_iso

log = logging.getLogger("clusterwatch.daemon")
MISFIRE_GRACE = 300
SHUTDOWN_GRACE = 60.0


def trigger_for(source: Source, tz: str) -> CronTrigger | IntervalTrigger:
    zone = ZoneInfo(tz)
    if source.cron:
        return CronTrigger.from_crontab(source.cron, timezone=zone)
    assert source.interval
    return IntervalTrigger(seconds=source.interval, timezone=zone, jitter=min(60, source.interval // 10))


def is_due(source: Source, last_checked_at: str | None, now: datetime, tz: str) -> bool:
    """Has the source's schedule fired since it was last checked?"""
    if last_checked_at is None:
        return True
    last = parse_iso(last_checked_at)
    if source.interval:
        # last_checked_at is when the check STARTED; allow a little slack so a cron
        # tick of the same period is never skipped because of clock jitter.
        slack = min(60.0, source.interval * 0.05)
        return now >= last + timedelta(seconds=source.interval - slack)
    nxt = trigger_for(source, tz).get_next_fire_time(None, last.astimezone(ZoneInfo(tz)))
    return nxt is not None and nxt <= now


def next_run(source: Source, last_checked_at: str | None, backoff_until: str | None, now: datetime,
             tz: str) -> datetime | None:
    """When the source will next be checked (None when disabled)."""
    if not source.enabled:
        return None
    if last_checked_at is None:
        due = now
    elif source.interval:
        due = parse_iso(last_checked_at) + timedelta(seconds=source.interval)
    else:
        fire = trigger_for(source, tz).get_next_fire_time(None, parse_iso(last_checked_at).astimezone(ZoneInfo(tz)))
        due = fire if fire is not None else now
    if backoff_until:
        due = max(due, parse_iso(backoff_until))
    return max(due, now)


class Daemon:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.inflight: set[asyncio.Task[object]] = set()
        self.stop = asyncio.Event()

    async def _tracked(self, coro) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.current_task()
        assert task is not None
        self.inflight.add(task)
        try:
            await coro
        except Exception:  # a bug in one job must not kill the daemon
            log.exception("job failed")
        finally:
            self.inflight.discard(task)

    async def check(self, source: Source) -> None:
        await self._tracked(check_source(self.ctx, source))
        write_feeds(self.ctx.settings, self.ctx.db)  # [feeds]: logs its failures, never raises

    async def relay(self) -> None:
        async def _relay() -> None:
            report = await relay_once(self.ctx.settings, self.ctx.db, stop=self.stop)
            if report.sent or report.retried or report.dead:
                log.info("deliveries: %s", report)
        await self._tracked(_relay())

    def build(self) -> AsyncIOScheduler:
        s: Settings = self.ctx.settings
        sched = AsyncIOScheduler(timezone=ZoneInfo(s.timezone), job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE})
        now = datetime.now(ZoneInfo(s.timezone))
        for source in s.sources:
            if not source.enabled:
                continue
            # Catch up at start when the source is already due (e.g. after downtime).
            state = source_state(self.ctx.db, source.name)
            first = now if is_due(source, state.last_checked_at if state else None, now, s.timezone) else None
            sched.add_job(self.check, trigger_for(source, s.timezone), args=[source], id=f"source:{source.name}",
                          name=f"check {source.name}", replace_existing=True, next_run_time=first or undefined)
        sched.add_job(self.relay, IntervalTrigger(seconds=s.delivery.interval), id="relay", name="deliver",
                      next_run_time=now, replace_existing=True)
        return sched

    async def run(self) -> None:
        sync_sources(self.ctx.db, self.ctx.settings.sources)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        sched = self.build()
        sched.start()
        log.info("daemon started: %d sources", len(sched.get_jobs()) - 1)
        await self.stop.wait()
        log.info("stopping: waiting for %d job(s) in flight", len(self.inflight))
        sched.pause()
        if self.inflight:
            await asyncio.wait(set(self.inflight), timeout=SHUTDOWN_GRACE)
        sched.shutdown(wait=False)
        await asyncio.sleep(0)
        log.info("stopped")
