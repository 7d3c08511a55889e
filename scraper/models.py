"""Frozen dataclasses that cross module boundaries.

``config`` owns the settings objects (Source, Subscriber, ...); this module owns
what flows through the pipeline:

    Fetched --parse--> ListItem --detail page--> Detail
    ListItem + Detail --diff--> Announcement --> Event --> PlannedDelivery (outbox row)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Fetched:
    """One HTTP response, body already read within the size cap."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float
    text: str = ""  # decoded body, filled by the fetcher via scraper.decode
    encoding: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class ListItem:
    """One entry on a list page."""

    url: str
    title: str
    date: str | None = None  # ISO YYYY-MM-DD when it could be read


@dataclass(frozen=True)
class Request:
    """A GET an adapter asks the pipeline to make (adapters never do I/O themselves)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. Referer, X-Requested-With
    conditional: bool = False  # may carry the stored ETag / Last-Modified (the list's first page only)
    adapter: str | None = None  # which adapter parses the answer; None = the source's own


@dataclass(frozen=True)
class ListPage:
    """What an adapter read from one list response."""

    items: tuple[ListItem, ...]
    adapter: str  # what parsed it, e.g. "hanweb-jpage" or "auto: hanweb-jpage"
    next: Request | None = None  # the request for the following page, if there is one
    total: int | None = None  # the site's own item count, when the page states it


@dataclass(frozen=True)
class Attachment:
    url: str
    text: str


@dataclass(frozen=True)
class Detail:
    """What a detail page says about itself (meta tags first, visible page second)."""

    url: str
    title: str | None
    pub_date: str | None
    source: str | None  # ContentSource: the issuing office
    column: str | None
    body: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Announcement:
    """An announcement as stored: list item merged with its detail page."""

    key: str
    source: str
    url: str
    title: str
    pub_date: str | None
    content_hash: str
    body: str = ""
    issuer: str | None = None
    detail_error: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class FetchRecord:
    """One ``fetches`` row, kept with its check until the check's own transaction writes it."""

    source: str | None
    url: str
    purpose: str
    started_at: str
    status: int | None
    bytes: int | None
    duration: float
    outcome: str  # ok, not-modified, blocked, broken, error
    error: str | None


@dataclass(frozen=True)
class StoredFile:
    """One attachment download: its hash and size, or why it failed."""

    announcement_key: str
    url: str
    text: str
    sha256: str | None = None
    bytes: int | None = None
    content_type: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Event:
    """Something subscribers may be told about. ``key`` is deterministic."""

    key: str
    type: str
    source: str
    announcement_key: str | None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedDelivery:
    """One outbox row to be written with its event: event x subscriber x channel."""

    key: str  # idempotency key, also webhook-id and Message-ID local part
    event_key: str
    subscriber: str
    channel: str  # channel id, e.g. "email:a@example.org", "webhook:3f2a...", "console"
