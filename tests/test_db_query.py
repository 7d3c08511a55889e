"""db.query: one user statement on a read-only connection, with an authorizer and a time limit."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from db import open_db
from db.query import (
    NoDatabase,
    QueryError,
    QueryRefused,
    QueryTimeout,
    entities_of,
    open_readonly,
    run_query,
    selections,
    timeline,
)
from db.store import commit_check, sync_programs, sync_sources
from scraper.models import Announcement, Classification, Entity
from scraper.understand import Understanding

EVIL = '=HYPERLINK("http://evil.example/","点击")'
ANSI_TITLE = "\x1b[31m关于2026年浙江省中小企业特色产业集群（第二批）拟认定名单的公示\x1b[0m"

# (key, published, title, body, program, level, stage, year, batch, issuing region, entities (name, region, city))
HISTORY = [
    ("a1", "2025-03-01", "关于公布2025年浙江省中小企业特色产业集群（第一批）名单的通知",
     "经研究，认定以下产业集群为2025年浙江省中小企业特色产业集群。", "sme-cluster", "provincial", "final", 2025, 1,
     "浙江省", [("嘉兴市平湖市光机电(精密光学元件)", "平湖市", "嘉兴市"), ("杭州市萧山区汽车零部件(智能底盘)", "萧山区", "杭州市"),
               (EVIL, None, None)]),
    ("a2", "2026-05-10", "关于公布2026年嘉兴市专精特新中小企业名单的通知", "现将名单予以公布。", "specialized-sme", "municipal",
     "final", 2026, None, "嘉兴市", [("浙江某某科技有限公司", None, None), ("平湖某精密机械有限公司", "平湖市", "嘉兴市")]),
    ("a3", "2026-06-01", "关于开展2025年“一起益企”中小企业服务行动的通知", "服务行动。", None, None, "other", 2025, None,
     None, []),
    ("a4", "2026-11-20", ANSI_TITLE, "拟认定以下集群，现予以公示。", "sme-cluster", "provincial", "notice", 2026, 2, "浙江省",
     [("嘉兴市海宁市经编(高端经编面料)", "海宁市", "嘉兴市"), ("温州市乐清市电气(智能低压电器)", "乐清市", "温州市")]),
]


def build_history(path: Path) -> Path:
    """A real clusterwatch database with four announcements (three of known programs) and their entities."""
    db = open_db(path)
    sync_sources(db, [("jxj", "http://jxj.example.org/col/index.html", "static")], "2025-03-01T00:00:00Z")
    sync_programs(db, [("sme-cluster", "中小企业特色产业集群", "SME clusters", "provincial"),
                       ("specialized-sme", "专精特新中小企业", "Specialised SMEs", "provincial")])
    for key, day, title, body, program, level, stage, year, batch, region, ents in HISTORY:
        a = Announcement(key=key, source="jxj", url=f"http://jxj.example.org/art/{key}.html", title=title,
                         pub_date=day, content_hash=key, body=body, issuer=region)
        c = Classification(program=program, program_name=None, level=level, stage=stage, review=False, batch=batch,
                           year=year, cohorts=(), region=region)
        found = tuple(Entity(name=n, raw_name=n, region=r, city=ct, category=None, role="new", row=i,
                             provenance="page") for i, (n, r, ct) in enumerate(ents, 1))
        commit_check(db, source="jxj", now=f"{day}T02:00:00Z", seen_keys=[], announcements=[a], events=[],
                     deliveries=[], baseline=False, etag=None, last_modified=None, outcome="new",
                     understood={key: Understanding(c, found)})
    db.conn.close()
    return path


def fingerprint(path: Path) -> tuple[object, ...]:
    """Everything a write could change: the schema, every table's rows, the journal mode."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        tables = [r[1] for r in schema if r[0] == "table" and not r[1].startswith("search_index")]
        rows = [conn.execute(f"SELECT * FROM [{t}] ORDER BY 1").fetchall() for t in tables]
        return (schema, rows, conn.execute("PRAGMA journal_mode").fetchone())
    finally:
        conn.close()


@pytest.fixture
def hist(tmp_path: Path) -> Path:
    return build_history(tmp_path / "cw.db")


def test_reads_the_views(hist: Path) -> None:
    r = run_query(hist, "select entity, city from v_selections where city = '嘉兴市' order by entity")
    assert r.columns == ("entity", "city")
    assert [x[0] for x in r.rows] == ["嘉兴市平湖市光机电(精密光学元件)", "嘉兴市海宁市经编(高端经编面料)", "平湖某精密机械有限公司"]
    assert not r.truncated
    counted = run_query(hist, "with recursive c(x) as (select 1 union all select x + 1 from c where x < 5) "
                              "select count(*) from c")
    assert counted.rows == ((5,),)


def test_max_rows_truncates(hist: Path) -> None:
    r = run_query(hist, "select entity from v_selections", max_rows=2)
    assert len(r.rows) == 2 and r.truncated
    assert not run_query(hist, "select entity from v_selections", max_rows=7).truncated


@pytest.mark.parametrize("sql, shown", [
    ("INSERT INTO programs (key, name_zh) VALUES ('x', 'y')", "writes are not allowed (INSERT)"),
    ("update announcements set title = 'x'", "writes are not allowed (UPDATE)"),
    ("  -- a comment first\n DELETE FROM announcements", "writes are not allowed (DELETE)"),
    ("DROP TABLE announcements", "writes are not allowed (DROP)"),
    ("ALTER TABLE announcements ADD COLUMN x", "writes are not allowed (ALTER)"),
    ("ATTACH DATABASE ':memory:' AS m", "writes are not allowed (ATTACH)"),
    ("PRAGMA journal_mode=delete", "writes are not allowed (PRAGMA journal_mode=delete)"),
    ("PRAGMA writable_schema = 1", "writes are not allowed (PRAGMA writable_schema=1)"),
    ("with x as (select 1) delete from announcements", "writes are not allowed (DELETE)"),
    ("with x as (select 'k') insert into programs (key, name_zh) select 'k', 'v' from x",
     "writes are not allowed (INSERT)"),
    ("create temp table t (a)", "writes are not allowed (CREATE)"),
    ("select 1; delete from announcements", "one statement at a time"),
    ("select 1; select 2", "one statement at a time"),
    ("BEGIN IMMEDIATE", "transactions are not allowed (BEGIN)"),
    ("select load_extension('x')", "function load_extension() is not allowed"),
    ("explain delete from announcements", "writes are not allowed (DELETE)"),
])
def test_writes_are_refused_and_change_nothing(hist: Path, sql: str, shown: str) -> None:
    before = fingerprint(hist)
    with pytest.raises(QueryRefused) as e:
        run_query(hist, sql)
    assert str(e.value) == f"query refused: {shown}"
    assert fingerprint(hist) == before


def test_vacuum_into_writes_no_file(hist: Path, tmp_path: Path) -> None:
    with pytest.raises(QueryRefused, match=r"writes are not allowed \(VACUUM\)"):
        run_query(hist, f"VACUUM INTO '{tmp_path / 'copy.db'}'")
    assert not (tmp_path / "copy.db").exists()


def test_read_only_pragmas_are_allowed(hist: Path) -> None:
    assert run_query(hist, "PRAGMA journal_mode").rows == (("wal",),)
    cols = run_query(hist, "PRAGMA table_info(selections)").rows
    assert "provenance" in [c[1] for c in cols]
    assert ("name",) in run_query(hist, "select name from pragma_table_info('sources')").rows


def test_bad_sql_is_a_query_error(hist: Path) -> None:
    with pytest.raises(QueryError) as e:
        run_query(hist, "SELEC * FROM announcements")
    assert str(e.value) == 'query error: near "SELEC": syntax error'
    with pytest.raises(QueryError, match="no such table: nope"):
        run_query(hist, "select * from nope")
    with pytest.raises(QueryError, match="empty query"):
        run_query(hist, "   ")


def test_timeout(hist: Path) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as e:
        run_query(hist, "with recursive c(x) as (select 1 union all select x + 1 from c where x < 1000000000) "
                        "select count(*) from c", timeout=0.2)
    assert str(e.value) == "query timed out after 0.2 s"
    assert time.monotonic() - started < 3


def test_missing_database_is_never_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "cw.db"
    with pytest.raises(NoDatabase) as e:
        run_query(missing, "select 1")
    assert str(e.value) == f"no database at {missing} — run `clusterwatch run --once` first"
    with pytest.raises(NoDatabase):
        with open_readonly(missing):
            pass
    assert not missing.exists() and not missing.parent.exists()


def test_reads_while_another_connection_writes(hist: Path) -> None:
    writer = sqlite3.connect(str(hist), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO programs (key, name_zh, name_en) VALUES ('uncommitted', '未提交', 'x')")
        started = time.monotonic()
        r = run_query(hist, "select count(*) from programs where key = 'uncommitted'", timeout=2)
        assert r.rows == ((0,),) and time.monotonic() - started < 1.5  # the last committed snapshot, at once
        writer.execute("COMMIT")
        assert run_query(hist, "select count(*) from programs where key = 'uncommitted'").rows == ((1,),)
    finally:
        writer.close()


def test_open_readonly_needs_a_clusterwatch_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    with pytest.raises(QueryError, match="not an up-to-date clusterwatch database"):
        with open_readonly(other):
            pass


def test_named_reads(hist: Path) -> None:
    with open_readonly(hist) as db:
        rows = timeline(db).dicts()
        assert [r["key"] for r in rows] == ["a1", "a2", "a4"]  # oldest first; a3 names no program
        assert [r["entities"] for r in rows] == [3, 2, 2]
        assert [r["key"] for r in timeline(db, program="sme-cluster", since="2026-01-01").dicts()] == ["a4"]
        assert [r["key"] for r in timeline(db, stage="final").dicts()] == ["a1", "a2"]
        sel = selections(db, program="sme-cluster")
        assert sel.columns[-1] == "issuer_region" and "entity" in sel.columns
        assert [r[0] for r in sel.rows][:3] == ["嘉兴市平湖市光机电(精密光学元件)", "杭州市萧山区汽车零部件(智能底盘)", EVIL]
        assert entities_of(db, ["a2"])["a2"] == [("浙江某某科技有限公司", None, None), ("平湖某精密机械有限公司", "平湖市", "嘉兴市")]
        with pytest.raises(Exception):
            db.execute("DELETE FROM announcements")
