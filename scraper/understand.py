"""From a stored announcement to what it means: its batch, its entities, its events. Pure.

    classify(title, body) ─> Classification ─> batch key (program | level | year | batch | review)
    tables + numbered lines + attachments ─> Entities (region, city, category, role)
    batch state (db) + the above ─> events:
        new_batch          the first time a program x batch/year is seen
        stage_advanced     a batch that had a notice (公示) now has its final list
        selections_added   entities not seen before in this batch, with their regions
        list_changed       the final list differs from its notice: who was added, who dropped
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from scraper.models import Announcement, Classification, Entity, Event

NEW_BATCH = "new_batch"
STAGE_ADVANCED = "stage_advanced"
SELECTIONS_ADDED = "selections_added"
LIST_CHANGED = "list_changed"
NOT_PUBLIC = ("名单另行下发", "另行下发各地", "名单另行通知", "不再公开", "不予公开")


@dataclass(frozen=True)
class Understanding:
    classification: Classification
    entities: tuple[Entity, ...] = ()
    list_public: bool = True  # False when the body says the list goes out separately (T15)
    count_stated: int | None = None
    count_problem: str | None = None

    @property
    def batch_key(self) -> str | None:
        return batch_key(self.classification)


@dataclass(frozen=True)
class BatchState:
    """What the database already knows about one batch."""

    key: str
    exists: bool = False
    notice_announcement: str | None = None
    final_announcement: str | None = None
    notice_entities: frozenset[str] = field(default_factory=frozenset)
    known_entities: frozenset[str] = field(default_factory=frozenset)


def batch_key(c: Classification) -> str | None:
    """A batch's identity, or None when the announcement names no program or no batch/year."""
    if not c.program or (c.batch is None and c.year is None) or c.stage in ("call", "other"):
        return None
    return "|".join([c.program, c.level or "", str(c.year or ""), str(c.batch or ""), "review" if c.review else "new"])


def list_public(body: str) -> bool:
    return not any(marker in body for marker in NOT_PUBLIC)


def events_for(a: Announcement, u: Understanding, state: BatchState | None) -> list[Event]:
    """The batch events one newly stored announcement causes (besides its announcement.new)."""
    key = u.batch_key
    if key is None:
        return []
    state = state or BatchState(key)
    names = {e.name for e in u.entities}
    out = []
    if not state.exists:
        out.append(_event(NEW_BATCH, f"{NEW_BATCH}:{key}", a, u, u.entities))
    if u.classification.stage == "final" and state.notice_announcement and not state.final_announcement:
        out.append(_event(STAGE_ADVANCED, f"{STAGE_ADVANCED}:{key}", a, u, u.entities,
                          notice_announcement=state.notice_announcement))
    added = [e for e in u.entities if e.name not in state.known_entities]
    if added:
        out.append(_event(SELECTIONS_ADDED, f"{SELECTIONS_ADDED}:{a.key}", a, u, tuple(added)))
    if u.classification.stage == "final" and state.notice_entities and names and names != state.notice_entities:
        out.append(_event(LIST_CHANGED, f"{LIST_CHANGED}:{key}:{a.key}", a, u, u.entities,
                          added=sorted(names - state.notice_entities),
                          removed=sorted(state.notice_entities - names)))
    return out


def _event(kind: str, key: str, a: Announcement, u: Understanding, entities: Sequence[Entity],
           **extra: object) -> Event:
    return Event(key=key, type=kind, source=a.source, announcement_key=a.key,
                 payload={**payload(a, u, entities), **extra})


def payload(a: Announcement, u: Understanding, entities: Sequence[Entity] | None = None) -> dict[str, object]:
    """Everything an alert needs: program, level, stage, batch, year, issuer, link and the entities."""
    c = u.classification
    ents = u.entities if entities is None else entities
    return {
        "source": a.source, "title": a.title, "url": a.url, "pub_date": a.pub_date, "issuer": a.issuer,
        "program": c.program, "program_name": c.program_name, "level": c.level, "stage": c.stage,
        "review": c.review, "batch": c.batch, "year": c.year, "region": c.region,
        "list_public": u.list_public, "count_stated": u.count_stated, "count_problem": u.count_problem,
        "entities": [{"name": e.name, "region": e.region, "city": e.city, "category": e.category, "role": e.role}
                     for e in ents],
        "excerpt": a.body[:500],
        "attachments": [{"url": x.url, "text": x.text} for x in a.attachments],
    }
