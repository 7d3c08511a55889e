"""Schema migrations. Append-only: never edit a migration that has shipped.

Each migration runs in its own transaction together with its record in
``_sqlite_migrations`` (sqlite-utils 4 ``Migrations``).
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("clusterwatch")


@migrations()
def m001_initial(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            kind TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_checked_at TEXT,
            last_ok_at TEXT,
            last_outcome TEXT,
            last_error TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            etag TEXT,
            last_modified TEXT,
            baseline_at TEXT
        )"""
    )
    db.execute(
        """
        CREATE TABLE fetches (
            id INTEGER PRIMARY KEY,
            source TEXT REFERENCES sources(name),
            started_at TEXT NOT NULL,
            url TEXT NOT NULL,
            purpose TEXT NOT NULL,
            status INTEGER,
            bytes INTEGER,
            duration REAL,
            outcome TEXT NOT NULL,
            error TEXT
        )"""
    )
    db.execute("CREATE INDEX fetches_source_time ON fetches(source, started_at)")
    db.execute(
        """
        CREATE TABLE announcements (
            key TEXT PRIMARY KEY,
            source TEXT NOT NULL REFERENCES sources(name),
            url TEXT NOT NULL,
            title TEXT NOT NULL,
            pub_date TEXT,
            issuer TEXT,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            body TEXT NOT NULL DEFAULT '',
            attachments TEXT NOT NULL DEFAULT '[]',
            detail_error TEXT,
            baseline INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute("CREATE INDEX announcements_source ON announcements(source, first_seen)")
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            source TEXT REFERENCES sources(name),
            announcement_key TEXT REFERENCES announcements(key),
            created_at TEXT NOT NULL,
            payload TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            event_key TEXT NOT NULL REFERENCES events(key),
            subscriber TEXT NOT NULL,
            channel TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            lease_until TEXT,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT
        )"""
    )
    db.execute("CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at)")


@migrations()
def m002_health_and_attachments(db: Database) -> None:
    """Source health (failure streaks, block back-off, size baseline), attachments, outcome names."""
    for column, kind in (("failing_since", "TEXT"), ("backoff_until", "TEXT"), ("last_ok_bytes", "INTEGER"),
                         ("adapter_used", "TEXT"), ("quarantine", "TEXT")):
        db.execute(f"ALTER TABLE sources ADD COLUMN {column} {kind}")
    db.execute("ALTER TABLE announcements ADD COLUMN detail_checked_at TEXT")
    # Outcome names follow the fetch classification: ok, not-modified, blocked, broken, error.
    for old, new in (("failed", "error"), ("not_modified", "not-modified"), ("empty", "broken"),
                     ("parse_error", "broken")):
        db.execute("UPDATE fetches SET outcome = ? WHERE outcome = ?", [new, old])
        db.execute("UPDATE sources SET last_outcome = ? WHERE last_outcome = ?", [new, old])
    db.execute(
        """
        CREATE TABLE attachments (
            id INTEGER PRIMARY KEY,
            announcement_key TEXT NOT NULL REFERENCES announcements(key),
            url TEXT NOT NULL,
            text TEXT NOT NULL,
            sha256 TEXT,
            bytes INTEGER,
            content_type TEXT,
            first_fetched TEXT,
            last_fetched TEXT,
            error TEXT,
            UNIQUE (announcement_key, url)
        )"""
    )


@migrations()
def m003_understanding(db: Database) -> None:
    """Programs, batches, selected entities, classification columns and full-text search."""
    for column, kind in (("program", "TEXT"), ("program_name", "TEXT"), ("level", "TEXT"), ("stage", "TEXT"),
                         ("review", "INTEGER"), ("batch", "INTEGER"), ("year", "INTEGER"), ("region", "TEXT"),
                         ("classification", "TEXT"), ("list_public", "INTEGER"), ("count_stated", "INTEGER"),
                         ("count_found", "INTEGER"), ("count_problem", "TEXT")):
        db.execute(f"ALTER TABLE announcements ADD COLUMN {column} {kind}")
    db.execute(
        """
        CREATE TABLE programs (
            key TEXT PRIMARY KEY,
            name_zh TEXT NOT NULL,
            name_en TEXT NOT NULL,
            level TEXT
        )"""
    )
    db.execute(
        """
        CREATE TABLE batches (
            key TEXT PRIMARY KEY,
            program TEXT NOT NULL,
            year INTEGER,
            batch INTEGER,
            review INTEGER NOT NULL DEFAULT 0,
            level TEXT,
            first_seen TEXT NOT NULL,
            notice_announcement TEXT REFERENCES announcements(key),
            notice_date TEXT,
            final_announcement TEXT REFERENCES announcements(key),
            final_date TEXT
        )"""
    )
    db.execute(
        """
        CREATE TABLE batch_announcements (
            batch_key TEXT NOT NULL REFERENCES batches(key),
            announcement_key TEXT NOT NULL REFERENCES announcements(key),
            stage TEXT NOT NULL,
            PRIMARY KEY (batch_key, announcement_key)
        )"""
    )
    db.execute(
        """
        CREATE TABLE selections (
            id INTEGER PRIMARY KEY,
            announcement_key TEXT NOT NULL REFERENCES announcements(key),
            batch_key TEXT REFERENCES batches(key),
            name TEXT NOT NULL,
            raw_name TEXT NOT NULL,
            region TEXT,
            city TEXT,
            category TEXT,
            role TEXT NOT NULL,
            row INTEGER,
            provenance TEXT NOT NULL,
            UNIQUE (announcement_key, provenance, name, role)
        )"""
    )
    db.execute("ALTER TABLE attachments ADD COLUMN parse_error TEXT")
    db.execute("ALTER TABLE attachments ADD COLUMN entities INTEGER")
    db.execute("CREATE INDEX selections_name ON selections(name)")
    db.execute("CREATE INDEX selections_batch ON selections(batch_key)")
    # Full-text search for Chinese: trigram finds 3+ character queries; shorter ones use LIKE (db.search).
    db.execute("CREATE VIRTUAL TABLE search_index USING fts5(kind UNINDEXED, ref UNINDEXED, text, tokenize='trigram')")


@migrations()
def m004_endpoints(db: Database) -> None:
    """Endpoints a receiver asked us to stop using (HTTP 410 Gone)."""
    db.execute(
        """
        CREATE TABLE disabled_endpoints (
            subscriber TEXT NOT NULL,
            channel TEXT NOT NULL,
            disabled_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (subscriber, channel)
        )"""
    )


@migrations()
def m005_views(db: Database) -> None:
    """Views for the common ad hoc questions (docs/schema.md, README "Querying the history")."""
    db.execute(
        """
        CREATE VIEW v_selections AS
        SELECT s.name AS entity,
               s.region AS region,
               s.city AS city,
               s.category AS category,
               a.program AS program,
               COALESCE(p.name_zh, a.program_name) AS program_name,
               a.level AS level,
               a.batch AS batch,
               a.year AS year,
               a.review AS review,
               a.stage AS stage,
               COALESCE(a.pub_date, substr(a.first_seen, 1, 10)) AS published,
               a.title AS title,
               a.url AS link,
               a.source AS source,
               s.role AS role,
               s.provenance AS provenance,
               s.batch_key AS batch_key,
               s.announcement_key AS announcement_key
        FROM selections s
        JOIN announcements a ON a.key = s.announcement_key
        LEFT JOIN programs p ON p.key = a.program"""
    )
    db.execute(
        """
        CREATE VIEW v_batches AS
        SELECT b.program AS program,
               p.name_zh AS program_name,
               b.level AS level,
               b.year AS year,
               b.batch AS batch,
               b.review AS review,
               b.notice_date AS notice_date,
               b.final_date AS final_date,
               CASE WHEN b.final_date IS NOT NULL THEN 'final'
                    WHEN b.notice_date IS NOT NULL THEN 'notice' ELSE 'other' END AS stage,
               (SELECT COUNT(DISTINCT s.name) FROM selections s
                 WHERE s.batch_key = b.key AND s.role = 'new') AS entities,
               (SELECT a.url FROM announcements a WHERE a.key = b.notice_announcement) AS notice_link,
               (SELECT a.url FROM announcements a WHERE a.key = b.final_announcement) AS final_link,
               b.first_seen AS first_seen,
               b.key AS batch_key
        FROM batches b
        LEFT JOIN programs p ON p.key = b.program"""
    )
    db.execute(
        """
        CREATE VIEW v_timeline AS
        SELECT e.created_at AS at,
               e.type AS type,
               e.source AS source,
               COALESCE(a.title, json_extract(e.payload, '$.title')) AS title,
               COALESCE(a.program, json_extract(e.payload, '$.program')) AS program,
               COALESCE(a.stage, json_extract(e.payload, '$.stage')) AS stage,
               COALESCE(a.region, json_extract(e.payload, '$.region')) AS region,
               COALESCE(a.pub_date, json_extract(e.payload, '$.pub_date')) AS published,
               COALESCE(a.url, json_extract(e.payload, '$.url')) AS link,
               e.key AS event_key,
               e.id AS event_id
        FROM events e
        LEFT JOIN announcements a ON a.key = e.announcement_key
        ORDER BY e.created_at, e.id"""
    )
    db.execute(
        """
        CREATE VIEW v_source_health AS
        SELECT s.name AS source,
               s.url AS url,
               COALESCE(s.adapter_used, s.kind) AS adapter,
               s.last_checked_at AS last_checked,
               s.last_ok_at AS last_success,
               s.last_outcome AS last_outcome,
               s.consecutive_failures AS consecutive_failures,
               s.failing_since AS failing_since,
               s.backoff_until AS backoff_until,
               s.last_error AS last_error,
               (SELECT COUNT(*) FROM announcements a WHERE a.source = s.name) AS announcements,
               (SELECT COUNT(*) FROM fetches f WHERE f.source = s.name
                 AND f.started_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-7 days')) AS fetches_7d,
               (SELECT COUNT(*) FROM fetches f WHERE f.source = s.name AND f.outcome NOT IN ('ok', 'not-modified')
                 AND f.started_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-7 days')) AS failed_fetches_7d,
               (SELECT COUNT(*) FROM deliveries d JOIN events e ON e.key = d.event_key
                 WHERE e.source = s.name AND d.status = 'dead') AS dead_deliveries
        FROM sources s"""
    )
