"""Understand new announcements: classify them, collect their entities, plan their batch events.

Runs inside a check, after the detail pages and attachments were fetched and
before the check's transaction. Pure except for reading archived attachment
bytes; every attachment failure is recorded on that attachment only.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Sequence

from config import Settings
from config.programs import Registry, load_registry
from config.regions import Regions, load_regions
from scraper import entities as ents
from scraper import understand
from scraper.archive import Archive
from scraper.attachments import AttachmentError, read_tables
from scraper.classify import classify, extract_core_areas
from scraper.models import Announcement, Detail, Entity, Event, StoredFile
from scraper.understand import BatchState, Understanding

log = logging.getLogger("clusterwatch.analyse")


@dataclasses.dataclass(frozen=True)
class Knowledge:
    """The registry and the region table, built once per process."""

    registry: Registry
    regions: Regions


_KNOWLEDGE: dict[int, Knowledge] = {}


def knowledge(settings: Settings) -> Knowledge:
    """Built once per settings object (the registry and regions do not change while it lives)."""
    k = _KNOWLEDGE.get(id(settings))
    if k is None:
        k = _KNOWLEDGE[id(settings)] = Knowledge(load_registry(settings.programs), load_regions(settings.regions))
    return k


def title_only(a: Announcement, k: Knowledge) -> Understanding:
    """For a silent baseline: what the title alone says (no detail page was read)."""
    return Understanding(classify(a.title, None, k.registry))


def analyse(a: Announcement, detail: Detail | None, files: Sequence[StoredFile], archive: Archive,
            k: Knowledge) -> tuple[Understanding, list[StoredFile]]:
    """Classification and entities of one announcement; returns the files with their parse results."""
    c = classify(a.title, a.body or None, k.registry)
    found: list[Entity] = []
    if detail is not None:
        role = ents.role_of(a.title)  # a 复核通过 page lists review_passed entities
        found += ents.from_tables(detail.tables, regions=k.regions, role=role, provenance="page")
        found += ents.from_lines(detail.body, regions=k.regions, role=role, provenance="page")
        found += core_areas(detail.body, k, role)
    parsed = []
    for f in files:
        f, more = _from_file(f, archive, k)
        parsed.append(f)
        found += more
    entities = tuple(ents.unique(found))
    stated = ents.stated_count(a.body) if a.body else None
    problem = ents.check_count(stated, len(entities)) if stated and entities else None
    public = understand.list_public(a.body)
    return Understanding(c, entities, public, stated, problem), parsed


# English names of Jiaxing's county-level units, as English reports write them.
_ENGLISH_PLACES = {"jiashan county": "嘉善县", "pinghu city": "平湖市", "haining city": "海宁市",
                   "tongxiang city": "桐乡市", "haiyan county": "海盐县", "nanhu district": "南湖区",
                   "xiuzhou district": "秀洲区", "jiaxing city": "嘉兴市", "jiaxing": "嘉兴市"}


def core_areas(text: str, k: Knowledge, role: str = "new") -> list[Entity]:
    """English reports: "X was selected/chosen as the core area for Y" -> Y, located in X."""
    out = []
    for place, cluster in extract_core_areas(text):
        region, city = k.regions.locate(_ENGLISH_PLACES.get(place.lower(), place))
        out.append(Entity(name=cluster, raw_name=f"{place}: {cluster}", region=region or place, city=city,
                          category="core area", role=role, row=None, provenance="page"))
    return out


def _from_file(f: StoredFile, archive: Archive, k: Knowledge) -> tuple[StoredFile, list[Entity]]:
    if not f.sha256:
        return f, []
    try:
        tables = read_tables(archive.path_for(f.sha256).read_bytes(), f.text or f.url)
    except (AttachmentError, OSError) as e:
        log.warning("attachment %s not read: %s", f.url, e)
        return dataclasses.replace(f, parse_error=str(e)), []
    found = ents.from_tables(tables, regions=k.regions, role=ents.role_of(f.text),
                             provenance=f"attachment:{f.sha256}")
    return dataclasses.replace(f, entities=len(found)), found


def batch_events(pairs: Sequence[tuple[Announcement, Understanding]], states: dict[str, BatchState]) -> list[Event]:
    out: list[Event] = []
    for a, u in pairs:
        key = u.batch_key
        out += understand.events_for(a, u, states.get(key) if key else None)
    return out
