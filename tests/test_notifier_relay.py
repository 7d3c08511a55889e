"""notifier.relay_once end to end: a real SQLite outbox, a real SMTP server and real webhook
receivers on 127.0.0.1 (reliability.md §1.3-1.4, §7 items 2-3, 5-11).

Rows are made the way production makes them: ``db.store.commit_check`` with events from
``scraper.diff.event_for`` and deliveries from ``notifier.routing.plan``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import socket
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from standardwebhooks.webhooks import Webhook

import config
import db as dbm
import notifier.webhook as webhook_mod
from db import outbox, store
from notifier import relay_once
from notifier.base import Message, Target
from notifier.relay import RelayReport
from notifier.routing import plan
from scraper.diff import event_for, item_key
from scraper.models import Announcement, PlannedDelivery
from scraper.timeutil import iso, parse_iso, utcnow
from tests.conftest import LOOPBACK, LOOPBACK_ALLOW, new_secret
from tests.servers.smtp import SmtpServer, free_port
from tests.servers.webhook import ReceiverPool, WebhookReceiver

SOURCE = "jx"
SECRET = new_secret()  # shared by the module's receivers; exported as TEST_WEBHOOK_SECRET per test
MID_DOMAIN = "alerts.example.org"
KEY_RE = re.compile(r"^msg_[0-9a-f]{32}$")


# --- webhook receivers, reused (closing one costs 0.5 s) ---------------------------------------------------


class HookPool(ReceiverPool):
    """This module's receivers all verify with SECRET unless told otherwise; statuses come first."""

    def take(self, statuses: list[int] | None = None,  # type: ignore[override]
             extra_headers: dict[str, str] | None = None, secret: str = SECRET) -> WebhookReceiver:
        return super().take(secret, statuses, extra_headers)


@pytest.fixture(scope="module")
def _pool() -> Iterator[HookPool]:
    pool = HookPool()
    yield pool
    pool.close()


@pytest.fixture
def hooks(_pool: HookPool, monkeypatch: pytest.MonkeyPatch) -> HookPool:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    _pool.used = 0
    return _pool


class FakeTime:
    """Replaces the ``time`` module inside notifier.webhook: real time plus an offset."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    ft = FakeTime()
    monkeypatch.setattr(webhook_mod, "time", ft)
    return ft


# --- config --------------------------------------------------------------------------------------------------


def config_text(*subscribers: str, smtp_port: int | None = None, smtp_timeout: float = 2.0,
                max_attempts: int = 5, backoff_base: float = 1.0, backoff_max: float = 3600.0,
                webhook_timeout: float = 2.0) -> str:
    text = LOOPBACK_ALLOW + f"""
[delivery]
max_attempts = {max_attempts}
backoff_base = {backoff_base}
backoff_max = {backoff_max}
webhook_timeout = {webhook_timeout}
"""
    if smtp_port is not None:
        text += f"""
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
from = "clusterwatch <alerts@example.org>"
timeout = {smtp_timeout}
message_id_domain = "{MID_DOMAIN}"
"""
    return text + "".join(subscribers)


def email_sub(name: str, *to: str) -> str:
    addrs = ", ".join(f'"{a}"' for a in to)
    return f"""
[[subscribers]]
name = "{name}"
[[subscribers.channels]]
kind = "email"
to = [{addrs}]
"""


def webhook_sub(name: str, url: str, secret_env: str = "TEST_WEBHOOK_SECRET") -> str:
    return f"""
[[subscribers]]
name = "{name}"
[[subscribers.channels]]
kind = "webhook"
url = "{url}"
secret_env = "{secret_env}"
"""


# --- the database ----------------------------------------------------------------------------------------------


class World:
    def __init__(self, tmp_path: Path, settings: config.Settings):
        self.settings = settings
        self.db = dbm.open_db(tmp_path / "t.db")
        self.n = 0
        store.sync_sources(self.db, [(SOURCE, "http://example.invalid/", "static")], iso(utcnow()))

    def announce(self, title: str = "关于公布2026年度专精特新中小企业名单的通知", *,
                 payload: dict[str, Any] | None = None) -> list[PlannedDelivery]:
        """Commit one new announcement with its event and deliveries, as a check would."""
        self.n += 1
        url = f"http://example.invalid/art/{self.n}.html"
        a = Announcement(key=item_key(SOURCE, url), source=SOURCE, url=url, title=title, pub_date="2026-03-01",
                         content_hash=f"h{self.n}", body="正文第一段")
        ev = event_for(a)
        if payload is not None:
            ev = dataclasses.replace(ev, payload=payload)
        planned = plan([ev], self.settings.subscribers)
        assert planned, "the test config routes nothing"
        store.commit_check(self.db, source=SOURCE, now=iso(utcnow()), seen_keys=[a.key], announcements=[a],
                           events=[ev], deliveries=planned, baseline=False, etag=None, last_modified=None,
                           outcome="ok")
        return planned

    def relay(self, now: datetime | None = None, settings: config.Settings | None = None,
              **kw: Any) -> RelayReport:
        return asyncio.run(relay_once(settings or self.settings, self.db, now=now, **kw))

    def rows(self) -> list[dict[str, Any]]:
        return outbox.deliveries(self.db)

    def row(self, subscriber: str, channel_prefix: str = "") -> dict[str, Any]:
        found = [r for r in self.rows() if r["subscriber"] == subscriber and r["channel"].startswith(channel_prefix)]
        assert len(found) == 1, found
        return found[0]


@pytest.fixture
def world(tmp_path: Path, load_config: Callable[[str], config.Settings]) -> Callable[..., World]:
    def make(*subscribers: str, **kw: Any) -> World:
        return World(tmp_path, load_config(config_text(*subscribers, **kw)))

    return make


def days(n: float) -> datetime:
    return utcnow() + timedelta(days=n)


# --- webhook delivery ----------------------------------------------------------------------------------------------


def test_webhook_500_then_200_is_retried_then_sent(world: Callable[..., World], hooks: HookPool,
                                                   fake_time: FakeTime) -> None:
    hook = hooks.take([500, 200])
    w = world(webhook_sub("alice", hook.url))
    [planned] = w.announce()

    report = w.relay()
    assert (report.sent, report.retried, report.dead) == (0, 1, 0)
    row = w.row("alice")
    assert row["key"] == planned.key
    assert row["status"] == "pending"
    assert row["attempts"] == 1
    assert "500" in row["last_error"]
    assert row["sent_at"] is None

    fake_time.offset = 40  # the retry happens later: a fresh timestamp
    report = w.relay(now=days(1))
    assert (report.sent, report.retried, report.dead) == (1, 0, 0)
    row = w.row("alice")
    assert row["status"] == "sent"
    assert row["attempts"] == 2
    assert row["last_error"] is None
    assert row["sent_at"] is not None

    assert len(hook.received) == 2
    first, second = hook.received
    assert first.verified and second.verified, (first.error, second.error)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == planned.key
    assert first.body == second.body  # byte-identical
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) in (39, 40, 41)
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]

    # nothing more to do, ever
    assert w.relay(now=days(30)).sent == 0
    assert len(hook.received) == 2


def test_webhook_500_500_200_three_attempts_one_identity(world: Callable[..., World], hooks: HookPool,
                                                        fake_time: FakeTime) -> None:
    hook = hooks.take([500, 500, 200])
    w = world(webhook_sub("alice", hook.url))
    [planned] = w.announce()
    for i in range(3):
        fake_time.offset = 20 * i
        w.relay(now=days(i))
    assert w.row("alice")["status"] == "sent"
    assert w.row("alice")["attempts"] == 3
    got = hook.received
    assert len(got) == 3
    assert all(r.verified for r in got), [r.error for r in got]
    assert {r.headers["webhook-id"] for r in got} == {planned.key}
    assert len({r.body for r in got}) == 1
    assert len({r.headers["webhook-timestamp"] for r in got}) == 3
    assert len({r.headers["webhook-signature"] for r in got}) == 3


def test_webhook_body_and_headers(world: Callable[..., World], hooks: HookPool) -> None:
    hook = hooks.take()
    w = world(webhook_sub("alice", hook.url))
    [planned] = w.announce("集群名单")
    w.relay()
    [r] = hook.received
    assert r.verified, r.error
    assert KEY_RE.match(r.headers["webhook-id"])
    body = Webhook(SECRET).verify(r.body, r.headers)
    assert body["type"] == "announcement.new"
    assert body["version"] == 1
    assert body["data"]["title"] == "集群名单"
    assert body["data"]["source"] == SOURCE
    assert body["data"]["event_key"] == planned.event_key
    assert body["data"]["url"].startswith("http://example.invalid/art/")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])


def test_webhook_redirect_not_followed_and_is_a_failure(world: Callable[..., World], hooks: HookPool) -> None:
    target = hooks.take()
    hook = hooks.take([302], {"Location": target.url})
    w = world(webhook_sub("alice", hook.url))
    w.announce()
    report = w.relay()
    assert report.retried == 1 and report.sent == 0
    row = w.row("alice")
    assert row["status"] == "pending"
    assert row["attempts"] == 1
    assert "302" in row["last_error"]
    assert len(hook.received) == 1
    assert target.received == []


@pytest.mark.parametrize("status, text", [(410, "410 Gone"), (400, "answered 400")])
def test_webhook_permanent_status_is_dead_and_never_retried(status: int, text: str, world: Callable[..., World],
                                                           hooks: HookPool) -> None:
    hook = hooks.take([status])
    w = world(webhook_sub("alice", hook.url))
    w.announce()
    report = w.relay()
    assert (report.sent, report.retried, report.dead) == (0, 0, 1)
    row = w.row("alice")
    assert row["status"] == "dead"
    assert row["attempts"] == 1
    assert text in row["last_error"]
    w.relay(now=days(10))
    assert len(hook.received) == 1


def test_webhook_429_retry_after_is_honoured(world: Callable[..., World], hooks: HookPool) -> None:
    hook = hooks.take([429, 204], {"Retry-After": "120"})
    w = world(webhook_sub("alice", hook.url))
    w.announce()
    t0 = utcnow().replace(microsecond=0)
    w.relay()
    t1 = utcnow()
    row = w.row("alice")
    assert row["status"] == "pending" and "429" in row["last_error"]
    due = parse_iso(row["next_attempt_at"])
    assert t0 + timedelta(seconds=119) <= due <= t1 + timedelta(seconds=121)

    w.relay(now=t1 + timedelta(seconds=60))  # not yet due
    assert len(hook.received) == 1
    w.relay(now=t1 + timedelta(seconds=122))
    assert len(hook.received) == 2
    assert w.row("alice")["status"] == "sent"


def test_retry_after_is_capped_by_backoff_max(world: Callable[..., World], hooks: HookPool) -> None:
    hook = hooks.take([503], {"Retry-After": "864000"})  # ten days
    w = world(webhook_sub("alice", hook.url), backoff_max=300.0)
    w.announce()
    w.relay()
    t1 = utcnow()
    due = parse_iso(w.row("alice")["next_attempt_at"])
    assert due <= t1 + timedelta(seconds=301)
    assert due >= t1 + timedelta(seconds=298)  # max(backoff, capped Retry-After) = 300


def test_backoff_with_a_fake_clock(world: Callable[..., World], hooks: HookPool) -> None:
    """Retries are scheduled from the relay's clock, with jitter, doubling; a row is not
    due again at the instant it failed."""
    hook = hooks.take([500])
    w = world(webhook_sub("alice", hook.url), backoff_base=100.0, max_attempts=10)
    w.announce()
    t = datetime(2030, 1, 1, tzinfo=timezone.utc)

    w.relay(now=t)
    due1 = parse_iso(w.row("alice")["next_attempt_at"])
    assert t + timedelta(seconds=50) <= due1 <= t + timedelta(seconds=100)

    w.relay(now=t)  # same instant: nothing is due
    w.relay(now=due1 - timedelta(seconds=1))
    assert len(hook.received) == 1

    w.relay(now=due1)
    assert len(hook.received) == 2
    due2 = parse_iso(w.row("alice")["next_attempt_at"])
    assert due1 + timedelta(seconds=100) <= due2 <= due1 + timedelta(seconds=200)
    assert w.row("alice")["attempts"] == 2


def test_max_attempts_then_dead(world: Callable[..., World], hooks: HookPool) -> None:
    hook = hooks.take([500])
    w = world(webhook_sub("alice", hook.url), max_attempts=2)
    w.announce()
    w.relay()
    row = w.row("alice")
    assert (row["status"], row["attempts"]) == ("pending", 1)

    report = w.relay(now=days(1))
    assert report.dead == 1
    row = w.row("alice")
    assert row["status"] == "dead"
    assert row["attempts"] == 2
    assert row["last_error"] == "gave up after 2 attempts: webhook answered 500"

    w.relay(now=days(30))
    assert len(hook.received) == 2
    assert w.row("alice")["status"] == "dead"


# --- email delivery ---------------------------------------------------------------------------------------------


class PickySmtp(SmtpServer):
    """Refuses RCPT for some addresses only."""

    def __init__(self, refuse: dict[str, str]):
        super().__init__()
        self.refuse = {k.lower(): v for k, v in refuse.items()}

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        return await super().handle_RCPT(server, session, envelope, address, options)


@pytest.fixture
def picky() -> Iterator[Callable[[dict[str, str]], PickySmtp]]:
    servers: list[PickySmtp] = []

    def make(refuse: dict[str, str]) -> PickySmtp:
        servers.append(PickySmtp(refuse).start())  # type: ignore[arg-type]
        return servers[-1]

    yield make
    for s in servers:
        s.stop()


def test_smtp_down_then_up_delivers_exactly_once_with_key_as_message_id(world: Callable[..., World]) -> None:
    port = free_port()  # nothing listens here yet
    w = world(email_sub("alice", "alice@example.org"), smtp_port=port)
    [planned] = w.announce()

    report = w.relay()
    assert report.retried == 1
    row = w.row("alice")
    assert row["status"] == "pending"
    assert row["attempts"] == 1
    assert f"127.0.0.1:{port}" in row["last_error"]
    assert "Connection" in row["last_error"]

    server = SmtpServer(port).start()
    try:
        report = w.relay(now=days(1))
        assert report.sent == 1
        w.relay(now=days(2))
        w.relay(now=days(30))
    finally:
        server.stop()
    row = w.row("alice")
    assert row["status"] == "sent" and row["attempts"] == 2
    assert len(server.messages) == 1
    msg = server.messages[0]
    assert KEY_RE.match(row["key"])
    assert row["key"] == planned.key
    assert msg["Message-ID"] == f"<{row['key']}@{MID_DOMAIN}>"
    assert msg["X-Clusterwatch-Key"] == row["key"]
    assert msg["To"] == "alice@example.org"
    assert server.envelopes[0].rcpt_tos == ["alice@example.org"]


def test_one_message_per_recipient(world: Callable[..., World], smtp: SmtpServer) -> None:
    w = world(email_sub("desk", "a@example.org", "b@example.org"), smtp_port=smtp.port)
    planned = w.announce()
    assert len(planned) == 2
    report = w.relay()
    assert report.sent == 2
    by_to = {m["To"]: m for m in smtp.messages}
    assert set(by_to) == {"a@example.org", "b@example.org"}
    assert sorted(e.rcpt_tos for e in smtp.envelopes) == [["a@example.org"], ["b@example.org"]]
    for p in planned:
        addr = p.channel.removeprefix("email:")
        assert by_to[addr]["Message-ID"] == f"<{p.key}@{MID_DOMAIN}>"
        assert "Bcc" not in by_to[addr] and "Cc" not in by_to[addr]
    assert len({m["Message-ID"] for m in smtp.messages}) == 2


def test_smtp_450_is_retried(world: Callable[..., World], smtp: SmtpServer) -> None:
    w = world(email_sub("alice", "alice@example.org"), smtp_port=smtp.port)
    w.announce()
    smtp.rcpt_reply = "450 try later"
    w.relay()
    row = w.row("alice")
    assert row["status"] == "pending" and row["attempts"] == 1
    assert "450" in row["last_error"] and "try later" in row["last_error"]
    assert smtp.messages == []

    smtp.rcpt_reply = None
    w.relay(now=days(1))
    assert w.row("alice")["status"] == "sent"
    assert len(smtp.messages) == 1


def test_smtp_550_dead_for_that_recipient_only(world: Callable[..., World],
                                              picky: Callable[[dict[str, str]], PickySmtp]) -> None:
    server = picky({"gone@example.org": "550 no such user"})
    w = world(email_sub("desk", "gone@example.org", "here@example.org"), smtp_port=server.port)
    w.announce()
    report = w.relay()
    assert (report.sent, report.retried, report.dead) == (1, 0, 1)
    gone = w.row("desk", "email:gone@")
    here = w.row("desk", "email:here@")
    assert gone["status"] == "dead"
    assert "550" in gone["last_error"] and "gone@example.org" in gone["last_error"]
    assert here["status"] == "sent"
    assert [m["To"] for m in server.messages] == ["here@example.org"]

    w.relay(now=days(1))  # nothing resent to the accepted recipient, nothing retried for the dead one
    assert len(server.messages) == 1


@pytest.mark.parametrize("reply, status", [("451 local error", "pending"), ("421 closing", "pending"),
                                           ("554 rejected as spam", "dead")])
def test_smtp_data_replies(reply: str, status: str, world: Callable[..., World], smtp: SmtpServer) -> None:
    w = world(email_sub("alice", "alice@example.org"), smtp_port=smtp.port)
    w.announce()
    smtp.data_reply = reply
    w.relay()
    row = w.row("alice")
    assert row["status"] == status
    assert reply.split()[0] in row["last_error"]
    assert smtp.messages == []


def test_email_content_end_to_end(world: Callable[..., World], smtp: SmtpServer) -> None:
    w = world(email_sub("alice", "alice@example.org"), smtp_port=smtp.port)
    w.announce("<img src=x onerror=alert(1)>")
    w.announce("批次\r\nBcc: x@example.com")
    w.announce("链接", payload={"title": "链接", "url": "javascript://example.org/%0Aalert(1)",
                                       "source": SOURCE})
    assert w.relay().sent == 3
    assert [e.rcpt_tos for e in smtp.envelopes] == [["alice@example.org"]] * 3
    xss, inj, js = smtp.messages

    assert xss.get_content_type() == "multipart/alternative"
    text = xss.get_body(("plain",)).get_content()
    html = xss.get_body(("html",)).get_content()
    assert "<img src=x onerror=alert(1)>" in text  # plain text is inert
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html

    assert inj["Bcc"] is None
    assert inj["Subject"] == "[clusterwatch] 批次 Bcc: x@example.com"
    assert "x@example.com" not in str(inj["To"])

    assert "javascript:" not in js.get_body(("html",)).get_content()
    assert "javascript:" not in js.get_body(("plain",)).get_content()


# --- poison rows and isolation ------------------------------------------------------------------------------------


def test_poison_payload_is_dead_and_others_still_go_out(world: Callable[..., World], hooks: HookPool,
                                                       smtp: SmtpServer) -> None:
    hook = hooks.take()
    w = world(email_sub("mail", "m@example.org"), webhook_sub("hook", hook.url), smtp_port=smtp.port)
    good = w.announce("正常的通知")
    poison = w.announce("坏", payload={"title": "坏", "attachments": [42]})  # cannot render
    huge = w.announce("批" * 10_000 + "\x00\x00")

    report = w.relay()
    assert (report.sent, report.retried, report.dead) == (4, 0, 2)
    status = {r["key"]: r for r in w.rows()}
    for p in poison:
        assert status[p.key]["status"] == "dead"
        assert status[p.key]["last_error"].startswith("cannot render the alert: AttributeError")
    for p in good + huge:
        assert status[p.key]["status"] == "sent"

    assert len(smtp.messages) == 2
    subjects = [m["Subject"] for m in smtp.messages]
    assert subjects[0] == "[clusterwatch] 正常的通知"
    assert len(subjects[1]) == 200 and subjects[1].endswith("…") and "\x00" not in subjects[1]
    assert [r.headers["webhook-id"] for r in hook.received] == [good[1].key, huge[1].key]
    assert all(r.verified for r in hook.received)


def test_channel_removed_from_config_is_held_not_dead_and_others_are_sent(
        world: Callable[..., World], hooks: HookPool, smtp: SmtpServer,
        load_config: Callable[[str], config.Settings]) -> None:
    """An edited config must not silently kill pending alerts: the row waits (and dies only after
    max_attempts), so restoring the channel delivers it with the same key."""
    hook = hooks.take()
    w = world(email_sub("mail", "m@example.org"), webhook_sub("hook", hook.url), smtp_port=smtp.port)
    w.announce()
    later_settings = load_config(config_text(webhook_sub("hook", hook.url), smtp_port=smtp.port))
    report = w.relay(settings=later_settings)
    assert (report.sent, report.retried, report.dead) == (1, 1, 0)
    mail = w.row("mail")
    assert mail["status"] == "pending"
    assert mail["last_error"] == "subscriber 'mail' has no channel 'email:m@example.org' in the config"
    assert w.row("hook")["status"] == "sent"
    # the channel comes back: the held alert goes out, once
    report = w.relay(now=datetime.now(timezone.utc) + timedelta(days=1))
    assert report.sent == 1 and w.row("mail")["status"] == "sent"
    assert len(smtp.messages) == 1 and len(hook.received) == 1


def test_email_without_smtp_settings_is_held(world: Callable[..., World], smtp: SmtpServer) -> None:
    w = world(email_sub("mail", "m@example.org"), smtp_port=smtp.port)
    w.announce()
    report = w.relay(settings=dataclasses.replace(w.settings, smtp=None))
    assert report.retried == 1 and w.row("mail")["status"] == "pending"
    assert "no notifier for 'email'" in w.row("mail")["last_error"]


def test_unusable_webhook_url_is_dead_and_does_not_crash_the_relay(world: Callable[..., World],
                                                                   hooks: HookPool) -> None:
    good = hooks.take()
    w = world(webhook_sub("bad", "http://☃.net/hook"), webhook_sub("good", good.url))
    w.announce()
    report = w.relay()
    assert (report.sent, report.dead) == (1, 1)
    bad = w.row("bad")
    assert bad["status"] == "dead"
    assert "URL cannot be used" in bad["last_error"]
    assert w.row("good")["status"] == "sent"
    assert len(good.received) == 1


class Boom:
    async def send(self, target: Target, message: Message) -> None:
        raise RuntimeError("notifier bug")

    async def aclose(self) -> None:
        return None


def test_unexpected_notifier_exception_is_a_retry_not_a_crash(world: Callable[..., World], hooks: HookPool,
                                                              smtp: SmtpServer) -> None:
    from notifier.email import EmailNotifier

    hook = hooks.take()
    w = world(email_sub("mail", "m@example.org"), webhook_sub("hook", hook.url), smtp_port=smtp.port)
    w.announce()
    assert w.settings.smtp is not None
    report = w.relay(notifiers={"email": EmailNotifier(w.settings.smtp), "webhook": Boom()})  # type: ignore[dict-item]
    assert (report.sent, report.retried) == (1, 1)
    row = w.row("hook")
    assert row["status"] == "pending"  # not stranded in 'sending'
    assert row["attempts"] == 1
    assert row["last_error"] == "unexpected error: RuntimeError: notifier bug"
    assert w.row("mail")["status"] == "sent"
    assert len(smtp.messages) == 1


def test_channel_isolation_refused_webhook_and_smtp_down(world: Callable[..., World], hooks: HookPool) -> None:
    healthy = hooks.take()
    w = world(email_sub("mail", "m@example.org"),
              webhook_sub("broken", f"http://127.0.0.1:{free_port()}/hook"),
              webhook_sub("healthy", healthy.url),
              smtp_port=free_port())
    w.announce()
    report = w.relay()
    assert (report.sent, report.retried, report.dead) == (1, 2, 0)
    assert w.row("healthy")["status"] == "sent"
    assert len(healthy.received) == 1 and healthy.received[0].verified
    assert w.row("broken")["status"] == "pending" and "ConnectError" in w.row("broken")["last_error"]
    assert w.row("mail")["status"] == "pending" and "Connection" in w.row("mail")["last_error"]


class _Stamped(list):  # type: ignore[type-arg]
    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.monotonic())
        super().append(item)


def test_silent_smtp_server_does_not_delay_webhooks(world: Callable[..., World], hooks: HookPool) -> None:
    """An SMTP server that accepts TCP and never greets: the webhook goes out at once, and the
    relay is held no longer than the SMTP timeout."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    try:
        healthy = hooks.take()
        healthy.received = _Stamped()
        # the email subscriber comes first: a serial relay would make the webhook wait
        w = world(email_sub("mail", "m@example.org"), webhook_sub("healthy", healthy.url),
                  smtp_port=lsock.getsockname()[1], smtp_timeout=1.5)
        w.announce()
        start = time.monotonic()
        report = w.relay()
        elapsed = time.monotonic() - start
    finally:
        lsock.close()
    assert (report.sent, report.retried) == (1, 1)
    assert healthy.received.times[0] - start < 1.0
    assert elapsed < 1.5 + 1.0
    mail = w.row("mail")
    assert mail["status"] == "pending"
    assert "timed out" in mail["last_error"].lower()


# --- leases -----------------------------------------------------------------------------------------------


def test_expired_lease_is_reclaimed_with_the_same_key(world: Callable[..., World], hooks: HookPool) -> None:
    """A relay that crashed after claiming leaves rows 'sending'; they go out once the lease expires."""
    hook = hooks.take()
    w = world(webhook_sub("alice", hook.url))
    [planned] = w.announce()
    t = utcnow()
    claimed = outbox.claim_due(w.db, now=iso(t), lease_until=iso(t + timedelta(minutes=10)))
    assert [c.key for c in claimed] == [planned.key]
    assert w.row("alice")["status"] == "sending"

    w.relay(now=t + timedelta(minutes=5))  # lease still held
    assert hook.received == []
    w.relay(now=t + timedelta(minutes=11))
    assert w.row("alice")["status"] == "sent"
    assert [r.headers["webhook-id"] for r in hook.received] == [planned.key]


def test_console_channel(world: Callable[..., World], capsys: pytest.CaptureFixture[str]) -> None:
    w = world("""
[[subscribers]]
name = "term"
[[subscribers.channels]]
kind = "console"
""")
    w.announce("控制台通知")
    report = w.relay()
    assert report.sent == 1
    out = capsys.readouterr().out
    assert out.startswith("=== [clusterwatch] 控制台通知\nNew announcement: 控制台通知\n")
    assert w.row("term")["status"] == "sent"


def test_nothing_due_is_a_no_op(world: Callable[..., World], hooks: HookPool) -> None:
    hook = hooks.take()
    w = world(webhook_sub("alice", hook.url))
    report = w.relay()
    assert (report.sent, report.retried, report.dead) == (0, 0, 0)
    assert str(report) == "0 sent, 0 to retry, 0 dead"
    assert hook.received == []


def test_event_of_a_custom_shape_round_trips(world: Callable[..., World], hooks: HookPool) -> None:
    """Payload keys the renderer does not know are passed through to the webhook body untouched."""
    hook = hooks.take()
    w = world(webhook_sub("alice", hook.url))
    w.announce("t", payload={"title": "t", "batch": ["甲", "乙"], "count": 2})
    w.relay()
    body = Webhook(SECRET).verify(hook.received[0].body, hook.received[0].headers)
    assert body["data"]["batch"] == ["甲", "乙"] and body["data"]["count"] == 2
    assert body["data"]["url"] is None




# --- operations: dead letters reach operators, a down target is not hammered, shutdown, defaults ----------------

OPS = """
[[subscribers]]
name = "ops"
operator = true
[[subscribers.channels]]
kind = "webhook"
id = "ops-hook"
url = "{url}"
secret_env = "TEST_WEBHOOK_SECRET"
"""


def test_a_dead_delivery_is_reported_to_operators_once(world: Callable[..., World], hooks: HookPool) -> None:
    bad, ops = hooks.take(statuses=[400]), hooks.take()
    w = world(webhook_sub("desk", bad.url), OPS.format(url=ops.url))
    w.announce()
    report = w.relay()  # desk's endpoint answers 400: dead; ops gets the announcement too (no filters)
    assert report.dead == 1
    report = w.relay()  # the delivery.dead alert goes to ops
    assert report.sent == 1
    bodies = [json.loads(r.body) for r in ops.received]
    assert [b["type"] for b in bodies] == ["announcement.new", "delivery.dead"]
    dead = bodies[1]["data"]
    assert dead["subscriber"] == "desk" and "400" in dead["error"]
    assert w.relay().sent == 0  # reported once


def test_an_unreachable_target_is_not_hammered(world: Callable[..., World], hooks: HookPool) -> None:
    port = free_port()  # nothing listens here
    w = world(webhook_sub("desk", f"http://127.0.0.1:{port}/hook"))
    for _ in range(4):
        w.announce()
    report = w.relay()
    assert (report.sent, report.retried) == (0, 1)  # one attempt; the other three are postponed untouched
    rows = w.rows()
    assert [r["attempts"] for r in rows] == [1, 0, 0, 0]
    assert all(r["status"] == "pending" for r in rows)
    assert len({r["next_attempt_at"] for r in rows}) == 1


def test_stop_releases_rows_not_yet_attempted(world: Callable[..., World], hooks: HookPool) -> None:
    hook = hooks.take()
    w = world(webhook_sub("desk", hook.url))
    for _ in range(3):
        w.announce()
    stop = asyncio.Event()
    stop.set()
    report = w.relay(stop=stop)
    assert (report.sent, report.retried, report.dead) == (0, 0, 0)
    assert [(r["status"], r["attempts"]) for r in w.rows()] == [("pending", 0)] * 3
    assert w.relay().sent == 3 and len(hook.received) == 3


def test_default_schedule_keeps_retrying_for_more_than_a_day() -> None:
    """With the shipped defaults, a delivery to a down endpoint is not dead before ~1.5 days."""
    import random

    from scraper.timeutil import backoff

    d = config.Delivery()
    for seed in range(50):
        random.seed(seed)
        waited = sum(backoff(a, base=d.backoff_base, cap=d.backoff_max) for a in range(d.max_attempts - 1))
        assert waited >= 1.5 * 86400, waited
        assert waited <= 4 * 86400, waited


def test_410_disables_the_endpoint_and_tells_operators(world: Callable[..., World], hooks: HookPool) -> None:
    gone, ops = hooks.take(statuses=[410]), hooks.take()
    w = world(webhook_sub("desk", gone.url), OPS.format(url=ops.url))
    w.announce()
    w.relay()
    assert len(gone.received) == 1 and w.row("desk")["status"] == "dead"
    assert [r[0] for r in w.db.execute("select subscriber from disabled_endpoints")] == ["desk"]
    w.announce()  # a later alert is not even attempted
    w.relay()
    assert len(gone.received) == 1
    rows = [r for r in w.rows() if r["subscriber"] == "desk"]
    assert [r["status"] for r in rows] == ["dead", "dead"] and "endpoint disabled" in rows[1]["last_error"]
    bodies = [json.loads(r.body) for r in ops.received]
    assert any(b["type"] == "delivery.dead" and "disabled" in b["data"]["title"] for b in bodies)


def test_smtp_down_then_421_then_accepting_delivers_once(world: Callable[..., World]) -> None:
    port = free_port()
    w = world(email_sub("desk", "desk@example.org"), smtp_port=port)
    w.announce()
    later = datetime.now(timezone.utc)
    assert w.relay().retried == 1  # nothing listens: connection refused
    server = SmtpServer(port=port).start()
    try:
        server.data_reply = "421 4.3.2 service shutting down"
        later += timedelta(days=1)
        assert w.relay(now=later).retried == 1 and server.messages == []
        server.data_reply = None
        later += timedelta(days=1)
        assert w.relay(now=later).sent == 1
        assert w.relay(now=later + timedelta(days=1)).sent == 0
    finally:
        server.stop()
    assert len(server.messages) == 1
    row = w.row("desk")
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert server.messages[0]["Message-ID"] == f"<{row['key']}@{MID_DOMAIN}>"
