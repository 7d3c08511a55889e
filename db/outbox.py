"""The delivery outbox: claim due rows, then mark each one as it completes.

Sends happen outside any transaction. A row is ``pending`` -> ``sending``
(leased) -> ``sent`` | ``pending`` again (retry scheduled) | ``dead``.
A ``sending`` row whose lease expired (the relay crashed mid-send) is claimable
again: the only window for a duplicate, and it carries the same key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from db.connection import write


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    subscriber: str
    channel: str
    attempts: int
    event_key: str
    event_type: str
    event_created_at: str
    payload: dict[str, Any]


def claim_due(db: Database, *, now: str, lease_until: str, limit: int = 200) -> list[OutboxRow]:
    """Lease up to ``limit`` due deliveries and return them with their event."""
    with write(db):
        ids = [
            r[0]
            for r in db.execute(
                "SELECT id FROM deliveries WHERE (status = 'pending' AND next_attempt_at <= ?) "
                "OR (status = 'sending' AND lease_until < ?) ORDER BY next_attempt_at, id LIMIT ?",
                [now, now, limit],
            )
        ]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        db.execute(
            f"UPDATE deliveries SET status = 'sending', lease_until = ? WHERE id IN ({marks})",
            [lease_until, *ids],
        )
        rows = db.execute(
            "SELECT d.id, d.key, d.subscriber, d.channel, d.attempts, e.key, e.type, e.created_at, e.payload "
            f"FROM deliveries d JOIN events e ON e.key = d.event_key WHERE d.id IN ({marks}) ORDER BY d.id",
            ids,
        ).fetchall()
    return [OutboxRow(*r[:8], payload=json.loads(r[8])) for r in rows]


def mark_sent(db: Database, row_id: int, *, now: str) -> None:
    with write(db):
        db.execute(
            "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
            "lease_until = NULL, last_error = NULL WHERE id = ?",
            [now, row_id],
        )


def schedule_retry(db: Database, row_id: int, *, error: str, next_attempt_at: str) -> None:
    with write(db):
        db.execute(
            "UPDATE deliveries SET status = 'pending', attempts = attempts + 1, next_attempt_at = ?, "
            "lease_until = NULL, last_error = ? WHERE id = ?",
            [next_attempt_at, error, row_id],
        )


def release(db: Database, ids: list[int], *, next_attempt_at: str | None = None) -> None:
    """Give leased rows back untouched (no attempt counted), optionally due later."""
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    with write(db):
        db.execute(
            f"UPDATE deliveries SET status = 'pending', lease_until = NULL, "
            f"next_attempt_at = COALESCE(?, next_attempt_at) WHERE id IN ({marks}) AND status = 'sending'",
            [next_attempt_at, *ids],
        )


def deliveries(db: Database) -> list[dict[str, Any]]:
    """All deliveries, oldest first (for tests and ``status``)."""
    cur = db.execute(
        "SELECT id, key, event_key, subscriber, channel, status, attempts, next_attempt_at, last_error, sent_at "
        "FROM deliveries ORDER BY id"
    )
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def disabled(db: Database) -> dict[tuple[str, str], str]:
    """(subscriber, channel) -> why it is disabled."""
    return {(r[0], r[1]): f"{r[3]} (since {r[2]})" for r in db.execute("SELECT * FROM disabled_endpoints")}


def disable(db: Database, subscriber: str, channel: str, *, now: str, reason: str) -> bool:
    """Stop using an endpoint; True when it was not disabled before."""
    with write(db):
        cur = db.execute("INSERT OR IGNORE INTO disabled_endpoints (subscriber, channel, disabled_at, reason) "
                         "VALUES (?, ?, ?, ?)", [subscriber, channel, now, reason])
    return bool(cur.rowcount)


def enable(db: Database, subscriber: str, channel: str) -> None:
    with write(db):
        db.execute("DELETE FROM disabled_endpoints WHERE subscriber = ? AND channel = ?", [subscriber, channel])


def listing(db: Database, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Deliveries with their event's title, newest first (``deliveries`` command)."""
    where, args = ("WHERE d.status = ?", [status]) if status else ("", [])
    cur = db.execute(
        "SELECT d.id, d.status, d.attempts, d.subscriber, d.channel, d.key, e.type, "
        "json_extract(e.payload, '$.title') AS title, d.next_attempt_at, d.sent_at, d.last_error "
        f"FROM deliveries d JOIN events e ON e.key = d.event_key {where} ORDER BY d.id DESC LIMIT ?",
        [*args, limit])
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def requeue(db: Database, *, ids: list[int] | None = None, dead: bool = False, now: str) -> int:
    """Put deliveries back in the queue with the SAME key (so a receiver can still dedupe)."""
    with write(db):
        if dead:
            cur = db.execute("UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                             "lease_until = NULL WHERE status = 'dead'", [now])
        else:
            marks = ",".join("?" * len(ids or []))
            cur = db.execute(f"UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                             f"lease_until = NULL WHERE id IN ({marks}) AND status IN ('dead', 'pending')",
                             [now, *(ids or [])])
    return cur.rowcount


def queue_summary(db: Database, *, dead_since: str | None = None) -> dict[str, int]:
    """Deliveries waiting (pending or being sent) and dead ones (given up since ``dead_since``, or ever)."""
    waiting = db.execute("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')").fetchone()[0]
    if dead_since is None:
        dead = db.execute("SELECT count(*) FROM deliveries WHERE status = 'dead'").fetchone()[0]
    else:
        dead = db.execute("SELECT count(*) FROM deliveries WHERE status = 'dead' AND next_attempt_at >= ?",
                          [dead_since]).fetchone()[0]
    return {"waiting": waiting, "dead": dead}
