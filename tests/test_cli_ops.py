"""`status` and `backfill`, run for real against the loopback fixture site."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from db import open_db
from scraper.cli import main
from tests.conftest import PAGES
from tests.servers.http import FixtureServer, Resp

COL = "/zcfb/tz/"


def trs_site(site: FixtureServer) -> None:
    site.routes[COL] = Resp(200, (PAGES / "trs" / "ndrc_index.html").read_bytes())
    site.routes[COL + "index.html"] = site.routes[COL]
    site.routes[COL + "index_1.html"] = Resp(200, (PAGES / "trs" / "ndrc_index_1.html").read_bytes())


def write_config(tmp_path: Path, site: FixtureServer, extra: str = "") -> Path:
    p = tmp_path / "cw.toml"
    p.write_text(f'''database = "cw.db"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[politeness]
delay = 0
retries = 0
[[sources]]
name = "ndrc"
url = "{site.url(COL + 'index.html')}"
kind = "trs"
interval = "1h"
{extra}
[[sources]]
name = "off"
url = "{site.url('/off/')}"
enabled = false
[[subscribers]]
name = "me"
[[subscribers.channels]]
kind = "console"
''', encoding="utf-8")
    return p


def test_backfill_walks_deeper_silently(tmp_path: Path, site: FixtureServer) -> None:
    trs_site(site)
    cfg = write_config(tmp_path, site)
    res = CliRunner().invoke(main, ["backfill", "ndrc", "--pages", "5", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "ndrc: backfilled (2 pages, 9 items, 9 added to history)" in res.output
    db = open_db(tmp_path / "cw.db")
    assert db.execute("select count(*), sum(baseline) from announcements").fetchone() == (9, 9)
    assert db.execute("select count(*) from events").fetchone()[0] == 0
    assert db.execute("select count(*) from deliveries").fetchone()[0] == 0
    assert db.execute("select last_outcome, baseline_at from sources where name = 'ndrc'").fetchone() == (None, None)
    # The first regular check after a backfill finds nothing new to announce.
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])
    assert "ndrc: baseline (6 items, 0 new, 0 deliveries)" in res.output, res.output


def test_backfill_with_details_reads_detail_pages(tmp_path: Path, site: FixtureServer) -> None:
    trs_site(site)
    detail = ("<html><head><meta name='ArticleTitle' content='细节标题'><meta name='PubDate' content='2024-11-08 10:00'>"
              "</head><body><div class='TRS_Editor'><p>正文。</p></div></body></html>")
    site.routes["/zcfb/tz/202411/t20241115_1394512.html"] = Resp(200, detail)
    cfg = write_config(tmp_path, site)
    res = CliRunner().invoke(main, ["backfill", "ndrc", "--pages", "1", "--details", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    db = open_db(tmp_path / "cw.db")
    bodies = dict(db.execute("select url, body from announcements").fetchall())
    assert bodies[site.url("/zcfb/tz/202411/t20241115_1394512.html")] == "正文。"
    assert db.execute("select count(*) from events").fetchone()[0] == 0


def test_backfill_of_an_unknown_source(tmp_path: Path, site: FixtureServer) -> None:
    res = CliRunner().invoke(main, ["backfill", "nope", "--pages", "2", "--config", str(write_config(tmp_path, site))])
    assert res.exit_code == 1 and "no source named 'nope'" in res.output


def test_status_table_and_json(tmp_path: Path, site: FixtureServer) -> None:
    trs_site(site)
    cfg = write_config(tmp_path, site)
    runner = CliRunner()
    runner.invoke(main, ["run", "--once", "--config", str(cfg)])
    res = runner.invoke(main, ["status", "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["source"]: r for r in json.loads(res.output)}
    ndrc = rows["ndrc"]
    assert (ndrc["adapter"], ndrc["last_outcome"], ndrc["consecutive_failures"], ndrc["items_known"]) == \
        ("trs", "baseline", 0, 6)
    assert ndrc["next_run"] > ndrc["last_checked"]
    assert rows["off"]["next_run"] is None and rows["off"]["items_known"] == 0
    site.routes[COL + "index.html"] = Resp(500, "down")
    runner.invoke(main, ["run", "--once", "--all", "--config", str(cfg)])
    res = runner.invoke(main, ["status", "--config", str(cfg)])
    lines = res.output.splitlines()
    assert lines[0].split() == ["source", "adapter", "last", "success", "last", "outcome", "fails", "items", "next", "run"]
    assert lines[1].split()[:5] == ["ndrc", "trs", lines[1].split()[2], "error", "1"] and lines[1].split()[5] == "6"
    assert "off" in lines[2] and "disabled" in lines[2]
    assert any("HTTP 500" in line for line in lines[3:])
