"""Decide what is new. Pure functions over frozen dataclasses.

* An item's identity is its source plus its canonical URL (reliability.md 2.2 rule 8).
* New = current keys - seen keys: independent of order, pagination and layout.
* Additions only: an item that drops off the list is not news, and an empty
  list is a failed check, never "everything was removed".
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Mapping, Sequence

from scraper.models import Announcement, Detail, Event, ListItem
from scraper.text import canonical_url, clean

NEW_ANNOUNCEMENT = "announcement.new"


def item_key(source: str, url: str) -> str:
    """Stable announcement key: ``sha256(source + canonical URL without its scheme)``, 24 hex digits.

    The scheme is left out so a site moving from http to https (common for
    government sites) does not make every item look new.
    """
    bare = canonical_url(url).split("://", 1)[-1]
    return hashlib.sha256(f"{source}\n{bare}".encode()).hexdigest()[:24]


def keyed(source: str, items: Iterable[ListItem]) -> dict[str, ListItem]:
    """Items by key, first occurrence wins (lists sometimes repeat a pinned item)."""
    out: dict[str, ListItem] = {}
    for item in items:
        out.setdefault(item_key(source, item.url), item)
    return out


def new_keys(current: Sequence[str], seen: set[str]) -> list[str]:
    """Keys in ``current`` that were never seen, in page order."""
    return [k for k in current if k not in seen]


def too_many_new(new: int, total: int) -> bool:
    """The mass-change breaker's threshold: more than max(5, half the page) new at once."""
    return new > max(5, total // 2)


def content_hash(*parts: str | None) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(clean(p or "").encode())
        h.update(b"\x1f")
    return h.hexdigest()


def announcement(source: str, key: str, item: ListItem, detail: Detail | None,
                 detail_error: str | None = None) -> Announcement:
    """Merge a list item with its detail page (the detail page's meta tags win)."""
    title = (detail.title if detail and detail.title else None) or item.title
    pub_date = (detail.pub_date if detail else None) or item.date
    body = detail.body if detail else ""
    return Announcement(
        key=key, source=source, url=item.url, title=title, pub_date=pub_date,
        content_hash=content_hash(title, pub_date, body), body=body,
        issuer=detail.source if detail else None, detail_error=detail_error,
        attachments=detail.attachments if detail else (),
    )


def event_for(a: Announcement, extra: Mapping[str, Any] | None = None) -> Event:
    """The ``announcement.new`` event; its key depends only on the announcement key.

    ``extra`` adds what the announcement was understood to mean (program, stage, entities).
    """
    payload = {
        "source": a.source,
        "url": a.url,
        "title": a.title,
        "pub_date": a.pub_date,
        "issuer": a.issuer,
        "excerpt": a.body[:500],
        "attachments": [{"url": x.url, "text": x.text} for x in a.attachments],
        "detail_error": a.detail_error,
        **(extra or {}),
    }
    return Event(key=f"{NEW_ANNOUNCEMENT}:{a.key}", type=NEW_ANNOUNCEMENT, source=a.source,
                 announcement_key=a.key, payload=payload)
