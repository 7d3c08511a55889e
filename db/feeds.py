"""Reading events for Atom feeds: newest first, with the announcement text keyword filters search."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from sqlite_utils import Database

PAGE = 200


@dataclass(frozen=True)
class FeedEvent:
    """One ``events`` row, with its announcement's title and body when it has one."""

    id: int
    key: str
    type: str
    source: str | None
    announcement_key: str | None
    created_at: str
    payload: Mapping[str, Any]
    title: str | None  # announcements.title
    body: str | None  # announcements.body


def newest_events(db: Database, types: Sequence[str], sources: Sequence[str] = (),
                  page: int = PAGE) -> Iterator[FeedEvent]:
    """Events of these ``types`` (and ``sources``, when given), newest first.

    Read in pages (keyset on created_at, id), so a caller that filters in Python and
    stops at its limit reads only what it needs and never holds a statement open.
    """
    if not types:
        return
    where = [f"e.type IN ({','.join('?' * len(types))})"]
    params: list[Any] = list(types)
    if sources:
        where.append(f"e.source IN ({','.join('?' * len(sources))})")
        params += list(sources)
    after: tuple[str, int] | None = None
    while True:
        cond, args = list(where), list(params)
        if after is not None:
            cond.append("(e.created_at < ? OR (e.created_at = ? AND e.id < ?))")
            args += [after[0], after[0], after[1]]
        rows = db.execute(
            "SELECT e.id, e.key, e.type, e.source, e.announcement_key, e.created_at, e.payload, a.title, a.body "
            "FROM events e LEFT JOIN announcements a ON a.key = e.announcement_key "
            f"WHERE {' AND '.join(cond)} ORDER BY e.created_at DESC, e.id DESC LIMIT ?",
            [*args, page],
        ).fetchall()
        for r in rows:
            yield FeedEvent(id=r[0], key=r[1], type=r[2], source=r[3], announcement_key=r[4], created_at=r[5],
                            payload=_payload(r[6]), title=r[7], body=r[8])
        if len(rows) < page:
            return
        after = (rows[-1][5], rows[-1][0])


def known_sources(db: Database) -> set[str]:
    """Source names the database knows: configured once, or named by an event."""
    rows = db.execute("SELECT name FROM sources UNION SELECT source FROM events WHERE source IS NOT NULL")
    return {r[0] for r in rows}


def _payload(raw: str | None) -> Mapping[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
