"""The connection contract, migrations and the one-transaction write path."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from db import open_db, outbox, pragmas
from db.migrations import migrations
from db.store import commit_check, counts, known_keys, record_failure, source_state, sync_sources
from scraper.models import Announcement, Event, PlannedDelivery

NOW = "2026-11-30T03:00:00Z"


def ann(key: str, source: str = "s") -> Announcement:
    return Announcement(key=key, source=source, url=f"http://a.example.org/{key}.html", title=f"标题{key}",
                        pub_date="2026-11-30", content_hash="h")


def test_connection_contract(tmp_path: Path) -> None:
    db = open_db(tmp_path / "cw.db")
    assert pragmas(db) == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 10000}


def test_database_file_and_folder_are_private(tmp_path: Path) -> None:
    open_db(tmp_path / "state" / "cw.db")
    assert stat.S_IMODE((tmp_path / "state" / "cw.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def test_migrations_apply_once(tmp_path: Path) -> None:
    open_db(tmp_path / "cw.db").close()
    db = open_db(tmp_path / "cw.db")
    applied = [m.name for m in migrations.applied(db)]
    assert applied == ["m001_initial", "m002_health_and_attachments", "m003_understanding", "m004_endpoints",
                       "m005_views"]
    assert migrations.pending(db) == []


def test_commit_check_is_all_or_nothing(tmp_path: Path) -> None:
    db = open_db(tmp_path / "cw.db")
    sync_sources(db, [("s", "http://a.example.org/", "static")], NOW)
    bad = PlannedDelivery(key="msg_x", event_key="no-such-event", subscriber="u", channel="console")
    with pytest.raises(sqlite3.IntegrityError):
        commit_check(db, source="s", now=NOW, seen_keys=[], announcements=[ann("k1")], events=[],
                     deliveries=[bad], baseline=False, etag='"e"', last_modified=None, outcome="new")
    assert counts(db)["announcements"] == 0  # rolled back with the failing delivery
    state = source_state(db, "s")
    assert state is not None and state.etag is None and state.baseline_at is None


def test_commit_check_is_idempotent(tmp_path: Path) -> None:
    db = open_db(tmp_path / "cw.db")
    sync_sources(db, [("s", "http://a.example.org/", "static")], NOW)
    ev = Event(key="announcement.new:k1", type="announcement.new", source="s", announcement_key="k1",
               payload={"title": "标题k1"})
    d = PlannedDelivery(key="msg_1", event_key=ev.key, subscriber="u", channel="console")
    for _ in range(2):
        w = commit_check(db, source="s", now=NOW, seen_keys=[], announcements=[ann("k1")], events=[ev],
                         deliveries=[d], baseline=False, etag=None, last_modified=None, outcome="new")
    assert (w.new_announcements, w.events, w.deliveries) == (0, 0, 0)  # the second time wrote nothing
    c = counts(db)
    assert (c["announcements"], c["events"], c["deliveries"]) == (1, 1, 1)
    assert known_keys(db, "s", ["k1", "k2"]) == {"k1"}


def test_failure_bumps_counter_and_clears_validators(tmp_path: Path) -> None:
    db = open_db(tmp_path / "cw.db")
    sync_sources(db, [("s", "http://a.example.org/", "static")], NOW)
    commit_check(db, source="s", now=NOW, seen_keys=[], announcements=[ann("k1")], events=[], deliveries=[],
                 baseline=True, etag='"v1"', last_modified="Mon, 30 Nov 2026 03:00:00 GMT", outcome="baseline")
    assert record_failure(db, "s", now=NOW, outcome="failed", error="HTTP 500") == 1
    assert record_failure(db, "s", now=NOW, outcome="blocked", error="412") == 2
    st = source_state(db, "s")
    assert st is not None and (st.etag, st.last_modified, st.baseline_at, st.last_ok_at) == (None, None, NOW, NOW)
    assert counts(db)["announcements"] == 1


def test_expired_lease_is_claimed_again(tmp_path: Path) -> None:
    db = open_db(tmp_path / "cw.db")
    sync_sources(db, [("s", "http://a.example.org/", "static")], NOW)
    ev = Event(key="e1", type="announcement.new", source="s", announcement_key="k1", payload={"title": "t"})
    commit_check(db, source="s", now=NOW, seen_keys=[], announcements=[ann("k1")], events=[ev],
                 deliveries=[PlannedDelivery("msg_1", "e1", "u", "console")], baseline=False,
                 etag=None, last_modified=None, outcome="new")
    first = outbox.claim_due(db, now=NOW, lease_until="2026-11-30T03:10:00Z")
    assert [r.key for r in first] == ["msg_1"]
    assert outbox.claim_due(db, now="2026-11-30T03:05:00Z", lease_until="2026-11-30T03:15:00Z") == []
    again = outbox.claim_due(db, now="2026-11-30T03:11:00Z", lease_until="2026-11-30T03:21:00Z")
    assert [r.key for r in again] == ["msg_1"]  # the relay that claimed it crashed; same key


def test_reader_does_not_block_writer(tmp_path: Path) -> None:
    db = open_db(tmp_path / "cw.db")
    sync_sources(db, [("s", "http://a.example.org/", "static")], NOW)
    reader = sqlite3.connect(str(tmp_path / "cw.db"), isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM announcements").fetchone()
    for i in range(200):
        commit_check(db, source="s", now=NOW, seen_keys=[], announcements=[ann(f"k{i}")], events=[],
                     deliveries=[], baseline=True, etag=None, last_modified=None, outcome="baseline")
    assert reader.execute("SELECT count(*) FROM announcements").fetchone()[0] == 0  # its snapshot
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM announcements").fetchone()[0] == 200
