"""Crash safety of the outbox (issue 5 "Fault tests"; reliability.md §1.3, §6 crash loop, §7 items 1-4).

A real ``python -m scraper run --once --all`` runs in a child process against a loopback bureau
site (two sources), a real aiosmtpd server and two Standard Webhooks receivers, with
``CLUSTERWATCH_FAULT`` set to one of scraper.faults.POINTS: the child SIGKILLs itself there. It is
then restarted without the fault (tests/crash_child.py: ``run --once --all``, then the relay once
more past its lease, as the daemon would an hour later) and has to finish the job.

After every restart:

* every announcement.new x channel has exactly one delivery row, keyed deterministically, and
  every row is ``sent``;
* every receiver saw each of its alerts at least once and at most twice, always under the
  delivery's key (``webhook-id`` / the ``Message-ID`` local part) and with the same content;
* a kill at ``after_commit`` or ``before_send`` loses and duplicates nothing (exactly once);
* a kill at ``after_send`` duplicates at least the alert it was killed after (the documented
  window) and at most one alert per target that was being sent to at that moment;
* ``PRAGMA integrity_check`` is ok (also straight after the kill).

The cycle repeats several times per point with several new items per source each time.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import pytest

from notifier.routing import delivery_key
from scraper.diff import item_key
from scraper.faults import POINTS
from tests.conftest import new_secret
from tests.servers.http import FixtureServer, Resp
from tests.servers.smtp import SmtpServer
from tests.servers.webhook import WebhookReceiver
from tests.test_pipeline import ITEMS, LIST, detail_page, list_page

REPO = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).with_name("crash_child.py")
ROUNDS = 5  # crash + restart cycles per fault point (x3 points)
LISTS = {"jxa": LIST, "jxb": "/col/col1229399351/index.html"}
MAILBOXES = ("analyst@example.org", "boss@example.org")
MID_DOMAIN = "alerts.example.org"
# (subscriber, channel id) of every alert: one email per recipient, one webhook per subscriber
CHANNELS = tuple(("desk", f"email:{a}") for a in MAILBOXES) + (("desk", "webhook"), ("bot", "webhook"))
GROUPS = len(CHANNELS)  # targets the relay sends to concurrently


class Rig:
    """The site, the receivers, a config and the child processes, for one test."""

    def __init__(self, tmp_path: Path, site: FixtureServer, smtp: SmtpServer,
                 hooks: dict[str, WebhookReceiver], secret: str) -> None:
        self.site, self.smtp, self.hooks, self.secret = site, smtp, hooks, secret
        self.db_path = tmp_path / "cw.db"
        self.config = tmp_path / "cw.toml"
        self.pages: dict[str, list[tuple[str, str, str]]] = {}
        self.published: dict[str, set[str]] = {}  # source -> item urls announced after the baseline
        self.n = 0
        subs = f"""
[[subscribers]]
name = "desk"
[[subscribers.channels]]
kind = "email"
to = [{", ".join(f'"{a}"' for a in MAILBOXES)}]
[[subscribers.channels]]
kind = "webhook"
url = "{hooks['desk'].url}"
secret_env = "TEST_WEBHOOK_SECRET"
[[subscribers]]
name = "bot"
[[subscribers.channels]]
kind = "webhook"
url = "{hooks['bot'].url}"
secret_env = "TEST_WEBHOOK_SECRET"
"""
        sources = ""
        for name, path in LISTS.items():
            sources += f"""
[[sources]]
name = "{name}"
url = "{site.url(path)}"
[sources.selectors]
item = "ul.news-list > li"
date = "span.date"
"""
        self.config.write_text(f"""database = "cw.db"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[politeness]
delay = 0
retries = 0
timeout = 5
deadline = 20
[delivery]
backoff_base = 1
webhook_timeout = 5
[attachments]
download = false
[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "plain"
timeout = 5
from = "clusterwatch <alerts@example.org>"
message_id_domain = "{MID_DOMAIN}"
{sources}{subs}""", encoding="utf-8")
        for name, path in LISTS.items():
            col = path.split("/")[2]
            self.pages[name] = [(href.replace("col1229399350", col).replace("art_1229399350", f"art_{col}"),
                                 title, date) for href, title, date in ITEMS]
            self.published[name] = set()
            self._serve(name)

    # --- the site ---------------------------------------------------------------------------------------

    def _serve(self, name: str) -> None:
        items = self.pages[name]
        self.site.routes[LISTS[name]] = Resp(200, list_page(items))
        for href, title, date in items:
            self.site.routes[href] = Resp(200, detail_page(title, date))

    def publish(self, per_source: int) -> None:
        """Put ``per_source`` new announcements at the top of each source's list."""
        for name in LISTS:
            new = []
            for _ in range(per_source):
                self.n += 1
                new.append((f"/art/2026/12/{self.n % 28 + 1}/art_{name}_{5600000 + self.n}.html",
                            f"关于公布2026年第{self.n}批浙江省中小企业特色产业集群名单的通知", "2026-12-01"))
            self.pages[name] = new + self.pages[name]
            self.published[name].update(self.site.url(href) for href, _, _ in new)
            self._serve(name)

    # --- children ---------------------------------------------------------------------------------------

    def _env(self, fault: str | None) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("CLUSTERWATCH_FAULT", None)
        if fault:
            env["CLUSTERWATCH_FAULT"] = fault
        env["TEST_WEBHOOK_SECRET"] = self.secret
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        return env

    def crash(self, fault: str) -> None:
        """The real CLI, killed by its own SIGKILL at ``fault``."""
        cmd = [sys.executable, "-m", "scraper", "run", "--once", "--all", "--config", str(self.config)]
        p = subprocess.run(cmd, cwd=REPO, env=self._env(fault), capture_output=True, text=True, timeout=60)
        assert p.returncode == -signal.SIGKILL, (fault, p.returncode, p.stdout, p.stderr)

    def restart(self) -> str:
        cmd = [sys.executable, str(CHILD), str(self.config), "--after-lease"]
        p = subprocess.run(cmd, cwd=REPO, env=self._env(None), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
        assert "Traceback" not in p.stderr, p.stderr
        return p.stdout

    # --- what happened ------------------------------------------------------------------------------------

    def sql(self, query: str) -> list[tuple]:
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            return conn.execute(query).fetchall()
        finally:
            conn.close()

    def assert_intact(self) -> None:
        assert self.sql("PRAGMA integrity_check") == [("ok",)]
        assert self.sql("PRAGMA foreign_key_check") == []

    def received(self) -> dict[str, list[tuple[str, object]]]:
        """delivery key -> [(where it arrived, its content)], over all receivers."""
        out: dict[str, list[tuple[str, object]]] = defaultdict(list)
        for msg, env in zip(list(self.smtp.messages), list(self.smtp.envelopes)):
            mid = str(msg["Message-ID"]).strip()
            assert mid.startswith("<") and mid.endswith(f"@{MID_DOMAIN}>"), mid
            key = mid[1:].split("@", 1)[0]
            assert msg["X-Clusterwatch-Key"] == key
            assert [r.lower() for r in env.rcpt_tos] == [str(msg["To"]).lower()]  # one message per recipient
            text = msg.get_body(("plain",)).get_content()
            out[key].append((f"desk/email:{str(msg['To']).lower()}", (str(msg["Subject"]), text)))
        for sub, hook in self.hooks.items():
            for r in list(hook.received):
                if len(r.body) < int(r.headers.get("content-length") or 0):
                    continue  # cut off by the SIGKILL between headers and body: not delivered (a real server drops it)
                assert r.verified, r.error  # a valid Standard Webhooks signature on every attempt
                out[r.headers["webhook-id"]].append((f"{sub}/webhook", r.body))
        return out

    def deliveries(self) -> list[tuple[str, str, str, str, str, str | None]]:
        """(key, subscriber, channel, status, event type, announcement url)."""
        return self.sql(
            "SELECT d.key, d.subscriber, d.channel, d.status, e.type, a.url FROM deliveries d "
            "JOIN events e ON e.key = d.event_key LEFT JOIN announcements a ON a.key = e.announcement_key "
            "ORDER BY d.id")

    def expected_keys(self) -> dict[str, str]:
        """Every alert that must exist by now: delivery key -> "subscriber/channel"."""
        out = {}
        for name, urls in self.published.items():
            for url in urls:
                event = self.sql(f"SELECT key FROM events WHERE type = 'announcement.new' "
                                 f"AND announcement_key = '{item_key(name, url)}'")
                assert len(event) == 1, (name, url, event)  # stored once: nothing lost, nothing doubled
                for sub, channel in CHANNELS:
                    out[delivery_key(sub, channel, event[0][0])] = f"{sub}/{channel}"
        return out


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    site = FixtureServer()
    smtp = SmtpServer().start()
    secret = new_secret()
    hooks = {"desk": WebhookReceiver(secret), "bot": WebhookReceiver(secret)}
    try:
        yield Rig(tmp_path, site, smtp, hooks, secret)
    finally:
        for h in hooks.values():
            h.close()
        smtp.stop()
        site.close()


def check_everything_delivered(rig: Rig, before: dict[str, int], point: str) -> None:
    """The invariants after a restart. ``before``: receipts per key before this round's crash."""
    rig.assert_intact()
    rows = rig.deliveries()
    assert rows, "nothing was enqueued"
    assert len({r[0] for r in rows}) == len(rows)  # one row per idempotency key
    assert [r for r in rows if r[3] != "sent"] == []
    assert {r[4] for r in rows} == {"announcement.new"}  # no stray alerts (batch events are opt-in)
    expected = rig.expected_keys()
    assert {r[0]: f"{r[1]}/{r[2]}" for r in rows} == expected  # every announcement x channel, keyed H(sub, ch, ev)
    assert rig.sql("SELECT count(*) FROM events WHERE type = 'announcement.new'") == [(len(expected) // GROUPS,)]

    got = rig.received()
    assert set(got) == set(expected), "an alert never arrived, or one arrived that was never enqueued"
    for key, hits in got.items():
        assert 1 <= len(hits) <= 2, (key, len(hits))
        assert {where for where, _ in hits} == {expected[key]}, (key, hits)  # always the right target ...
        assert len({repr(content) for _, content in hits}) == 1, key  # ... with the same content
    this_round = {k: len(v) for k, v in got.items() if k not in before}
    assert this_round, "this round announced nothing"
    assert all(len(got[k]) == n for k, n in before.items()), "an alert from an earlier round was sent again"
    duplicates = [k for k, n in this_round.items() if n > 1]
    if point in ("after_commit", "before_send"):
        assert duplicates == [], f"a kill at {point} must not duplicate anything"
    else:
        # the alert the relay was killed after is sent again (same key), plus at most the one
        # send that was under way to each other target at that moment
        assert 1 <= len(duplicates) <= GROUPS, duplicates


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_each_point_then_restart_delivers_each_alert_once_or_twice(rig: Rig, point: str) -> None:
    # The first run is a silent baseline; only after_commit is reachable there (nothing to send).
    if point == "after_commit":
        rig.crash(point)
        rig.assert_intact()
    rig.restart()
    assert rig.sql("SELECT count(*) FROM announcements") == [(2 * len(ITEMS),)]
    assert rig.sql("SELECT count(*) FROM deliveries") == [(0,)]
    assert rig.received() == {}

    for i in range(ROUNDS):
        rig.publish(2 + i % 2)  # 2 or 3 new per source: below the mass-change breaker
        before = {k: len(v) for k, v in rig.received().items()}
        rig.crash(point)
        rig.assert_intact()
        now = {k: len(v) for k, v in rig.received().items()}
        states = dict(rig.sql("SELECT status, count(*) FROM deliveries GROUP BY status"))
        if point == "after_commit":
            assert now == before  # killed before the relay ran
            assert rig.sql("SELECT count(*) FROM deliveries WHERE status != 'sent' AND status != 'pending'") == [(0,)]
        elif point == "before_send":
            assert now == before  # killed before the first send
            assert states.get("sending", 0) > 0  # claimed, leased, not sent
        else:
            assert sum(now.values()) > sum(before.values())  # at least the send it was killed after
            assert states.get("sending", 0) > 0
        rig.restart()
        check_everything_delivered(rig, before, point)
