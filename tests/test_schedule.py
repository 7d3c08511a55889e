"""Schedules, due checks and the daemon's clean shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from config import Source
from db import open_db
from scraper.schedule import is_due, trigger_for
from tests.servers.http import FixtureServer
from tests.test_pipeline import ITEMS, LIST, serve

ROOT = Path(__file__).resolve().parent.parent
SH = ZoneInfo("Asia/Shanghai")


def test_interval_due() -> None:
    s = Source(name="a", url="http://a.example.org/", interval=1800)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    assert is_due(s, None, now, "Asia/Shanghai")
    assert not is_due(s, "2026-11-30T11:45:00Z", now, "Asia/Shanghai")
    assert is_due(s, "2026-11-30T11:30:00Z", now, "Asia/Shanghai")


def test_cron_weekday_names_fire_on_the_named_day() -> None:
    s = Source(name="a", url="http://a.example.org/", interval=None, cron="0 9 * * mon")
    trig = trigger_for(s, "Asia/Shanghai")
    fire = trig.get_next_fire_time(None, datetime(2026, 11, 26, 12, 0, tzinfo=SH))  # a Thursday
    assert fire == datetime(2026, 11, 30, 9, 0, tzinfo=SH) and fire.strftime("%a") == "Mon"
    # checked Friday, it is due after Monday 09:00 Shanghai time, not before
    last = "2026-11-27T02:00:00Z"
    assert not is_due(s, last, datetime(2026, 11, 30, 0, 59, tzinfo=timezone.utc), "Asia/Shanghai")
    assert is_due(s, last, datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc), "Asia/Shanghai")


def test_interval_trigger_has_bounded_jitter() -> None:
    s = Source(name="a", url="http://a.example.org/", interval=600)
    assert trigger_for(s, "Asia/Shanghai").jitter == 60


def test_daemon_checks_due_sources_and_stops_cleanly_on_sigterm(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    cfg = tmp_path / "cw.toml"
    cfg.write_text(f'''database = "cw.db"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[politeness]
delay = 0
[delivery]
interval = 60
[[sources]]
name = "jxj"
url = "{site.url(LIST)}"
interval = "1h"
[sources.selectors]
item = "ul.news-list > li"
[[subscribers]]
name = "me"
[[subscribers.channels]]
kind = "console"
''', encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "scraper", "-v", "daemon", "--config", str(cfg)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not site.hits(LIST):
            time.sleep(0.05)
        assert site.hits(LIST), "the daemon never fetched the due source"
        db = open_db(tmp_path / "cw.db")
        for _ in range(100):
            if db.execute("select baseline_at from sources where name='jxj'").fetchone()[0]:
                break
            time.sleep(0.05)
        assert db.execute("select count(*) from announcements").fetchone()[0] == 3
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "daemon started: 1 sources" in err
    assert "stopped" in err
    assert "Traceback" not in err
    assert len(site.hits(LIST)) == 1  # interval 1h: exactly one check


def test_sigterm_during_a_check_lets_it_finish(tmp_path: Path, site: FixtureServer) -> None:
    """SIGTERM while the list page is still downloading: the check completes and is stored, then exit 0."""
    from tests.servers.http import Request, Resp
    from tests.test_pipeline import list_page

    started = []

    def slow(req: Request) -> Resp:
        started.append(time.monotonic())
        time.sleep(1.5)
        return Resp(200, list_page(ITEMS))

    site.routes[LIST] = slow
    cfg = tmp_path / "cw.toml"
    cfg.write_text(f'''database = "cw.db"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[politeness]
delay = 0
[[sources]]
name = "jxj"
url = "{site.url(LIST)}"
[sources.selectors]
item = "ul.news-list > li"
''', encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "scraper", "daemon", "--config", str(cfg)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not started:
            time.sleep(0.02)
        assert started, "the daemon never started the check"
        proc.send_signal(signal.SIGTERM)  # mid-download
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    db = open_db(tmp_path / "cw.db")
    assert db.execute("select last_outcome from sources where name = 'jxj'").fetchone()[0] == "baseline"
    assert db.execute("select count(*) from announcements").fetchone()[0] == 3


def test_daemon_delivers_pending_alerts_on_its_own_schedule(tmp_path: Path, site: FixtureServer,
                                                            monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A delivery left pending by an earlier run goes out from the daemon's relay job, no check needed."""
    import asyncio

    import config
    from scraper.runner import run_once
    from tests.conftest import new_secret
    from tests.servers.webhook import WebhookReceiver
    from tests.test_pipeline import NEW

    secret = new_secret()
    monkeypatch.setenv("HOOK_SECRET", secret)
    hook = WebhookReceiver(secret, statuses=[503, 204])
    try:
        serve(site, ITEMS)
        cfg = tmp_path / "cw.toml"
        cfg.write_text(f'''database = "cw.db"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[politeness]
delay = 0
[delivery]
backoff_base = 1
interval = 60
[[sources]]
name = "jxj"
url = "{site.url(LIST)}"
interval = "1h"
[sources.selectors]
item = "ul.news-list > li"
[[subscribers]]
name = "desk"
[[subscribers.channels]]
kind = "webhook"
url = "{hook.url}"
secret_env = "HOOK_SECRET"
''', encoding="utf-8")
        settings = config.load(cfg)
        db = open_db(settings.database)
        asyncio.run(run_once(settings, db, force=True))
        serve(site, [NEW, *ITEMS])
        asyncio.run(run_once(settings, db, force=True))  # the webhook answers 503: left pending
        assert db.execute("select status from deliveries").fetchone()[0] == "pending"
        time.sleep(1.1)  # past the 1 s backoff
        hits_before = len(site.hits(LIST))
        proc = subprocess.Popen([sys.executable, "-m", "scraper", "daemon", "--config", str(cfg)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "HOOK_SECRET": secret})
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(hook.received) < 2:
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert len(hook.received) == 2 and hook.received[1].verified
        assert hook.received[0].headers["webhook-id"] == hook.received[1].headers["webhook-id"]
        assert db.execute("select status from deliveries").fetchone()[0] == "sent"
        assert len(site.hits(LIST)) == hits_before  # not due: the daemon did not check the source
    finally:
        hook.close()
