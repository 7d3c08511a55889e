"""Events -> planned deliveries. Pure: runs inside the store's write transaction.

The idempotency key is derived only from subscriber, channel and event, so a
repeated cycle, an overlapping cycle or a restored backup can never mint a
second key for the same alert.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

from config import Subscriber
from scraper.models import Event, PlannedDelivery


def delivery_key(subscriber: str, channel: str, event_key: str) -> str:
    """``msg_`` + 32 hex digits; safe as a webhook-id and a Message-ID local part."""
    digest = hashlib.sha256(f"{subscriber}\x1f{channel}\x1f{event_key}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def matches(sub: Subscriber, event: Event) -> bool:
    """All filters combined with AND; an empty filter matches everything."""
    f = sub.filters
    if f.sources and event.source not in f.sources:
        return False
    if f.event_types and event.type not in f.event_types:
        return False
    if f.keywords:
        haystack = " ".join(str(event.payload.get(k) or "") for k in ("title", "excerpt"))
        if not any(k in haystack for k in f.keywords):
            return False
    return True


def plan(events: Iterable[Event], subscribers: Sequence[Subscriber]) -> list[PlannedDelivery]:
    out: list[PlannedDelivery] = []
    for event in events:
        for sub in subscribers:
            if not matches(sub, event):
                continue
            for channel in sub.channels:
                for cid in channel.ids():
                    out.append(PlannedDelivery(delivery_key(sub.name, cid, event.key), event.key, sub.name, cid))
    return out
