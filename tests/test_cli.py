"""The command line and the offline demo, run for real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.demo import run_demo
from tests.servers.http import FixtureServer, Resp
from tests.test_pipeline import ITEMS, LIST, list_page, serve
from tests.conftest import LOOPBACK_ALLOW

ROOT = Path(__file__).resolve().parent.parent


def test_demo_alerts_by_email_and_webhook(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(tmp_path / "demo", out=lines.append)
    assert len(result["emails"]) == 1 and len(result["webhooks"]) == 1
    msg = result["emails"][0]
    assert msg["Subject"] == "[clusterwatch] 浙江省中小企业特色产业集群 第二批 公布"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    hook = result["webhooks"][0]
    assert hook["verified"] is True
    assert json.loads(hook["body"])["data"]["title"] == "关于公布2026年浙江省中小企业特色产业集群（第二批）名单的通知"
    assert [r.outcome for r in result["first"].results] == ["baseline"]
    assert result["first"].deliveries.sent == 0
    assert result["second"].deliveries.sent == 2
    (digest,) = result["digests"]  # the digest subscriber, side by side with the instant one
    assert digest["To"] == "director@example.org" and digest["Subject"] == "[clusterwatch] digest: 1 alert"
    assert "浙江省中小企业特色产业集群 第二批 公布 — 嘉兴市 3" in digest.get_body(preferencelist=("plain",)).get_content()
    text = "\n".join(lines)
    assert "signature verified: yes" in text
    assert f"sqlite-utils query {result['database']}" in text
    assert Path(result["database"]).exists()


def test_demo_command_in_a_subprocess(tmp_path: Path) -> None:
    """The README's first command, as a user runs it."""
    proc = subprocess.run([sys.executable, "-m", "scraper", "demo", "--dir", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "Instant email received by the local SMTP server (1)" in proc.stdout
    assert "Digest email (1)" in proc.stdout
    assert "Webhook received (1)" in proc.stdout
    # the example query the demo prints actually works
    query = "select first_seen, pub_date, title from announcements order by first_seen desc, pub_date desc limit 5"
    out = subprocess.run([sys.executable, "-m", "sqlite_utils", "query", str(tmp_path / "d" / "clusterwatch.db"), query],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) == 5 and rows[0]["title"] == "关于公布2026年浙江省中小企业特色产业集群（第二批）名单的通知"


def test_demo_refuses_a_used_folder(tmp_path: Path) -> None:
    (tmp_path / "clusterwatch.db").write_bytes(b"")
    res = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path)])
    assert res.exit_code == 1 and "already holds a demo database" in res.output


def _config(tmp_path: Path, site: FixtureServer) -> Path:
    p = tmp_path / "cw.toml"
    p.write_text(f'''database = "cw.db"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[politeness]
delay = 0
retries = 0
[[sources]]
name = "jxj"
url = "{site.url(LIST)}"
[sources.selectors]
item = "ul.news-list > li"
[[sources]]
name = "broken"
url = "{site.url('/missing.html')}"
[[subscribers]]
name = "me"
[[subscribers.channels]]
kind = "console"
''', encoding="utf-8")
    return p


def test_run_once_reports_per_source_failures_without_failing(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    cfg = _config(tmp_path, site)
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "jxj: baseline (3 items, 3 new, 0 deliveries)" in res.output
    assert "broken: error:" in res.output and "HTTP 404" in res.output
    # Not due again for 30 minutes: a second cron run skips both.
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])
    assert res.exit_code == 0 and "not due yet: jxj, broken" in res.output


def test_run_once_with_a_bad_config_exits_non_zero(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('[[sources]]\nname = "x"\nurl = "nope"\n', encoding="utf-8")
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(p)])
    assert res.exit_code == 1
    assert f"config error: {p}: sources[0].url: not an http(s) URL" in res.output


def test_check_prints_items_and_writes_nothing(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    cfg = _config(tmp_path, site)
    res = CliRunner().invoke(main, ["check", "jxj", "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    items = [json.loads(line) for line in res.output.splitlines()]
    assert [i["title"] for i in items] == [t for _, t, _ in ITEMS]
    assert items[0]["url"] == site.url(ITEMS[0][0]) and items[0]["date"] == "2026-11-20"
    assert not (tmp_path / "cw.db").exists()


def test_check_a_bare_url_uses_the_heuristic(tmp_path: Path, site: FixtureServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    site.routes[LIST] = Resp(200, list_page(ITEMS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLUSTERWATCH_CONFIG", raising=False)
    (tmp_path / "clusterwatch.toml").write_text(LOOPBACK_ALLOW, encoding="utf-8")  # the site is on loopback
    res = CliRunner().invoke(main, ["check", site.url(LIST)])
    assert res.exit_code == 0, res.output
    assert "adhoc: 3 items (adapter static (heuristic))" in res.output
    assert ITEMS[2][1] in res.output


def test_check_reports_fetch_errors_clearly(tmp_path: Path, site: FixtureServer) -> None:
    cfg = _config(tmp_path, site)
    res = CliRunner().invoke(main, ["check", "broken", "--config", str(cfg)])
    assert res.exit_code == 1
    assert f"broken: {site.url('/missing.html')}: HTTP 404" in res.output
