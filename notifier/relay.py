"""Drain the outbox: claim due deliveries, send each outside any transaction, mark it.

Deliveries to different targets are sent concurrently, so one slow or broken
SMTP server or webhook never holds up the others; deliveries to one target go
one after another.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from config import Settings
from db import Database, outbox
from db.outbox import OutboxRow
from notifier.base import Message, Notifier, NotifyError, PermanentError, Target, TransientError
from notifier.console import ConsoleNotifier
from notifier.email import EmailNotifier
from notifier.render import render
from notifier.webhook import WebhookNotifier
from scraper.timeutil import backoff, iso, later, utcnow

log = logging.getLogger("clusterwatch.notifier")
LEASE_SECONDS = 3600  # longer than a relay run can take (CLAIM_LIMIT sends per target, each with its timeout)
CLAIM_LIMIT = 50


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
                                                           user_agent=settings.user_agent)}
    if settings.smtp is not None:
        out["email"] = EmailNotifier(settings.smtp)
    return out


async def relay_once(settings: Settings, db: Database, *, notifiers: dict[str, Notifier] | None = None,
                     now: datetime | None = None) -> RelayReport:
    """Send every due delivery once. Returns what happened.

    ``now`` fixes the clock (tests, a fake clock): rows due at ``now`` are
    claimed and retries are scheduled from it. Without it the wall clock is used.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    start = clock()
    own = notifiers is None
    notifiers = build_notifiers(settings) if notifiers is None else notifiers
    report = RelayReport()
    try:
        rows = outbox.claim_due(db, now=iso(start), lease_until=later(start, LEASE_SECONDS), limit=CLAIM_LIMIT)
        groups: dict[str, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            groups[row.channel].append(row)
        route = targets(settings)
        await asyncio.gather(*(_send_group(settings, db, group, route, notifiers, report, clock)
                               for group in groups.values()))
    finally:
        if own:
            for n in notifiers.values():
                await n.aclose()
    return report


async def _send_group(settings: Settings, db: Database, rows: list[OutboxRow],
                      route: dict[tuple[str, str], Target], notifiers: dict[str, Notifier],
                      report: RelayReport, clock: Callable[[], datetime]) -> None:
    for row in rows:
        await _send_one(settings, db, row, route, notifiers, report, clock)


async def _send_one(settings: Settings, db: Database, row: OutboxRow, route: dict[tuple[str, str], Target],
                    notifiers: dict[str, Notifier], report: RelayReport, clock: Callable[[], datetime]) -> None:
    target = route.get((row.subscriber, row.channel))
    try:
        if target is None:
            raise PermanentError(f"subscriber {row.subscriber!r} has no channel {row.channel!r} any more")
        notifier = notifiers.get(target.kind)
        if notifier is None:
            raise PermanentError(f"no notifier for {target.kind!r} (is [smtp] configured?)")
        message = _render(row)
        await notifier.send(target, message)
    except PermanentError as e:
        _dead(db, row, str(e), report)
    except TransientError as e:
        _retry(settings, db, row, str(e), e.retry_after, report, clock)
    except NotifyError as e:  # pragma: no cover - subclasses above cover every raise
        _retry(settings, db, row, str(e), None, report, clock)
    except Exception as e:  # a notifier bug must neither crash the relay nor strand the row in 'sending'
        log.exception("delivery %s to %s/%s raised unexpectedly", row.key, row.subscriber, row.channel)
        _retry(settings, db, row, f"unexpected error: {type(e).__name__}: {e}", None, report, clock)
    else:
        outbox.mark_sent(db, row.id, now=iso(clock()))
        report.sent += 1
        log.info("delivered %s to %s/%s", row.key, row.subscriber, row.channel)


def _render(row: OutboxRow) -> Message:
    try:
        message = render(key=row.key, event_type=row.event_type, event_key=row.event_key,
                         created_at=row.event_created_at, payload=row.payload)
    except Exception as e:  # a bug or a poison payload must not crash the relay
        raise PermanentError(f"cannot render the alert: {type(e).__name__}: {e}") from None
    if not message.text.strip() or not message.subject.strip():
        raise PermanentError("the rendered alert is empty; not sending it")
    return message


def _dead(db: Database, row: OutboxRow, error: str, report: RelayReport) -> None:
    outbox.mark_dead(db, row.id, error=error)
    report.dead += 1
    log.error("delivery %s to %s/%s is dead: %s", row.key, row.subscriber, row.channel, error)


def _retry(settings: Settings, db: Database, row: OutboxRow, error: str, retry_after: float | None,
           report: RelayReport, clock: Callable[[], datetime]) -> None:
    d = settings.delivery
    if row.attempts + 1 >= d.max_attempts:
        _dead(db, row, f"gave up after {row.attempts + 1} attempts: {error}", report)
        return
    delay = backoff(row.attempts, base=d.backoff_base, cap=d.backoff_max)
    if retry_after is not None:
        delay = max(delay, min(retry_after, d.backoff_max))
    outbox.schedule_retry(db, row.id, error=error, next_attempt_at=later(clock(), delay))
    report.retried += 1
    log.warning("delivery %s to %s/%s failed (attempt %d), retrying in %.0fs: %s",
                row.key, row.subscriber, row.channel, row.attempts + 1, delay, error)
