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
    tables: tuple["Table", ...] = ()  # HTML tables in the body, as text rows (see scraper.parse.tables)


# One table as text: rows of cell strings, merged cells expanded, empty rows dropped.
Table = tuple[tuple[str, ...], ...]

STAGES = ("call", "notice", "final", "revocation", "evaluation", "other")
LEVELS = ("national", "provincial", "municipal", "county")
ROLES = ("new", "review_passed", "renamed", "review_failed", "removed")


@dataclass(frozen=True)
class Cohort:
    """One batch / year inside a (possibly mixed) title, with its own stage."""

    batch: int | None
    year: int | None
    review: bool
    stage: str
    support_year: int | None = None  # 第二批第二年 -> batch 2, support_year 2


@dataclass(frozen=True)
class Classification:
    """What a title (and body) announces. ``as_dict()`` has exactly the documented keys."""

    program: str | None  # a registry key, e.g. "sme-cluster"
    program_name: str | None  # the phrase as written, normalised
    level: str | None  # LEVELS
    stage: str  # STAGES
    review: bool
    batch: int | None
    year: int | None
    cohorts: tuple[Cohort, ...]
    region: str | None  # the issuing region, e.g. 浙江省, 嘉兴市, 平湖市

    def as_dict(self) -> dict[str, object]:
        return {
            "program": self.program, "program_name": self.program_name, "level": self.level,
            "stage": self.stage, "review": self.review, "batch": self.batch, "year": self.year,
            "cohorts": [dict(batch=c.batch, year=c.year, review=c.review, stage=c.stage) for c in self.cohorts],
            "region": self.region,
        }


@dataclass(frozen=True)
class Entity:
    """One selected enterprise, cluster, park or area."""

    name: str  # normalised
    raw_name: str  # as written
    region: str | None  # the most specific place known, e.g. 平湖市
    city: str | None  # its prefecture-level city, e.g. 嘉兴市 (None for national lists outside Zhejiang)
    category: str | None  # tier or group heading, e.g. 核心区, 协同区
    role: str  # ROLES
    row: int | None  # row number (序号, else position) in its table or list
    provenance: str  # "page" or "attachment:<sha256>"


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
    error: str | None = None  # why the download failed
    parse_error: str | None = None  # why the downloaded file could not be read as a list
    entities: int | None = None  # entities read from it


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
    channel: str  # channel id, e.g. "email:a@example.org", "webhook", "console"
    not_before: str | None = None  # digest subscribers: the next digest time (UTC ISO)
