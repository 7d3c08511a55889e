"""Sources, fetches, announcements and events. All of clusterwatch's SQL lives in db/."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping, Sequence

from sqlite_utils import Database

from db.connection import write
from scraper.models import Announcement, Event, FetchRecord, PlannedDelivery, StoredFile
from scraper.understand import BatchState, Understanding


@dataclass(frozen=True)
class SourceState:
    name: str
    last_checked_at: str | None
    last_ok_at: str | None
    baseline_at: str | None
    consecutive_failures: int
    etag: str | None
    last_modified: str | None
    last_outcome: str | None
    last_error: str | None
    failing_since: str | None = None
    backoff_until: str | None = None
    last_ok_bytes: int | None = None
    adapter_used: str | None = None
    quarantine: str | None = None


@dataclass(frozen=True)
class CheckWrite:
    """Counts of what one successful check wrote."""

    new_announcements: int
    events: int
    deliveries: int


def sync_sources(db: Database, sources: Iterable[tuple[str, str, str]], now: str) -> None:
    """Make sure every configured (name, url, kind) has a row; update url/kind if changed."""
    with write(db):
        for name, url, kind in sources:
            db.execute(
                "INSERT INTO sources (name, url, kind, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET url = excluded.url, kind = excluded.kind",
                [name, url, kind, now],
            )


def source_state(db: Database, name: str) -> SourceState | None:
    row = db.execute(
        "SELECT name, last_checked_at, last_ok_at, baseline_at, consecutive_failures, etag, "
        "last_modified, last_outcome, last_error, failing_since, backoff_until, last_ok_bytes, adapter_used, quarantine "
        "FROM sources WHERE name = ?",
        [name],
    ).fetchone()
    return SourceState(*row) if row else None


def record_fetches(db: Database, rows: Sequence[FetchRecord]) -> None:
    """Write fetch rows on their own (checks pass them to their outcome's transaction instead)."""
    if rows:
        with write(db):
            _insert_fetches(db, rows)


def _insert_fetches(db: Database, rows: Sequence[FetchRecord]) -> None:
    db.conn.executemany(
        "INSERT INTO fetches (source, started_at, url, purpose, status, bytes, duration, outcome, error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(r.source, r.started_at, r.url, r.purpose, r.status, r.bytes, r.duration, r.outcome, r.error) for r in rows],
    )


def record_failure(db: Database, name: str, *, now: str, outcome: str, error: str,
                   events: Sequence[Event] = (), deliveries: Sequence[PlannedDelivery] = (),
                   backoff_until: str | None = None, fetches: Sequence[FetchRecord] = ()) -> int:
    """A failed, blocked or broken check: bump the counter, touch no content. Returns the new count.

    The ETag is cleared so the next attempt sends no conditional GET (a 304
    after a failed run could hide a change; thp/urlwatch#292). Operator events
    (a source failing) and their deliveries go in the same transaction.
    """
    with write(db):
        db.execute(
            "UPDATE sources SET last_checked_at = ?, last_outcome = ?, last_error = ?, "
            "consecutive_failures = consecutive_failures + 1, etag = NULL, last_modified = NULL, "
            "failing_since = COALESCE(failing_since, ?), backoff_until = ? WHERE name = ?",
            [now, outcome, error, now, backoff_until, name],
        )
        _insert_fetches(db, fetches)
        _insert_events(db, events, deliveries, now)
        row = db.execute("SELECT consecutive_failures FROM sources WHERE name = ?", [name]).fetchone()
    return int(row[0]) if row else 0


def record_unchanged(db: Database, name: str, *, now: str, outcome: str,
                     events: Sequence[Event] = (), deliveries: Sequence[PlannedDelivery] = (),
                     fetches: Sequence[FetchRecord] = ()) -> None:
    """A valid check that found nothing new (304, or an unchanged list): reset the counter."""
    with write(db):
        db.execute(
            "UPDATE sources SET last_checked_at = ?, last_ok_at = ?, last_outcome = ?, last_error = NULL, "
            "consecutive_failures = 0, failing_since = NULL, backoff_until = NULL WHERE name = ?",
            [now, now, outcome, name],
        )
        _insert_fetches(db, fetches)
        _insert_events(db, events, deliveries, now)


def record_events(db: Database, events: Sequence[Event], deliveries: Sequence[PlannedDelivery], *, now: str) -> None:
    with write(db):
        _insert_events(db, events, deliveries, now)


def mark_dead_and_record(db: Database, row_id: int, *, error: str, now: str, events: Sequence[Event],
                         deliveries: Sequence[PlannedDelivery]) -> None:
    """A delivery gives up; the operator alert about it is enqueued in the same transaction."""
    with write(db):
        db.execute("UPDATE deliveries SET status = 'dead', attempts = attempts + 1, lease_until = NULL, "
                   "last_error = ? WHERE id = ?", [error, row_id])
        _insert_events(db, events, deliveries, now)


def _insert_events(db: Database, events: Sequence[Event], deliveries: Sequence[PlannedDelivery],
                   now: str) -> tuple[int, int]:
    n_events = sum(_insert_event(db, e, now) for e in events)
    n_deliveries = sum(_insert_delivery(db, d, now) for d in deliveries)
    return n_events, n_deliveries


def set_quarantine(db: Database, name: str, *, now: str, fingerprint: str, outcome: str,
                   fetches: Sequence[FetchRecord] = (), events: Sequence[Event] = (),
                   deliveries: Sequence[PlannedDelivery] = ()) -> None:
    """A valid check that would announce too much at once: hold it until the next check agrees."""
    with write(db):
        db.execute(
            "UPDATE sources SET last_checked_at = ?, last_ok_at = ?, last_outcome = ?, last_error = NULL, "
            "consecutive_failures = 0, failing_since = NULL, backoff_until = NULL, quarantine = ? WHERE name = ?",
            [now, now, outcome, fingerprint, name],
        )
        _insert_fetches(db, fetches)
        _insert_events(db, events, deliveries, now)


def failing_alerts(db: Database, source: str) -> int:
    """How many failing streaks of this source have alerted operators (numbers the streaks)."""
    return int(db.execute("SELECT count(*) FROM events WHERE type = 'source.failing' AND source = ?",
                          [source]).fetchone()[0])


def known_keys(db: Database, source: str, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are already stored for ``source`` (the append-only seen set)."""
    found: set[str] = set()
    for chunk in _chunks(keys):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            f"SELECT key FROM announcements WHERE source = ? AND key IN ({marks})", [source, *chunk]
        )
        found.update(r[0] for r in rows)
    return found


def commit_check(
    db: Database, *, source: str, now: str, seen_keys: Sequence[str],
    announcements: Sequence[Announcement], events: Sequence[Event],
    deliveries: Sequence[PlannedDelivery], baseline: bool,
    etag: str | None, last_modified: str | None, outcome: str,
    list_bytes: int | None = None, adapter: str | None = None, files: Sequence[StoredFile] = (),
    fetches: Sequence[FetchRecord] = (), understood: Mapping[str, Understanding] | None = None,
) -> CheckWrite:
    """Store one valid check in a single transaction, before anything is sent.

    New announcements, their events and the deliveries those events cause are
    written together (transactional outbox). ``INSERT OR IGNORE`` on unique
    keys makes a repeated or overlapping cycle a no-op.
    """
    with write(db):
        _insert_fetches(db, fetches)
        new = sum(_insert_announcement(db, a, now, baseline) for a in announcements)
        for f in files:
            upsert_file(db, f, now)
        for a in announcements:
            if understood and a.key in understood:
                _insert_understanding(db, a, understood[a.key], now)
        for chunk in _chunks(seen_keys):
            db.execute(
                f"UPDATE announcements SET last_seen = ? WHERE source = ? AND key IN ({','.join('?' * len(chunk))})",
                [now, source, *chunk],
            )
        n_events, n_deliveries = _insert_events(db, events, deliveries, now)
        db.execute(
            "UPDATE sources SET last_checked_at = ?, last_ok_at = ?, last_outcome = ?, last_error = NULL, "
            "consecutive_failures = 0, failing_since = NULL, backoff_until = NULL, etag = ?, last_modified = ?, "
            "last_ok_bytes = ?, adapter_used = ?, quarantine = NULL, baseline_at = COALESCE(baseline_at, ?) "
            "WHERE name = ?",
            [now, now, outcome, etag, last_modified, list_bytes, adapter, now, source],
        )
    return CheckWrite(new, n_events, n_deliveries)


def upsert_file(db: Database, f: StoredFile, now: str) -> None:
    """Record an attachment download. A failed download keeps the last good hash."""
    db.execute(
        "INSERT INTO attachments (announcement_key, url, text, sha256, bytes, content_type, first_fetched, "
        "last_fetched, error, parse_error, entities) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(announcement_key, url) DO UPDATE SET text = excluded.text, "
        "sha256 = COALESCE(excluded.sha256, sha256), bytes = COALESCE(excluded.bytes, bytes), "
        "content_type = COALESCE(excluded.content_type, content_type), "
        "first_fetched = COALESCE(first_fetched, excluded.first_fetched), "
        "last_fetched = COALESCE(excluded.last_fetched, last_fetched), error = excluded.error, "
        "parse_error = excluded.parse_error, entities = COALESCE(excluded.entities, entities)",
        [f.announcement_key, f.url, f.text, f.sha256, f.bytes, f.content_type, now if f.sha256 else None,
         now if f.sha256 else None, f.error, f.parse_error, f.entities],
    )


def file_hashes(db: Database, announcement_key: str) -> dict[str, str | None]:
    return dict(db.execute("SELECT url, sha256 FROM attachments WHERE announcement_key = ?", [announcement_key]))


@dataclass(frozen=True)
class Recheck:
    key: str
    url: str
    title: str
    content_hash: str
    pub_date: str | None


def recheck_candidates(db: Database, source: str, keys: Sequence[str], *, seen_since: str, checked_before: str,
                       limit: int) -> list[Recheck]:
    """Recent announcements still on the list whose page was not read lately, oldest read first."""
    if not keys or limit <= 0:
        return []
    out: list[Recheck] = []
    for chunk in _chunks(keys):
        out += [Recheck(*r) for r in db.execute(
            "SELECT key, url, title, content_hash, pub_date FROM announcements WHERE source = ? AND baseline = 0 "
            f"AND first_seen >= ? AND COALESCE(detail_checked_at, first_seen) < ? AND key IN ({','.join('?' * len(chunk))}) "
            "ORDER BY COALESCE(detail_checked_at, first_seen)", [source, seen_since, checked_before, *chunk])]
    return out[:limit]


def record_recheck(db: Database, key: str, *, now: str, content_hash: str | None, body: str | None,
                   files: Sequence[StoredFile], events: Sequence[Event], deliveries: Sequence[PlannedDelivery],
                   fetches: Sequence[FetchRecord] = ()) -> None:
    """A re-read of a known announcement's page: revisions, replaced files and their events, together."""
    with write(db):
        _insert_fetches(db, fetches)
        if content_hash is not None:
            db.execute("UPDATE announcements SET content_hash = ?, body = ? WHERE key = ?", [content_hash, body, key])
        db.execute("UPDATE announcements SET detail_checked_at = ? WHERE key = ?", [now, key])
        for f in files:
            upsert_file(db, f, now)
        _insert_events(db, events, deliveries, now)


def _chunks(keys: Sequence[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(keys), size):
        yield list(keys[i: i + size])


def record_history(db: Database, announcements: Sequence[Announcement], *, now: str,
                   fetches: Sequence[FetchRecord] = ()) -> int:
    """Backfilled announcements: stored as history (baseline = 1), no events, no source state."""
    with write(db):
        _insert_fetches(db, fetches)
        return sum(_insert_announcement(db, a, now, True) for a in announcements)


def _insert_understanding(db: Database, a: Announcement, u: Understanding, now: str) -> None:
    """Classification columns, the batch and its link, the selected entities, the search index."""
    c = u.classification
    db.execute(
        "UPDATE announcements SET program = ?, program_name = ?, level = ?, stage = ?, review = ?, batch = ?, "
        "year = ?, region = ?, classification = ?, list_public = ?, count_stated = ?, count_found = ?, "
        "count_problem = ? WHERE key = ?",
        [c.program, c.program_name, c.level, c.stage, int(c.review), c.batch, c.year, c.region,
         json.dumps(c.as_dict(), ensure_ascii=False), int(u.list_public), u.count_stated,
         len(u.entities) if u.entities else None, u.count_problem, a.key],
    )
    key = u.batch_key
    if key is not None:
        db.execute("INSERT INTO batches (key, program, year, batch, review, level, first_seen) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
                   [key, c.program, c.year, c.batch, int(c.review), c.level, now])
        if c.stage in ("notice", "final"):
            db.execute(f"UPDATE batches SET {c.stage}_announcement = COALESCE({c.stage}_announcement, ?), "
                       f"{c.stage}_date = COALESCE({c.stage}_date, ?) WHERE key = ?", [a.key, a.pub_date or now[:10], key])
        db.execute("INSERT OR IGNORE INTO batch_announcements (batch_key, announcement_key, stage) VALUES (?, ?, ?)",
                   [key, a.key, c.stage])
    for e in u.entities:
        cur = db.execute(
            "INSERT OR IGNORE INTO selections (announcement_key, batch_key, name, raw_name, region, city, category, "
            "role, row, provenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [a.key, key, e.name, e.raw_name, e.region, e.city, e.category, e.role, e.row, e.provenance])
        if cur.rowcount:
            db.execute("INSERT INTO search_index (kind, ref, text) VALUES ('entity', ?, ?)", [a.key, e.name])


def batch_states(db: Database, keys: Iterable[str]) -> dict[str, BatchState]:
    """What is already stored about these batches (for the batch events)."""
    out = {}
    for key in set(keys):
        row = db.execute("SELECT notice_announcement, final_announcement FROM batches WHERE key = ?", [key]).fetchone()
        if row is None:
            out[key] = BatchState(key)
            continue
        notice = frozenset(r[0] for r in db.execute("SELECT name FROM selections WHERE announcement_key = ?", [row[0]]))
        known = frozenset(r[0] for r in db.execute("SELECT name FROM selections WHERE batch_key = ?", [key]))
        out[key] = BatchState(key, True, row[0], row[1], notice, known)
    return out


def search(db: Database, text: str, limit: int = 50) -> list[dict[str, object]]:
    """Announcements whose title, body or entities contain ``text``, newest first.

    Trigram FTS for queries of three or more characters; two-character Chinese
    queries (名单, 集群) fall back to LIKE, which trigram cannot answer.
    """
    text = text.strip()
    if not text:
        return []
    if len(text) >= 3:
        quoted = '"' + text.replace('"', '""') + '"'
        refs = "SELECT ref FROM search_index WHERE search_index MATCH ?"
        args: list[object] = [quoted]
    else:
        refs = "SELECT ref FROM search_index WHERE text LIKE ? ESCAPE '\\'"
        args = ["%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"]
    cur = db.execute(
        f"SELECT key, source, title, url, pub_date, program, stage FROM announcements WHERE key IN ({refs}) "
        "ORDER BY COALESCE(pub_date, first_seen) DESC LIMIT ?", [*args, limit])
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def sync_programs(db: Database, programs: Iterable[tuple[str, str, str, str | None]]) -> None:
    with write(db):
        for key, zh, en, level in programs:
            db.execute("INSERT INTO programs (key, name_zh, name_en, level) VALUES (?, ?, ?, ?) ON CONFLICT(key) "
                       "DO UPDATE SET name_zh = excluded.name_zh, name_en = excluded.name_en, level = excluded.level",
                       [key, zh, en, level])


def _insert_announcement(db: Database, a: Announcement, now: str, baseline: bool) -> int:
    cur = db.execute(
        "INSERT OR IGNORE INTO announcements (key, source, url, title, pub_date, issuer, first_seen, "
        "last_seen, content_hash, body, attachments, detail_error, baseline, detail_checked_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [a.key, a.source, a.url, a.title, a.pub_date, a.issuer, now, now, a.content_hash, a.body,
         json.dumps([asdict(x) for x in a.attachments], ensure_ascii=False), a.detail_error, int(baseline),
         now if a.body else None],
    )
    if cur.rowcount:
        db.execute("INSERT INTO search_index (kind, ref, text) VALUES ('announcement', ?, ?)",
                   [a.key, f"{a.title}\n{a.body}"])
    return cur.rowcount


def _insert_event(db: Database, e: Event, now: str) -> int:
    cur = db.execute(
        "INSERT OR IGNORE INTO events (key, type, source, announcement_key, created_at, payload) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [e.key, e.type, e.source, e.announcement_key, now, json.dumps(dict(e.payload), ensure_ascii=False)],
    )
    return cur.rowcount


def _insert_delivery(db: Database, d: PlannedDelivery, now: str) -> int:
    cur = db.execute(
        "INSERT OR IGNORE INTO deliveries (key, event_key, subscriber, channel, status, attempts, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
        [d.key, d.event_key, d.subscriber, d.channel, d.not_before or now, now],
    )
    return cur.rowcount


def overview(db: Database) -> dict[str, dict[str, object]]:
    """Per source: its stored state plus how many announcements are known (for ``status``)."""
    cur = db.execute(
        "SELECT s.*, (SELECT count(*) FROM announcements a WHERE a.source = s.name) AS items_known, "
        "(SELECT group_concat(a.title || ': ' || a.count_problem, '\n') FROM announcements a "
        " WHERE a.source = s.name AND a.count_problem IS NOT NULL) AS count_problems FROM sources s"
    )
    cols = [c[0] for c in cur.description]
    return {row[0]: dict(zip(cols, row)) for row in cur.fetchall()}


def counts(db: Database) -> dict[str, int]:
    """Row counts of the main tables (for summaries and tests)."""
    return {
        t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("sources", "fetches", "announcements", "events", "deliveries")
    }
