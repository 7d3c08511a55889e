"""Atom 1.0 feeds (RFC 4287) of announcement events.

:func:`render_feed` is pure: stored events in, UTF-8 XML bytes out. The same events always give
the same bytes, so a feed file is rewritten only when something new happened. :func:`select`
reads the events a :class:`FeedFilter` wants, routing them with :func:`notifier.routing.matches`,
so a subscriber's feed holds exactly what that subscriber is alerted about.

    >>> doc = render_feed([], feed_id=feed_id(FeedFilter()), title="clusterwatch: all announcements")
    >>> doc.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    True

Scraped text is untrusted: it goes into the document only through ElementTree (which escapes
``<``, ``&`` and quotes), characters XML 1.0 forbids (C0 controls, lone surrogates, U+FFFE/FFFF)
are dropped, titles are one line, and links are limited to http(s). Source-health and
dead-delivery events never appear in a feed: feeds hold public announcements only.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from config.programs import load_registry
from config.regions import Regions, load_regions
from config.settings import Filters, Settings, Subscriber
from config.subscribers import EVENT_TYPES
from db import Database
from db.feeds import FeedEvent, newest_events
from notifier.render import header_safe, render, safe_link
from notifier.routing import DEFAULT_EVENT_TYPES, OPERATOR_EVENTS, matches
from scraper.models import Event

ATOM_NS = "http://www.w3.org/2005/Atom"
# Every event type a feed may hold: all but the operators' service alerts.
FEED_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if t not in OPERATOR_EVENTS)
# Without --type, what a subscriber without `event_types` gets: one entry per announcement plus
# revisions; the batch events (new_batch, stage_advanced, ...) are opt-in, as for alerts.
DEFAULT_TYPES: tuple[str, ...] = tuple(t for t in FEED_TYPES if t in DEFAULT_EVENT_TYPES)
DEFAULT_LIMIT = 50
EMPTY_UPDATED = "1970-01-01T00:00:00Z"  # a feed with no entries still needs <updated>; fixed, so it never churns
TITLE_MAX = 300
# Entry and feed ids are name-based UUIDs (RFC 4122 version 5) under this namespace: valid
# URNs, and the same event or the same filters always give the same id.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/clusterwatch/clusterwatch/feeds")
# Not allowed in XML 1.0 (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF), plus DEL and
# the C1 controls, which XML discourages and no announcement needs.
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_SUBJECT_TAG = "[clusterwatch] "
_FOOTER = "-- clusterwatch\n"


@dataclass(frozen=True)
class FeedFilter:
    """What a feed holds. Each non-empty tuple means "any of these"; all combine with AND.

    ``subscriber``: also exactly what that subscriber is alerted about (its filters, its event types).
    Without ``types``: ``DEFAULT_TYPES`` (as for a subscriber without ``event_types``), or with a
    subscriber, that subscriber's event types.
    """

    programs: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    subscriber: Subscriber | None = None

    def canonical(self) -> str:
        """The filters as sorted JSON: equal filters give equal text (and the same feed id)."""
        return json.dumps({"programs": sorted(self.programs), "regions": sorted(self.regions),
                           "sources": sorted(self.sources), "types": sorted(self.types),
                           "subscriber": self.subscriber.name if self.subscriber else None},
                          ensure_ascii=False, sort_keys=True)


def feed_id(flt: FeedFilter) -> str:
    """``urn:uuid:…``, stable for the same filters (a subscriber's feed: for the same name)."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, 'feed:' + flt.canonical())}"


def entry_id(event_key: str) -> str:
    """``urn:uuid:…`` derived from the event's deterministic key: the same in every feed, every run."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, 'event:' + event_key)}"


def feed_title(flt: FeedFilter, program_names: Mapping[str, str] | None = None) -> str:
    """``clusterwatch: 中小企业特色产业集群; 嘉兴市`` or ``clusterwatch: all announcements``."""
    names = program_names or {}
    parts = []
    if flt.subscriber is not None:
        parts.append(f"subscriber {flt.subscriber.name}")
    if flt.programs:
        parts.append(" / ".join(names.get(k, k) for k in flt.programs))
    if flt.regions:
        parts.append(" / ".join(flt.regions))
    if flt.sources:
        parts.append("source " + ", ".join(flt.sources))
    if flt.types:
        parts.append("events " + ", ".join(flt.types))
    return "clusterwatch: " + ("; ".join(parts) if parts else "all announcements")


def select(db: Database, flt: FeedFilter, limit: int = DEFAULT_LIMIT,
           regions: Regions | None = None) -> list[FeedEvent]:
    """The newest ``limit`` events the filter wants, newest first.

    Matching is :func:`notifier.routing.matches`, with the same keyword text the pipeline
    uses (title, body and entity names), so region containment (嘉兴市 covers 平湖市),
    keywords and event types behave as they do for alerts.
    """
    types = flt.types or (FEED_TYPES if flt.subscriber is not None else DEFAULT_TYPES)  # routing narrows a subscriber's
    probe = Subscriber(name="feed", channels=(), filters=Filters(
        sources=flt.sources, programs=flt.programs, regions=flt.regions, event_types=types))
    out: list[FeedEvent] = []
    for row in newest_events(db, types, flt.sources):
        event = Event(row.key, row.type, row.source or "", row.announcement_key, row.payload)
        text = _keyword_text(row)
        if not matches(probe, event, text, regions):
            continue
        if flt.subscriber is not None and not matches(flt.subscriber, event, text, regions):
            continue
        out.append(row)
        if len(out) >= limit:
            break
    return out


def _keyword_text(row: FeedEvent) -> str | None:
    """What keyword filters search, as in the pipeline: title, body and entity names."""
    if row.title is None:
        return None  # matches() falls back to the payload's title and excerpt
    names = " ".join(str(e.get("name") or "") for e in row.payload.get("entities") or [] if isinstance(e, dict))
    return f"{row.title}\n{row.body or ''}\n{names}"


class Feeds:
    """Builds feed documents for one config (its program registry and places loaded once)."""

    def __init__(self, settings: Settings):
        self.registry = load_registry(settings.programs)
        self.regions = load_regions(settings.regions)

    def program_names(self) -> dict[str, str]:
        return {p.key: p.name for p in self.registry}

    def document(self, db: Database, flt: FeedFilter, limit: int = DEFAULT_LIMIT) -> bytes:
        """Select and render: the whole Atom document for ``flt``."""
        events = select(db, flt, limit, self.regions)
        focus = (*(flt.subscriber.filters.regions if flt.subscriber else ()), *flt.regions)
        return render_feed(events, feed_id=feed_id(flt), title=feed_title(flt, self.program_names()),
                           focus=tuple(dict.fromkeys(focus)), regions=self.regions)


def render_feed(events: Sequence[FeedEvent], *, feed_id: str, title: str,
                focus: Sequence[str] = (), regions: Regions | None = None) -> bytes:
    """An Atom document, UTF-8: one entry per event, in the order given (newest first).

    ``focus``: regions whose entities are counted in entry titles and listed first (as in email).
    """
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": "zh-CN"})
    _add(feed, "id", feed_id)
    _add(feed, "title", header_safe(title, TITLE_MAX), type="text")
    stamps = [_datetime(e.created_at) for e in events]
    _add(feed, "updated", max(stamps) if stamps else EMPTY_UPDATED)
    author = _add(feed, "author")
    _add(author, "name", "clusterwatch")
    _add(feed, "generator", "clusterwatch")
    for event in events:
        _entry(feed, event, focus, regions)
    ET.indent(feed, space="  ")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _entry(feed: ET.Element, event: FeedEvent, focus: Sequence[str], regions: Regions | None) -> None:
    p = _legal(event.payload)
    msg = render(key=event.key, event_type=event.type, event_key=event.key, created_at=event.created_at,
                 payload=p, focus=focus, regions=regions)
    head = msg.subject.removeprefix(_SUBJECT_TAG)
    name = header_safe(str(p.get("title") or ""), TITLE_MAX)
    title = f"{head}：{name}" if p.get("program_name") and name else head

    entry = _add(feed, "entry")
    _add(entry, "id", entry_id(event.key))
    _add(entry, "title", header_safe(title, TITLE_MAX), type="text")
    _add(entry, "updated", _datetime(event.created_at))
    if isinstance(p.get("pub_date"), str) and _DATE.fullmatch(p["pub_date"]):
        _add(entry, "published", f"{p['pub_date']}T00:00:00+08:00")  # a bureau's date is China time
    author = _add(entry, "author")
    _add(author, "name", header_safe(str(p.get("issuer") or event.source or "clusterwatch"), 200))
    link = safe_link(p.get("url"))
    if link:
        _add(entry, "link", rel="alternate", type="text/html", href=link)
    for att in _attachments(p.get("attachments")):
        _add(entry, "link", rel="related", href=att[0], title=att[1])
    _add(entry, "category", term=event.type)
    if p.get("program"):
        _add(entry, "category", term=str(p["program"]), label=header_safe(str(p.get("program_name") or ""), 200))
    if p.get("stage"):
        _add(entry, "category", term=str(p["stage"]))
    # The email's text part: fields, excerpt, the selected entities (the focus regions' first), attachments.
    _add(entry, "content", msg.text.removesuffix(_FOOTER).rstrip(), type="text")


def _attachments(raw: Any) -> Iterable[tuple[str, str]]:
    for a in raw if isinstance(raw, list) else []:
        url = safe_link(a.get("url")) if isinstance(a, dict) else None
        if url:
            yield url, header_safe(str(a.get("text") or ""), 200)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """A child element; its text and attribute values made legal XML 1.0 (ElementTree escapes them)."""
    el = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items() if v})
    if text is not None:
        el.text = xml_text(text)
    return el


def _legal(value: Any) -> Any:
    """The payload with every string made legal XML (and encodable: no lone surrogates)."""
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, dict):
        return {str(k): _legal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_legal(v) for v in value]
    return value


def xml_text(text: str) -> str:
    """``text`` without characters XML 1.0 forbids; CR and CRLF become LF."""
    return _NOT_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _datetime(value: str) -> str:
    return value if isinstance(value, str) and _DATETIME.fullmatch(value) else EMPTY_UPDATED
