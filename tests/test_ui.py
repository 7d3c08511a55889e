"""``clusterwatch ui``: Datasette over a demo database while another writer keeps writing to it.

The server is the real command in a subprocess; the browser test drives Debian's headless Chromium.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

from db import open_db, write
from scraper import ui
from scraper.cli import main
from scraper.demo import SECRET_ENV

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "db" / "datasette" / "metadata.json"
JIAXING = {"嘉兴市平湖市光机电(精密光学元件)", "嘉兴市海宁市经编(高端经编面料)",
           "嘉兴市桐乡市化纤(差别化纤维)"}
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, whatever $http_proxy says

@dataclass
class Demo:
    config: Path
    database: Path
    env: dict[str, str]


@dataclass
class Writer:
    """Inserts fetch rows through db.open_db/db.write until stopped, like a daemon would."""

    database: Path
    written: int = 0
    errors: list[BaseException] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        try:
            db = open_db(self.database)
            while not self.stop.is_set():
                with write(db):
                    db.table("fetches").insert({"source": "jiaxing-jxj-notices", "started_at": _now(),
                                          "url": "http://127.0.0.1/writer", "purpose": "list", "status": 200,
                                          "bytes": 1, "duration": 0.0, "outcome": "ok"})
                self.written += 1
                time.sleep(0.01)
            db.close()
        except BaseException as e:  # reported by the test
            self.errors.append(e)


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with NO_PROXY.open(urllib.request.Request(url, data=data), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _json(url: str) -> Any:
    status, body = _get(url)
    assert status == 200, (url, status, body[:500])
    return json.loads(body)


def _counts(database: Path) -> dict[str, int]:
    db = open_db(database)
    try:
        return {t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in ("selections", "programs")}
    finally:
        db.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End a process started in its own session, and everything it started."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    workdir = tmp_path_factory.mktemp("ui") / "demo"
    env = dict(os.environ, **{SECRET_ENV: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()})
    proc = subprocess.run([sys.executable, "-m", "scraper", "demo", "--dir", str(workdir)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return Demo(workdir / "clusterwatch.toml", workdir / "clusterwatch.db", env)


@pytest.fixture(scope="module")
def writer(demo: Demo) -> Iterator[Writer]:
    w = Writer(demo.database)
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    try:
        yield w
    finally:
        w.stop.set()
        thread.join(10)


@pytest.fixture(scope="module")
def server(demo: Demo, writer: Writer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``clusterwatch ui`` on a free port, started while the writer is writing."""
    if importlib.util.find_spec("datasette") is None:
        pytest.skip("Datasette is not installed (pip install '.[ui]')")
    port = _free_port()
    log = tmp_path_factory.mktemp("ui-log") / "ui.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "scraper", "ui", "--config", str(demo.config),
                                 "--port", str(port)], cwd=ROOT, env=demo.env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"clusterwatch ui exited: {log.read_text()}"
            try:
                if _get(base + "/-/versions.json")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"clusterwatch ui never answered: {log.read_text()}"
            time.sleep(0.1)
        assert writer.written > 0 and not writer.errors
        yield Server(base, proc)
    finally:
        _stop(proc)


def test_canned_query_and_faceted_view_over_http_while_another_process_writes(server: Server,
                                                                             writer: Writer) -> None:
    region = urllib.parse.quote("嘉兴")
    rows = _json(f"{server.base}/clusterwatch/selections_by_region.json?region={region}&_shape=array")
    assert {r["entity"] for r in rows} == JIAXING
    assert {(r["city"], r["program_name"], r["stage"], r["year"], r["batch"]) for r in rows} == \
        {("嘉兴市", "中小企业特色产业集群", "final", 2026, 2)}

    page = _json(f"{server.base}/clusterwatch/v_selections.json?stage=final")
    assert len(page["rows"]) == 10
    assert {"program", "level", "stage", "region", "city", "year"} <= set(page["facet_results"])
    cities = {r["value"]: r["count"] for r in page["facet_results"]["city"]["results"]}
    assert cities["嘉兴市"] == 3 and len(cities) == 8

    entity = urllib.parse.quote("平湖")
    first = _json(f"{server.base}/clusterwatch/entity_first_seen.json?entity={entity}&_shape=array")
    assert [(r["entity"], r["first_published"], r["lists"]) for r in first] == \
        [("嘉兴市平湖市光机电(精密光学元件)", "2026-11-30", 1)]

    # Rows the writer commits while Datasette runs show up on the next query (no stale snapshot).
    sql = urllib.parse.quote("select count(*) as n from fetches")
    count = f"{server.base}/clusterwatch.json?sql={sql}&_shape=array"
    before = _json(count)[0]["n"]
    deadline = time.monotonic() + 5
    while _json(count)[0]["n"] <= before:
        assert time.monotonic() < deadline, "the writer's rows never appeared"
        time.sleep(0.05)
    assert not writer.errors


def test_database_page_lists_the_queries_and_hides_internal_tables(server: Server) -> None:
    page = _json(f"{server.base}/clusterwatch.json")
    assert {q["name"] for q in page["queries"]} == {
        "selections_by_region", "batches_by_program", "final_lists_since", "entity_first_seen",
        "recent_events", "source_health"}
    hidden = {t["name"] for t in page["tables"] if t["hidden"]}
    assert {"_sqlite_migrations", "search_index", "search_index_data", "search_index_config"} <= hidden
    assert "announcements" not in hidden
    assert {"v_selections", "v_batches", "v_timeline", "v_source_health"} <= {v["name"] for v in page["views"]}
    health = _json(f"{server.base}/clusterwatch/source_health.json?_shape=array")
    assert [(r["source"], r["announcements"]) for r in health] == [("jiaxing-jxj-notices", 9)]


def test_nothing_can_be_written_through_datasette(server: Server, demo: Demo) -> None:
    before = _counts(demo.database)
    status, body = _get(f"{server.base}/clusterwatch.json?sql="
                        + urllib.parse.quote("insert into programs (key) values ('x')"))
    assert status == 400 and b"Statement must be a SELECT" in body
    # A write that passes Datasette's SELECT check still meets SQLite's read-only connection.
    status, body = _get(f"{server.base}/clusterwatch.json?sql="
                        + urllib.parse.quote("with x as (select 1) delete from selections"))
    assert json.loads(body)["ok"] is False and "readonly database" in json.loads(body)["error"]
    status, _ = _get(f"{server.base}/clusterwatch/selections_by_region", data=b"region=x")
    assert status >= 400  # canned queries are not writable: a POST is not executed
    status, _ = _get(f"{server.base}/clusterwatch/programs", data=b"key=x")
    assert status >= 400
    assert _counts(demo.database) == before


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("chromium")
    assert exe
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-proxy-server",
           f"--user-data-dir={profile}", "--window-size=1280,900", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        _stop(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _png(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="headless Chromium is not installed (apt-get install chromium)")
def test_the_selections_page_renders_in_headless_chromium(server: Server, tmp_path: Path) -> None:
    url = f"{server.base}/clusterwatch/v_selections"
    shot = tmp_path / "ui.png"
    done = _chromium(f"--screenshot={shot}", url, profile=tmp_path / "profile-1")
    assert shot.is_file(), done.stderr.decode(errors="replace")[-2000:]
    width, height, pixels = _png(shot)
    assert (width, height) == (1280, 900)
    assert shot.stat().st_size > 20_000 and len(set(pixels)) > 64, "the screenshot is blank"

    dom = _chromium("--dump-dom", url, profile=tmp_path / "profile-2").stdout.decode()
    assert "Selections: every entity named in a list" in dom
    assert all(name in dom for name in JIAXING), dom[:2000]
    assert re.search(r"<th[^>]*data-column=\"entity\"", dom)


# --- the command's checks (no server needed) ---------------------------------------------------

def _config(tmp_path: Path, database: str = "history.db") -> Path:
    cfg = tmp_path / "clusterwatch.toml"
    cfg.write_text(f'database = "{database}"\n', encoding="utf-8")
    return cfg


def _with_db(tmp_path: Path) -> Path:
    cfg = _config(tmp_path)
    open_db(tmp_path / "history.db").close()
    return cfg


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["ui", "--config", str(_config(tmp_path))])
    assert res.exit_code == 1
    assert f"no database at {tmp_path / 'history.db'} — run `clusterwatch run --once` first" in res.output


def test_missing_datasette_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui, "datasette_version", lambda: None)
    res = CliRunner().invoke(main, ["ui", "--config", str(_with_db(tmp_path))])
    assert res.exit_code == 1 and "pip install 'clusterwatch[ui]'" in res.output


def test_a_reachable_host_needs_public(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    launched: list[ui.Launch] = []
    monkeypatch.setattr(ui, "exec_datasette", launched.append)
    monkeypatch.setattr(ui, "datasette_version", lambda: "0.65.5")
    cfg = str(_with_db(tmp_path))
    port = str(_free_port())
    res = CliRunner().invoke(main, ["ui", "--config", cfg, "--host", "0.0.0.0", "--port", port])
    assert res.exit_code == 2 and "--public" in res.output and not launched
    res = CliRunner().invoke(main, ["ui", "--config", cfg, "--host", "0.0.0.0", "--port", port, "--public"])
    assert res.exit_code == 0, res.output
    assert "warning: serving on 0.0.0.0" in res.output
    assert [(x.host, x.port, x.name) for x in launched] == [("0.0.0.0", int(port), "history")]
    res = CliRunner().invoke(main, ["ui", "--config", cfg, "--host", "localhost", "--port", port])
    assert res.exit_code == 0 and "warning" not in res.output and len(launched) == 2


def test_a_busy_port_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui, "datasette_version", lambda: "0.65.5")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        res = CliRunner().invoke(main, ["ui", "--config", str(_with_db(tmp_path)), "--port", str(port)])
    assert res.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in res.output


def test_datasette_command_line_is_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATASETTE_SECRET", "known")
    launch = ui.Launch(tmp_path / "history.db", "127.0.0.1", 8001, ui.metadata_for(tmp_path / "history.db"))
    argv = ui.command(launch, "/dev/fd/3")
    assert argv[:5] == [sys.executable, "-m", "datasette", "serve", str(tmp_path / "history.db")]
    assert not {"-i", "--immutable", "--root", "--cors", "--crossdb", "--create", "--reload"} & set(argv)
    assert "DATASETTE_SECRET" not in ui.environment()
    assert launch.url == "http://127.0.0.1:8001/history"


def test_print_metadata_uses_the_database_name(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["ui", "--config", str(_config(tmp_path)), "--print-metadata"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert list(data["databases"]) == ["history"]
    assert data["databases"]["history"]["queries"] == ui.shipped_metadata()["databases"]["clusterwatch"]["queries"]


def test_db_option_needs_no_config(tmp_path: Path) -> None:
    copy = tmp_path / "copy-of-history.db"
    res = CliRunner().invoke(main, ["ui", "--db", str(copy), "--config", str(tmp_path / "none.toml"),
                                    "--print-metadata"])
    assert res.exit_code == 0, res.output
    assert list(json.loads(res.output)["databases"]) == ["copy-of-history"]


# --- the shipped metadata ---------------------------------------------------------------------

def _schema_doc() -> dict[str, dict[str, str]]:
    """docs/schema.md: each table's and view's column descriptions, as plain text."""
    out: dict[str, dict[str, str]] = {}
    table = None
    for line in (ROOT / "docs" / "schema.md").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^## `(\w+)`", line):
            table = m.group(1)
            out[table] = {}
        elif (m := re.match(r"^\| `(\w+)` \| (.*) \|$", line)) and table:
            out[table][m.group(1)] = m.group(2).replace("`", "").replace("*", "")
    return out


def test_metadata_column_descriptions_follow_docs_schema() -> None:
    doc = _schema_doc()
    tables = ui.shipped_metadata()["databases"]["clusterwatch"]["tables"]
    for name in ("v_selections", "v_batches", "v_timeline", "v_source_health"):
        assert tables[name]["columns"] == doc[name], f"update {name} in db/datasette/metadata.json"
    for name, meta in tables.items():
        for column, text in meta.get("columns", {}).items():
            assert doc[name].get(column) == text, f"{name}.{column}: update db/datasette/metadata.json"


def test_metadata_facets_sorts_and_queries_fit_the_schema() -> None:
    db = open_db(None)
    meta = ui.shipped_metadata()["databases"]["clusterwatch"]
    names = set(db.table_names()) | set(db.view_names())
    for name, table in meta["tables"].items():
        assert name in names, name
        columns = {c.name for c in db[name].columns}
        for key in ("facets", "sortable_columns"):
            assert set(table.get(key, ())) <= columns, (name, key)
        for key in ("sort", "sort_desc", "label_column"):
            assert table.get(key, "rowid") in columns | {"rowid"}, (name, key)
    assert meta["tables"]["v_selections"]["facets"] == ["program", "level", "stage", "region", "city", "year"]
    for name, query in meta["queries"].items():
        assert not query.get("write"), f"{name} must not write"
        params = {p: "" for p in re.findall(r":(\w+)", query["sql"])}
        db.execute(query["sql"], params).fetchall()  # valid SQL over the live schema


def test_metadata_is_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["db"]
    assert any(METADATA.relative_to(ROOT / "db").match(g) for g in globs), globs
    assert "datasette" in " ".join(pyproject["project"]["optional-dependencies"]["ui"])
