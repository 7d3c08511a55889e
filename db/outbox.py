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
