"""Operations: the single-writer lock, backups and restores, status exit codes, structured logs."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from db import open_db, write
from db.backup import BackupError, backup, check, known_migrations, restore
from db.lock import Locked, holder, lock_path, writer_lock
from scraper import logs
from scraper.cli import main
from tests.servers.http import FixtureServer, Request, Resp
from tests.test_cli_ops import COL, trs_site, write_config

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scraper.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


# --- one writer -----------------------------------------------------------------------------------

def test_a_second_run_once_exits_at_once_while_the_first_runs(tmp_path: Path, site: FixtureServer) -> None:
    trs_site(site)
    release = threading.Event()
    entered = threading.Event()
    page = site.routes[COL + "index.html"]

    def slow(req: Request) -> Resp:
        entered.set()
        release.wait(30)
        return page  # type: ignore[return-value]

    site.routes[COL + "index.html"] = slow
    cfg = write_config(tmp_path, site)
    first = subprocess.Popen([sys.executable, "-m", "scraper.cli", "run", "--once", "--config", str(cfg)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert entered.wait(30), "the first run never fetched the list"
        started = time.monotonic()
        second = cli("run", "--once", "--config", str(cfg))
        took = time.monotonic() - started
        assert second.returncode == 75, second.stderr
        assert "is in use by another clusterwatch process" in second.stderr
        assert f"pid {first.pid}" in second.stderr and "command run --once" in second.stderr
        assert took < 10  # it did not wait for the first (which is parked until released)
        info = holder(tmp_path / "cw.db")
        assert info is not None and info["pid"] == first.pid
    finally:
        release.set()
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "ndrc: baseline" in out
    assert holder(tmp_path / "cw.db") is None  # released on exit
    # the second run did not touch the database: one check, one set of fetches
    db = open_db(tmp_path / "cw.db")
    assert db.execute("select count(*) from fetches where purpose = 'list'").fetchone()[0] == 1  # only the first run fetched
    again = cli("run", "--once", "--all", "--config", str(cfg))
    assert again.returncode == 0, again.stderr


def test_the_lock_dies_with_a_killed_holder(tmp_path: Path) -> None:
    db_path = tmp_path / "cw.db"
    code = ("import sys, time; from db.lock import writer_lock\n"
            f"with writer_lock({str(db_path)!r}, 'daemon'):\n    print('held', flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(Locked, match=rf"pid {child.pid}, command daemon, since 20"):
            with writer_lock(db_path, "run --once"):
                pass
        assert holder(db_path)["command"] == "daemon"  # type: ignore[index]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    with writer_lock(db_path, "run --once"):  # the kernel released it: no stale lock
        assert holder(db_path) is None or holder(db_path)["pid"] == os.getpid()  # type: ignore[index]
    assert lock_path(db_path).exists() and oct(lock_path(db_path).stat().st_mode & 0o777) == "0o600"


def test_the_lock_is_per_process_not_reentrant_across_processes(tmp_path: Path) -> None:
    with writer_lock(tmp_path / "a.db", "daemon"):
        with writer_lock(tmp_path / "b.db", "daemon"):  # another database: independent
            pass
    with writer_lock(tmp_path / "a.db", "daemon"):  # released after the block
        pass


# --- backup and restore ---------------------------------------------------------------------------

def populated(tmp_path: Path, site: FixtureServer) -> Path:
    trs_site(site)
    cfg = write_config(tmp_path, site)
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    return cfg


def test_backup_while_a_writer_writes_gives_a_verified_copy(tmp_path: Path, site: FixtureServer) -> None:
    cfg = populated(tmp_path, site)
    stop = threading.Event()
    written = []

    def writer() -> None:
        db = open_db(tmp_path / "cw.db")
        while not stop.is_set():
            with write(db):
                db.execute("INSERT INTO fetches (source, started_at, url, purpose, outcome) "
                           "VALUES ('ndrc', '2026-11-30T00:00:00Z', 'http://x/', 'list', 'ok')")
            written.append(1)
        db.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        while len(written) < 20:
            time.sleep(0.01)
        res = CliRunner().invoke(main, ["backup", str(tmp_path / "b.db"), "--config", str(cfg)])
    finally:
        stop.set()
        t.join()
    assert res.exit_code == 0, res.output
    assert "integrity ok" in res.output
    copy = sqlite3.connect(tmp_path / "b.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = copy.execute("select count(*) from fetches").fetchone()[0]
    assert 20 <= n <= 2 + len(written)  # a consistent snapshot from some moment of the writing
    assert copy.execute("select count(*) from announcements").fetchone()[0] == 6
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    copy.close()
    assert oct((tmp_path / "b.db").stat().st_mode & 0o777) == "0o600"
    assert not list(tmp_path.glob(".b.db.*"))  # no temporary file left behind


def test_backup_refuses_to_overwrite_and_names_the_problem(tmp_path: Path, site: FixtureServer) -> None:
    cfg = populated(tmp_path, site)
    (tmp_path / "old.db").write_bytes(b"precious")
    res = CliRunner().invoke(main, ["backup", str(tmp_path / "old.db"), "--config", str(cfg)])
    assert res.exit_code == 1 and "old.db already exists (use --force to replace it)" in res.output
    assert (tmp_path / "old.db").read_bytes() == b"precious"
    res = CliRunner().invoke(main, ["backup", str(tmp_path / "old.db"), "--force", "--config", str(cfg)])
    assert res.exit_code == 0 and check(tmp_path / "old.db") == "ok"
    res = CliRunner().invoke(main, ["backup", str(tmp_path / "nowhere" / "x.db"), "--config", str(cfg)])
    assert res.exit_code == 1 and "no folder" in res.output
    folder = tmp_path / "daily"
    folder.mkdir()
    res = CliRunner().invoke(main, ["backup", str(folder), "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    [made] = folder.glob("clusterwatch-*.db")
    assert check(made) == "ok"


def test_backup_of_a_missing_database(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database at"):
        backup(tmp_path / "none.db", tmp_path / "b.db")
    assert not (tmp_path / "none.db").exists()


def test_check_rejects_corrupt_and_foreign_files(tmp_path: Path, site: FixtureServer) -> None:
    populated(tmp_path, site)
    backup(tmp_path / "cw.db", tmp_path / "good.db")
    data = bytearray((tmp_path / "good.db").read_bytes())
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    with pytest.raises(BackupError, match="bad.db"):
        check(bad)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match="not a readable SQLite database"):
        check(garbage)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.close()
    with pytest.raises(BackupError, match="not a clusterwatch database"):
        check(other)


def test_restore_round_trip_keeps_the_replaced_database(tmp_path: Path, site: FixtureServer) -> None:
    cfg = populated(tmp_path, site)
    CliRunner().invoke(main, ["backup", str(tmp_path / "b.db"), "--config", str(cfg)])
    db = open_db(tmp_path / "cw.db")
    with write(db):
        db.execute("DELETE FROM announcements WHERE key NOT IN (SELECT announcement_key FROM events "
                   "WHERE announcement_key IS NOT NULL) AND key NOT IN (SELECT announcement_key FROM attachments)")
    assert db.execute("select count(*) from announcements").fetchone()[0] == 0
    db.close()
    res = CliRunner().invoke(main, ["restore", str(tmp_path / "b.db"), "--yes", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "the previous database is kept at" in res.output
    db = open_db(tmp_path / "cw.db")
    assert db.execute("select count(*) from announcements").fetchone()[0] == 6
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    [kept] = tmp_path.glob("cw.db.before-restore-*")
    assert sqlite3.connect(kept).execute("select count(*) from announcements").fetchone()[0] == 0


def test_restore_is_refused_while_the_daemon_holds_the_lock(tmp_path: Path, site: FixtureServer) -> None:
    cfg = populated(tmp_path, site)
    backup(tmp_path / "cw.db", tmp_path / "b.db")
    before = (tmp_path / "cw.db").read_bytes()
    code = ("import time; from db.lock import writer_lock\n"
            f"with writer_lock({str(tmp_path / 'cw.db')!r}, 'daemon'):\n    print('held', flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        res = cli("restore", str(tmp_path / "b.db"), "--yes", "--config", str(cfg))
    finally:
        child.kill()
        child.wait(10)
    assert res.returncode == 75
    assert "clusterwatch restore:" in res.stderr and "command daemon" in res.stderr
    assert (tmp_path / "cw.db").read_bytes() == before
    assert not list(tmp_path.glob("cw.db.before-restore-*"))


def test_restore_refuses_bad_backups_and_newer_versions(tmp_path: Path, site: FixtureServer) -> None:
    populated(tmp_path, site)
    before = (tmp_path / "cw.db").read_bytes()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\0" * 4096)
    with pytest.raises(BackupError):
        restore(junk, tmp_path / "cw.db", known_migrations())
    with pytest.raises(BackupError, match="no backup at"):
        restore(tmp_path / "missing.db", tmp_path / "cw.db", known_migrations())
    backup(tmp_path / "cw.db", tmp_path / "future.db")
    c = sqlite3.connect(tmp_path / "future.db")
    c.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('clusterwatch', "
              "'m999_future', '2030-01-01')")
    c.commit()
    c.close()
    with pytest.raises(BackupError, match="newer clusterwatch .*m999_future"):
        restore(tmp_path / "future.db", tmp_path / "cw.db", known_migrations())
    assert (tmp_path / "cw.db").read_bytes() == before


def test_restore_asks_before_replacing(tmp_path: Path, site: FixtureServer) -> None:
    cfg = populated(tmp_path, site)
    backup(tmp_path / "cw.db", tmp_path / "b.db")
    res = CliRunner().invoke(main, ["restore", str(tmp_path / "b.db"), "--config", str(cfg)], input="n\n")
    assert res.exit_code == 1 and "Aborted" in res.output
    assert not list(tmp_path.glob("cw.db.before-restore-*"))


# --- status for monitors --------------------------------------------------------------------------

def test_status_exit_codes_follow_the_failure_budget_and_dead_deliveries(tmp_path: Path, site: FixtureServer) -> None:
    cfg = populated(tmp_path, site)
    runner = CliRunner()
    ok = runner.invoke(main, ["status", "--config", str(cfg)])
    assert ok.exit_code == 0, ok.output
    assert "deliveries: 0 waiting, 0 dead" in ok.output
    site.routes[COL + "index.html"] = Resp(500, "down")
    for n in (1, 2):
        runner.invoke(main, ["run", "--once", "--all", "--config", str(cfg)])
        res = runner.invoke(main, ["status", "--config", str(cfg)])
        assert res.exit_code == 0, f"{n} failures are within the budget of 3"
    runner.invoke(main, ["run", "--once", "--all", "--config", str(cfg)])
    res = runner.invoke(main, ["status", "--config", str(cfg)])
    assert res.exit_code == 2
    assert "unhealthy: source ndrc: 3 failed checks in a row (budget 3), failing since 20" in res.output
    rows = {r["source"]: r for r in json.loads(runner.invoke(main, ["status", "--json", "--config", str(cfg)],
                                                             ).stdout)}
    assert rows["ndrc"]["healthy"] is False and rows["off"]["healthy"] is True
    site.routes[COL + "index.html"] = site.routes[COL]
    runner.invoke(main, ["run", "--once", "--all", "--config", str(cfg)])
    assert runner.invoke(main, ["status", "--config", str(cfg)]).exit_code == 0
    # a dead delivery makes status fail until it is requeued (or falls outside --dead-window)
    db = open_db(tmp_path / "cw.db")
    with write(db):
        db.execute("INSERT INTO events (key, type, source, created_at, payload) VALUES "
                   "('e1', 'announcement.new', 'ndrc', '2026-11-30T00:00:00Z', '{}')")
        db.execute("INSERT INTO deliveries (key, event_key, subscriber, channel, status, attempts, next_attempt_at, "
                   "created_at) VALUES ('msg_1', 'e1', 'me', 'console', 'dead', 8, "
                   "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 hours'), '2026-11-30T00:00:00Z')")
    res = runner.invoke(main, ["status", "--config", str(cfg)])
    assert res.exit_code == 2 and "unhealthy: deliveries: 1 dead in the last 7 d" in res.output
    assert runner.invoke(main, ["status", "--dead-window", "1h", "--config", str(cfg)]).exit_code == 0
    assert runner.invoke(main, ["status", "--dead-window", "all", "--config", str(cfg)]).exit_code == 2
    bad = runner.invoke(main, ["status", "--dead-window", "soon", "--config", str(cfg)])
    assert bad.exit_code == 2 and "'soon' is not a duration" in bad.output  # click usage errors exit 2 too
    runner.invoke(main, ["deliveries", "retry", "--dead", "--config", str(cfg)])
    assert runner.invoke(main, ["status", "--config", str(cfg)]).exit_code == 0


# --- logs -----------------------------------------------------------------------------------------

FORGED = "关于公布名单的通知\n2026-11-30T00:00:00.000Z ERROR clusterwatch.pipeline: forged \x1b[31mred\x1b[0m\u2028x\r"


def records(fmt: str) -> list[str]:
    out = io.StringIO()
    logs.setup(fmt=fmt, stream=out, verbose=1)
    try:
        log = logging.getLogger("clusterwatch.pipeline")
        log.warning("%s: new item: %s", "jx", FORGED)
        log.info("checked", extra={"source": "jx", "title": FORGED, "items": 3})
        try:
            raise ValueError(FORGED)
        except ValueError:
            log.exception("failed")
        logging.getLogger("clusterwatch.pipeline").debug("hidden at -v")
    finally:
        logs.setup()
    return out.getvalue().splitlines()


def test_text_logs_cannot_be_forged_by_scraped_text() -> None:
    lines = records("text")
    assert len(lines) == 3  # one line per record, whatever the title holds
    assert all(line.startswith("20") and " clusterwatch.pipeline: " in line for line in lines)
    assert "\x1b" not in "".join(lines) and "\u2028" not in "".join(lines) and "\r" not in "".join(lines)
    assert "new item: 关于公布名单的通知\\n2026-11-30T00:00:00.000Z ERROR" in lines[0]
    assert "\\x1b[31mred" in lines[0] and "\\u2028x\\r" in lines[0]
    assert " INFO " in lines[1] and "source=jx" in lines[1] and "items=3" in lines[1]
    assert "Traceback" in lines[2] and "ValueError" in lines[2]


def test_json_logs_are_one_object_per_line() -> None:
    lines = records("json")
    assert len(lines) == 3
    objs = [json.loads(line) for line in lines]
    assert objs[0]["level"] == "WARNING" and objs[0]["logger"] == "clusterwatch.pipeline"
    assert objs[0]["msg"] == "jx: new item: " + FORGED  # the exact text survives the round trip
    assert objs[1]["source"] == "jx" and objs[1]["items"] == 3 and objs[1]["title"] == FORGED
    assert "ValueError" in objs[2]["exc"]
    assert not any(c in "".join(lines) for c in "\x1b\r\u2028")


def test_quiet_and_verbose_levels() -> None:
    out = io.StringIO()
    logs.setup(stream=out, quiet=1)
    try:
        logging.getLogger("x").warning("dropped at -q")
        logging.getLogger("x").error("kept")
    finally:
        logs.setup()
    assert out.getvalue().count("\n") == 1 and "kept" in out.getvalue()


def test_log_format_option_reaches_the_daemon_logs(tmp_path: Path, site: FixtureServer) -> None:
    trs_site(site)
    site.routes[COL + "index.html"] = Resp(500, "down")
    cfg = write_config(tmp_path, site)
    res = cli("--log-format", "json", "run", "--once", "--config", str(cfg))
    assert res.returncode == 0, res.stderr
    objs = [json.loads(line) for line in res.stderr.splitlines()]
    assert any(o["level"] == "WARNING" and "ndrc" in o["msg"] and "500" in o["msg"] for o in objs)
    res = cli("--log-format", "xml", "status", "--config", str(cfg))
    assert res.returncode == 2 and "'xml' is not one of 'text', 'json'" in res.stderr


def test_restore_onto_a_fresh_machine_creates_an_owner_only_database(tmp_path: Path, site: FixtureServer) -> None:
    populated(tmp_path, site)
    backup(tmp_path / "cw.db", tmp_path / "b.db")
    fresh = tmp_path / "new" / "cw.db"
    assert restore(tmp_path / "b.db", fresh, known_migrations()) is None  # nothing to keep
    assert oct(fresh.stat().st_mode & 0o777) == "0o600" and oct(fresh.parent.stat().st_mode & 0o777) == "0o700"
    assert open_db(fresh).execute("select count(*) from announcements").fetchone()[0] == 6
