"""`query`, `search`, `history` and `export` against real databases, through the real CLI."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from db import open_db
from scraper.cli import main
from tests.test_db_query import ANSI_TITLE, EVIL, build_history, fingerprint


def cw(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def hist(tmp_path: Path) -> Path:
    return build_history(tmp_path / "cw.db")


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.db"
    open_db(path).conn.close()
    return path


# ----------------------------------------------------------------------------------------------- query

def test_query_table_csv_json(hist: Path) -> None:
    sql = "select entity, region, published from v_selections where city = '嘉兴市' order by entity"
    table = cw("query", sql, "--db", str(hist))
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["entity", "region", "published"]
    assert lines[1].split() == ["嘉兴市平湖市光机电(精密光学元件)", "平湖市", "2025-03-01"]
    assert len(lines) == 4

    out = cw("query", sql, "--db", str(hist), "--csv")
    assert out.exit_code == 0
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows[0] == ["entity", "region", "published"] and rows[3] == ["平湖某精密机械有限公司", "平湖市", "2026-05-10"]

    out = cw("query", "select entity, batch from v_selections where entity like '=%'", "--db", str(hist), "--json")
    assert json.loads(out.stdout) == [{"entity": EVIL, "batch": 1}]  # raw, not quoted for spreadsheets


@pytest.mark.parametrize("sql, shown", [
    ("insert into programs (key, name_zh, name_en) values ('x', 'y', 'z')", "writes are not allowed (INSERT)"),
    ("delete from announcements", "writes are not allowed (DELETE)"),
    ("drop view v_selections", "writes are not allowed (DROP)"),
    ("attach database 'other.db' as o", "writes are not allowed (ATTACH)"),
    ("PRAGMA journal_mode=delete", "writes are not allowed (PRAGMA journal_mode=delete)"),
    ("with doomed as (select key from announcements) delete from announcements where key in doomed",
     "writes are not allowed (DELETE)"),
    ("select 1; drop table announcements", "one statement at a time"),
])
def test_query_refuses_writes(hist: Path, sql: str, shown: str) -> None:
    before = fingerprint(hist)
    r = cw("query", sql, "--db", str(hist))
    assert r.exit_code == 1
    assert r.stderr.strip() == f"Error: query refused: {shown}"
    assert fingerprint(hist) == before
    assert not (hist.parent / "other.db").exists()


def test_query_malformed_sql(hist: Path) -> None:
    r = cw("query", "SELEC entity FROM v_selections", "--db", str(hist))
    assert r.exit_code == 1 and r.stderr.strip() == 'Error: query error: near "SELEC": syntax error'


def test_query_timeout(hist: Path) -> None:
    started = time.monotonic()
    r = cw("query", "with recursive c(x) as (select 1 union all select x + 1 from c where x < 1000000000) "
                    "select count(*) from c", "--timeout", "0.2", "--db", str(hist))
    assert r.exit_code == 1 and r.stderr.strip() == "Error: query timed out after 0.2 s"
    assert time.monotonic() - started < 3


def test_query_max_rows(hist: Path) -> None:
    r = cw("query", "select entity from v_selections", "--max-rows", "2", "--db", str(hist))
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 3  # header + 2
    assert "only the first 2 rows" in r.stderr


def test_query_while_a_writer_holds_a_transaction(hist: Path) -> None:
    writer = sqlite3.connect(str(hist), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM selections")
        r = cw("query", "select count(*) as n from v_selections", "--json", "--db", str(hist))
        assert r.exit_code == 0 and json.loads(r.stdout) == [{"n": 7}]  # the committed rows
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_query_reads_the_configs_database_without_its_secrets(hist: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CW_UNSET_SECRET", raising=False)
    cfg = tmp_path / "cw.toml"
    cfg.write_text(f'''database = "{hist.name}"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[[subscribers]]
name = "desk"
[[subscribers.channels]]
kind = "webhook"
url = "http://127.0.0.1:9/hook"
secret_env = "CW_UNSET_SECRET"
''', encoding="utf-8")
    r = cw("query", "select count(*) from v_batches", "--csv", "--config", str(cfg))
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[1] == "3"


def test_ansi_in_a_title_never_reaches_the_terminal(hist: Path) -> None:
    outputs = [cw("query", "select title from announcements", "--db", str(hist)),
               cw("search", "拟认定名单", "--db", str(hist)),
               cw("history", "--db", str(hist), "--config", "/nonexistent.toml"),
               cw("query", "select title from announcements", "--json", "--db", str(hist))]
    for r in outputs:
        assert r.exit_code == 0, r.output
        assert "\x1b" not in r.output and "\x9b" not in r.output
    assert "关于2026年浙江省中小企业特色产业集群（第二批）拟认定名单的公示" in outputs[0].stdout
    assert json.loads(outputs[3].stdout)[-1]["title"] == ANSI_TITLE  # JSON keeps the value, escaped


# ---------------------------------------------------------------------------------- empty and missing

def test_empty_database_says_so(empty: Path) -> None:
    cases = {
        ("query", "select * from v_selections"): "no rows",
        ("search", "集群"): "no announcements mention '集群'",
        ("history",): "no announcements of known programs yet",
    }
    for args, said in cases.items():
        r = cw(*args, "--db", str(empty))
        assert r.exit_code == 0 and r.stdout.strip() == said, (args, r.output)
    r = cw("export", "--db", str(empty))
    assert r.exit_code == 0 and r.stdout == "" and r.stderr.strip() == "no selections stored yet; nothing exported"
    r = cw("query", "select * from v_selections", "--json", "--db", str(empty))
    assert r.exit_code == 0 and json.loads(r.stdout) == [] and r.stderr.strip() == "no rows"


@pytest.mark.parametrize("args", [("query", "select 1"), ("search", "集群"), ("history",), ("export",)])
def test_missing_database(tmp_path: Path, args: tuple[str, ...]) -> None:
    missing = tmp_path / "gone" / "cw.db"
    r = cw(*args, "--db", str(missing))
    assert r.exit_code == 1
    assert r.stderr.strip() == f"Error: no database at {missing} — run `clusterwatch run --once` first"
    assert not missing.parent.exists()


def test_no_config_and_no_db(tmp_path: Path) -> None:
    r = cw("query", "select 1", "--config", str(tmp_path / "none.toml"))
    assert r.exit_code == 1 and "no config at" in r.stderr and "--db FILE" in r.stderr


# ---------------------------------------------------------------------------------------------- search

def test_search_two_and_more_characters(hist: Path) -> None:
    two = cw("search", "集群", "--json", "--db", str(hist))  # LIKE: trigram cannot answer two characters
    assert two.exit_code == 0, two.output
    assert [h["key"] for h in json.loads(two.stdout)] == ["a4", "a1"]  # newest first
    three = cw("search", "一起益企", "--json", "--db", str(hist))  # trigram MATCH
    assert [h["key"] for h in json.loads(three.stdout)] == ["a3"]
    body = cw("search", "予以公布", "--json", "--db", str(hist))  # found in the body only
    assert [h["key"] for h in json.loads(body.stdout)] == ["a2"]


def test_search_entity_names(hist: Path) -> None:
    r = cw("search", "精密机械", "--db", str(hist))
    assert r.exit_code == 0
    assert "关于公布2026年嘉兴市专精特新中小企业名单的通知" in r.stdout
    assert "entity: 平湖某精密机械有限公司" in r.stdout
    data = json.loads(cw("search", "光机电", "--json", "--db", str(hist)).stdout)
    assert [(h["key"], h["entities"]) for h in data] == [("a1", ["嘉兴市平湖市光机电(精密光学元件)"])]


def test_search_needs_two_characters(hist: Path) -> None:
    r = cw("search", " 集 ", "--db", str(hist))
    assert r.exit_code == 2 and "search needs at least two characters" in r.stderr


# --------------------------------------------------------------------------------------------- history

def keys(*args: str) -> list[str]:
    r = cw("history", "--json", *args)
    assert r.exit_code == 0, r.output
    return [x["key"] for x in json.loads(r.stdout)]


def test_history_timeline(hist: Path) -> None:
    r = cw("history", "--db", str(hist), "--config", "/nonexistent.toml")  # no config: the built-in registry
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["2025-03-01", "final"]
    assert "中小企业特色产业集群 (sme-cluster) · provincial · 2025年 第1批 · 3 entities" in lines[0]
    assert lines[1].strip() == "关于公布2025年浙江省中小企业特色产业集群（第一批）名单的通知"
    assert "一起益企" not in r.stdout  # names no program
    assert keys("--db", str(hist)) == ["a1", "a2", "a4"]  # oldest first


def test_history_filters(hist: Path) -> None:
    db = ("--db", str(hist))
    assert keys(*db, "--program", "sme-cluster") == ["a1", "a4"]
    assert keys(*db, "--since", "2026-05-10") == ["a2", "a4"]
    assert keys(*db, "--since", "2026") == ["a2", "a4"]
    assert keys(*db, "--stage", "notice") == ["a4"]
    assert keys(*db, "--region", "温州市") == ["a4"]
    assert keys(*db, "--region", "杭州") == ["a1"]
    assert keys(*db, "--program", "sme-cluster", "--region", "嘉兴市", "--since", "2026-01") == ["a4"]


def test_history_region_lists_the_matching_entities(hist: Path) -> None:
    r = cw("history", "--region", "嘉兴", "--json", "--db", str(hist))
    rows = {x["key"]: [e["name"] for e in x["matching"]] for x in json.loads(r.stdout)}
    # a2 was issued in 嘉兴市: its entity without a place is there too
    assert rows == {"a1": ["嘉兴市平湖市光机电(精密光学元件)"], "a2": ["浙江某某科技有限公司", "平湖某精密机械有限公司"],
                    "a4": ["嘉兴市海宁市经编(高端经编面料)"]}
    r = cw("history", "--region", "平湖市", "--db", str(hist))
    assert r.exit_code == 0
    assert "in 平湖市 (1):" in r.stdout and "平湖某精密机械有限公司  平湖市" in r.stdout
    assert "浙江某某科技有限公司" not in r.stdout and "海宁市" not in r.stdout


@pytest.mark.parametrize("args, said", [
    (("--program", "no-such-program"), "unknown program 'no-such-program' (known: "),
    (("--region", "火星市"), "unknown region '火星市'"),
    (("--since", "2026-13-01"), "'2026-13-01' is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)"),
    (("--since", "yesterday"), "'yesterday' is not a date"),
    (("--stage", "done"), "'done' is not one of 'call', 'notice', 'final'"),
])
def test_history_bad_input(hist: Path, args: tuple[str, ...], said: str) -> None:
    r = cw("history", *args, "--db", str(hist))
    assert r.exit_code == 2 and said in r.stderr, r.stderr
    if args[0] == "--program":
        assert "sme-cluster" in r.stderr and "little-giant" in r.stderr


def test_history_no_match(hist: Path) -> None:
    r = cw("history", "--program", "little-giant", "--db", str(hist))
    assert r.exit_code == 0 and r.stdout.strip() == "no announcements of known programs match these filters"


# ---------------------------------------------------------------------------------------------- export

def test_export_csv_is_excel_safe(hist: Path, tmp_path: Path) -> None:
    out = tmp_path / "sel.csv"
    r = cw("export", "--format", "csv", "-o", str(out), "--db", str(hist))
    assert r.exit_code == 0 and r.stdout.strip() == f"wrote 7 selections (csv) to {out}"
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 7 and "issuer_region" not in rows[0]
    assert rows[0]["entity"] == "嘉兴市平湖市光机电(精密光学元件)" and rows[0]["program_name"] == "中小企业特色产业集群"
    assert rows[2]["entity"] == "'" + EVIL  # never a formula
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_export_to_stdout_and_filters(hist: Path) -> None:
    r = cw("export", "--region", "嘉兴市", "--db", str(hist))
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout_bytes.decode("utf-8-sig"))))
    assert [x["entity"] for x in rows] == ["嘉兴市平湖市光机电(精密光学元件)", "浙江某某科技有限公司", "平湖某精密机械有限公司",
                                          "嘉兴市海宁市经编(高端经编面料)"]
    r = cw("export", "--format", "json", "--program", "sme-cluster", "--since", "2026-01-01", "--db", str(hist))
    data = json.loads(r.stdout)
    assert [x["entity"] for x in data] == ["嘉兴市海宁市经编(高端经编面料)", "温州市乐清市电气(智能低压电器)"]
    assert data[0]["link"] == "http://jxj.example.org/art/a4.html" and data[0]["stage"] == "notice"
    r = cw("export", "--region", "火星市", "--db", str(hist))
    assert r.exit_code == 2 and "unknown region" in r.stderr
    r = cw("export", "--program", "little-giant", "--db", str(hist))
    assert r.exit_code == 0 and r.stderr.strip() == "no selections match these filters; nothing exported"


def test_export_xlsx(hist: Path, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / "sel.xlsx"
    out.write_bytes(b"an older export")
    r = cw("export", "-o", str(out), "--db", str(hist))  # the format from the suffix
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(out).active
    header = [c.value for c in ws[1]]
    assert header[:3] == ["entity", "region", "city"] and "issuer_region" not in header
    assert all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{ws.cell(1, len(header)).column_letter}8"
    evil = ws.cell(4, 1)
    assert evil.value == EVIL and evil.data_type == "s"
    assert ws.cell(2, header.index("year") + 1).value == 2025  # numbers stay numbers
    link = ws.cell(2, header.index("link") + 1)
    assert link.hyperlink is not None and link.hyperlink.target == "http://jxj.example.org/art/a1.html"
    assert 8 <= ws.column_dimensions["A"].width <= 60


def test_export_xlsx_needs_a_file_and_openpyxl(hist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = cw("export", "--format", "xlsx", "--db", str(hist))
    assert r.exit_code == 2 and "--format xlsx needs -o FILE" in r.stderr
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if it were not installed
    r = cw("export", "--format", "xlsx", "-o", str(tmp_path / "x.xlsx"), "--db", str(hist))
    assert r.exit_code == 1 and "pip install 'clusterwatch[export]'" in r.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_export_to_a_missing_folder(hist: Path, tmp_path: Path) -> None:
    r = cw("export", "-o", str(tmp_path / "no" / "sel.json"), "--db", str(hist))
    assert r.exit_code == 1 and r.stderr.startswith(f"Error: cannot write {tmp_path / 'no' / 'sel.json'}")
