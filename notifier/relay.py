"""Drain the outbox: claim due deliveries, send each outside any transaction, mark it.

Deliveries to different targets are sent concurrently, so one slow or broken
SMTP server or webhook never holds up the others; deliveries to one target go
one after another.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from config import Settings
from config.regions import Regions, load_regions
from db import Database, outbox, store
from db.outbox import OutboxRow
from notifier.base import Message, Notifier, PermanentError, Target, TransientError
from notifier.console import ConsoleNotifier
from notifier.dingtalk import DingTalkNotifier
from notifier.email import EmailNotifier
from notifier.feishu import FeishuNotifier
from notifier.render import render, render_digest
from notifier.routing import OPERATOR_EVENTS, plan
from notifier.slack import SlackNotifier
from notifier.webhook import WebhookNotifier
from notifier.wecom import WeComNotifier
from scraper import faults
from scraper.models import Event
from scraper.timeutil import backoff, iso, later, utcnow

log = logging.getLogger("clusterwatch.notifier")
LEASE_SECONDS = 3600  # longer than a relay run can take (CLAIM_LIMIT sends per target, each with its timeout)
CLAIM_LIMIT = 50
DELIVERY_DEAD = "delivery.dead"


@dataclass
class RelayReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.dead} dead"


def targets(settings: Settings) -> dict[tuple[str, str], Target]:
    """(subscriber, channel id) -> Target, from the current config."""
    out: dict[tuple[str, str], Target] = {}
    for sub in settings.subscribers:
        for ch in sub.channels:
            for cid, addr in zip(ch.ids(), ch.to or (None,)):
                out[(sub.name, cid)] = Target(kind=ch.kind, address=addr, url=ch.url,
                                              secrets=tuple(s.reveal() for s in ch.secrets))
    return out


def build_notifiers(settings: Settings) -> dict[str, Notifier]:
    out: dict[str, Notifier] = {"console": ConsoleNotifier(),
                                "webhook": WebhookNotifier(timeout=settings.delivery.webhook_timeout,
                                                           user_agent=settings.user_agent,
                                                           network=settings.network)}
    used = {c.kind for s in settings.subscribers for c in s.channels}  # each client loads the CA bundle: only build used ones
    for chat in (DingTalkNotifier, WeComNotifier, FeishuNotifier, SlackNotifier):  # group bots (docs/chat.md)
        if chat.kind in used:
            out[chat.kind] = chat(timeout=settings.delivery.webhook_timeout, user_agent=settings.user_agent,
                                  network=settings.network)
    if settings.smtp is not None:
        out["email"] = EmailNotifier(settings.smtp)
    return out


async def relay_once(settings: Settings, db: Database, *, notifiers: dict[str, Notifier] | None = None,
                     now: datetime | None = None, stop: asyncio.Event | None = None) -> RelayReport:
    """Send every due delivery once. Returns what happened.

    ``now`` fixes the clock (tests, a fake clock): rows due at ``now`` are
    claimed and retries are scheduled from it. ``stop`` (the daemon's shutdown
    signal) ends the run between sends: rows not yet attempted are released
    untouched, and a send already under way is finished and recorded.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    relay = _Relay(settings, db, build_notifiers(settings) if notifiers is None else notifiers, clock,
                   stop or asyncio.Event())
    try:
        start = clock()
        rows = outbox.claim_due(db, now=iso(start), lease_until=later(start, LEASE_SECONDS), limit=CLAIM_LIMIT)
        groups: dict[object, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            groups[relay.group_of(row)].append(row)
        results = await asyncio.gather(*(relay.send_group(g) for g in groups.values()), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):  # e.g. the database failed while marking a row
                log.error("a delivery group failed: %s: %s", type(r).__name__, r)
    finally:
        if notifiers is None:  # only after every group has finished with the shared clients
            for n in relay.notifiers.values():
                await n.aclose()
    return relay.report


class _Relay:
    def __init__(self, settings: Settings, db: Database, notifiers: dict[str, Notifier],
                 clock: Callable[[], datetime], stop: asyncio.Event):
        self.settings, self.db, self.notifiers, self.clock, self.stop = settings, db, notifiers, clock, stop
        self.route = targets(settings)
        self.report = RelayReport()
        self.subscribers = {s.name: s for s in settings.subscribers}
        self.disabled = outbox.disabled(db)
        self.regions = load_regions(settings.regions) if any(s.filters.regions for s in settings.subscribers) else None

    def group_of(self, row: OutboxRow) -> object:
        """Rows to the same place go one after another; different places in parallel.
        A digest subscriber's rows for one channel form one group: they go out as one message."""
        if self._digest(row):
            return ("digest", row.subscriber, row.channel)
        t = self.route.get((row.subscriber, row.channel))
        return (t.kind, t.address, t.url) if t else (row.subscriber, row.channel)

    def _digest(self, row: OutboxRow) -> bool:
        sub = self.subscribers.get(row.subscriber)
        return sub is not None and sub.mode == "digest" and row.event_type not in OPERATOR_EVENTS

    async def send_group(self, rows: list[OutboxRow]) -> None:
        if rows and self._digest(rows[0]):
            await asyncio.shield(self.send_digest(rows))
            return
        for i, row in enumerate(rows):
            if self.stop.is_set():
                outbox.release(self.db, [r.id for r in rows[i:]])
                return
            down = await asyncio.shield(self.send_one(row))  # a send under way is finished and recorded
            if down is not None:  # the target is unreachable: do not hammer it, try the rest later
                outbox.release(self.db, [r.id for r in rows[i + 1:]], next_attempt_at=down)
                return

    async def send_one(self, row: OutboxRow) -> str | None:
        """Send one row and record the result. Returns the retry time when the target itself is down."""
        target = self.route.get((row.subscriber, row.channel))
        try:
            off = self.disabled.get((row.subscriber, row.channel))
            if off:
                raise PermanentError(f"endpoint disabled: {off}")
            if target is None:  # config edited: hold the delivery (it dies only after max_attempts)
                raise TransientError(f"subscriber {row.subscriber!r} has no channel {row.channel!r} in the config")
            notifier = self.notifiers.get(target.kind)
            if notifier is None:
                raise TransientError(f"no notifier for {target.kind!r} (is [smtp] configured?)")
            sub = self.subscribers.get(row.subscriber)
            message = _render(row, sub.filters.regions if sub else (), self.regions)
            if sub is not None and sub.list_unsubscribe:
                message = dataclasses.replace(message, list_unsubscribe=sub.list_unsubscribe)
            faults.point("before_send")
            await notifier.send(target, message)
            faults.point("after_send")
        except PermanentError as e:
            if e.disable:
                self._disable(row, str(e))
            self._dead(row, str(e))
        except TransientError as e:
            when = self._retry(row, str(e), e.retry_after)
            return when if e.target_down else None
        except Exception as e:  # a notifier bug must neither crash the relay nor strand the row in 'sending'
            log.exception("delivery %s to %s/%s raised unexpectedly", row.key, row.subscriber, row.channel)
            self._retry(row, f"unexpected error: {type(e).__name__}: {e}", None)
        else:
            outbox.mark_sent(self.db, row.id, now=iso(self.clock()))
            self.report.sent += 1
            log.info("delivered %s to %s/%s", row.key, row.subscriber, row.channel)
        return None

    async def send_digest(self, rows: list[OutboxRow]) -> None:
        """Send a digest subscriber's due rows for one channel as ONE message, then mark them all.

        The message key is derived from the rows' own keys, so a retried digest keeps its id.
        """
        first = rows[0]
        key = "msg_" + hashlib.sha256("\x1f".join(sorted(r.key for r in rows)).encode()).hexdigest()[:32]
        target = self.route.get((first.subscriber, first.channel))
        sub = self.subscribers[first.subscriber]
        try:
            if target is None or self.notifiers.get(target.kind) is None:
                raise TransientError(f"subscriber {first.subscriber!r} has no usable channel {first.channel!r}")
            message = render_digest(key=key, items=[(r.event_type, r.event_key, r.payload) for r in rows],
                                    created_at=iso(self.clock()), focus=sub.filters.regions, regions=self.regions)
            await self.notifiers[target.kind].send(target, message)
        except PermanentError as e:
            for r in rows:
                self._dead(r, str(e))
        except Exception as e:  # transient, or a bug: every row of the digest waits for the next try
            for r in rows:
                self._retry(r, str(e), getattr(e, "retry_after", None))
        else:
            for r in rows:
                outbox.mark_sent(self.db, r.id, now=iso(self.clock()))
            self.report.sent += len(rows)
            log.info("digest %s with %d alerts delivered to %s/%s", key, len(rows), first.subscriber, first.channel)

    def _disable(self, row: OutboxRow, error: str) -> None:
        """The receiver said 410 Gone: stop using it (its other deliveries die at once) and tell operators."""
        now = iso(self.clock())
        self.disabled[(row.subscriber, row.channel)] = f"{error} (since {now})"
        if outbox.disable(self.db, row.subscriber, row.channel, now=now, reason=error):
            ev = Event(key=f"{DELIVERY_DEAD}:disabled:{row.subscriber}:{row.channel}:{now}", type=DELIVERY_DEAD,
                       source=row.payload.get("source"), announcement_key=None,
                       payload={"title": f"endpoint {row.channel} of {row.subscriber} is disabled: {error}",
                                "subscriber": row.subscriber, "channel": row.channel, "error": error})
            store.record_events(self.db, [ev], plan([ev], self.settings.subscribers), now=now)
        log.error("endpoint %s/%s disabled: %s", row.subscriber, row.channel, error)

    def _dead(self, row: OutboxRow, error: str) -> None:
        """Give up on one delivery, and tell the operators (unless that was itself an operator alert)."""
        now = iso(self.clock())
        events = [] if row.event_type == DELIVERY_DEAD else [_dead_event(row, error)]
        store.mark_dead_and_record(self.db, row.id, error=error, now=now, events=events,
                                   deliveries=plan(events, self.settings.subscribers))
        self.report.dead += 1
        log.error("delivery %s to %s/%s is dead: %s", row.key, row.subscriber, row.channel, error)

    def _retry(self, row: OutboxRow, error: str, retry_after: float | None) -> str | None:
        d = self.settings.delivery
        if row.attempts + 1 >= d.max_attempts:
            self._dead(row, f"gave up after {row.attempts + 1} attempts: {error}")
            return None
        delay = backoff(row.attempts, base=d.backoff_base, cap=d.backoff_max)
        if retry_after is not None:
            delay = max(delay, min(retry_after, d.backoff_max))
        when = later(self.clock(), delay)
        outbox.schedule_retry(self.db, row.id, error=error, next_attempt_at=when)
        self.report.retried += 1
        log.warning("delivery %s to %s/%s failed (attempt %d), retrying in %.0fs: %s",
                    row.key, row.subscriber, row.channel, row.attempts + 1, delay, error)
        return when


def _dead_event(row: OutboxRow, error: str) -> Event:
    title = str(row.payload.get("title") or row.event_key)
    return Event(key=f"{DELIVERY_DEAD}:{row.key}", type=DELIVERY_DEAD, source=row.payload.get("source"),
                 announcement_key=None,
                 payload={"title": f"an alert could not be delivered to {row.subscriber}: {title}",
                          "subscriber": row.subscriber, "channel": row.channel, "delivery_key": row.key,
                          "error": error[:500], "url": row.payload.get("url")})


def _render(row: OutboxRow, focus: Sequence[str] = (), regions: Regions | None = None) -> Message:
    try:
        message = render(key=row.key, event_type=row.event_type, event_key=row.event_key,
                         created_at=row.event_created_at, payload=row.payload, focus=focus, regions=regions)
    except Exception as e:  # a bug or a poison payload must not crash the relay
        raise PermanentError(f"cannot render the alert: {type(e).__name__}: {e}") from None
    if not message.text.strip() or not message.subject.strip():
        raise PermanentError("the rendered alert is empty; not sending it")
    return message
