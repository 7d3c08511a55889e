"""Events -> planned deliveries. Pure: runs inside the store's write transaction.

The idempotency key is derived only from subscriber, channel and event, so a
repeated cycle, an overlapping cycle or a restored backup can never mint a
second key for the same alert.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from config import Subscriber
from config.regions import Regions
from scraper.models import Event, PlannedDelivery

# Events about the service itself rather than about announcements; only operators get them.
OPERATOR_EVENTS = frozenset({"source.failing", "source.recovered", "delivery.dead"})
# What a subscriber without an `event_types` filter gets: one alert per announcement (its payload
# carries the program, stage, batch and entities) plus revisions. The finer batch events
# (new_batch, stage_advanced, selections_added, list_changed) are opt-in, so nobody gets three
# messages about one page.
DEFAULT_EVENT_TYPES = frozenset({"announcement.new", "announcement_revised", "attachment_replaced"}) | OPERATOR_EVENTS


def delivery_key(subscriber: str, channel: str, event_key: str) -> str:
    """``msg_`` + 32 hex digits; safe as a webhook-id and a Message-ID local part."""
    digest = hashlib.sha256(f"{subscriber}\x1f{channel}\x1f{event_key}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def fold(text: str) -> str:
    """Normalise for keyword matching: NFKC (full-width forms), case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def matches(sub: Subscriber, event: Event, text: str | None = None, regions: Regions | None = None) -> bool:
    """All filters combined with AND; an empty filter matches everything.

    ``text`` is what keywords search (title, body and entity names); without it,
    the payload's title and excerpt. ``regions`` resolves region containment
    (嘉兴市 covers 平湖市); without it only exact names match.
    """
    f = sub.filters
    operator_event = event.type in OPERATOR_EVENTS
    if operator_event and not sub.operator:
        return False  # source health and dead deliveries are for operators only
    if f.sources and event.source not in f.sources:
        return False
    if event.type not in (f.event_types or DEFAULT_EVENT_TYPES):
        return False
    if operator_event:
        return True  # the announcement filters below do not apply to service alerts
    p = event.payload
    if (f.programs and p.get("program") not in f.programs) or (f.levels and p.get("level") not in f.levels) \
            or (f.stages and p.get("stage") not in f.stages):
        return False
    if f.regions and not any(_within(place, area, regions) for area in f.regions for place in places(event)):
        return False
    if f.entities and not _names(event, f.entities):
        return False
    if f.keywords:
        if text is None:
            names = [str(e.get("name") or "") for e in p.get("entities") or []]
            text = " ".join([str(p.get("title") or ""), str(p.get("excerpt") or ""), *names])
        haystack = fold(text)
        if not any(fold(k) in haystack for k in f.keywords):
            return False
    return True


def places(event: Event) -> list[str]:
    """Where an event happens: its issuing region and every selected entity's region and city."""
    p = event.payload
    out = [p.get("region")] + [x for e in p.get("entities") or [] for x in (e.get("region"), e.get("city"))]
    return [x for x in out if isinstance(x, str) and x]


def _within(place: str, area: str, regions: Regions | None) -> bool:
    if place == area:
        return True
    return regions.contains(area, place) if regions is not None else False


def _names(event: Event, wanted: Sequence[str]) -> bool:
    names = [fold(str(e.get("name") or "")) for e in event.payload.get("entities") or []]
    names.append(fold(str(event.payload.get("title") or "")))
    return any(fold(w) in n for w in wanted for n in names)


def plan(events: Iterable[Event], subscribers: Sequence[Subscriber],
         texts: Mapping[str, str] | None = None, regions: Regions | None = None,
         now: datetime | None = None) -> list[PlannedDelivery]:
    """One planned delivery per matching event x subscriber x channel (x email recipient).

    ``texts`` maps an event key to the full text its keywords are matched against.
    """
    out: list[PlannedDelivery] = []
    for event in events:
        text = texts.get(event.key) if texts else None
        for sub in subscribers:
            if not matches(sub, event, text, regions):
                continue
            due = next_digest(sub, now) if sub.mode == "digest" and event.type not in OPERATOR_EVENTS else None
            for channel in sub.channels:
                for cid in channel.ids():
                    out.append(PlannedDelivery(delivery_key(sub.name, cid, event.key), event.key, sub.name, cid, due))
    return out


def next_digest(sub: Subscriber, now: datetime | None = None) -> str:
    """The next ``digest_at`` in the subscriber's time zone, as UTC ISO (when its digest goes out)."""
    tz = ZoneInfo(sub.timezone)
    local = (now or datetime.now(timezone.utc)).astimezone(tz)
    hour, minute = (int(x) for x in sub.digest_at.split(":"))
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at <= local:
        at += timedelta(days=1)
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
