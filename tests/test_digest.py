"""Digest subscribers get one message per digest time; instant ones get each alert at once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Callable

import config
from notifier.routing import next_digest
from tests.servers.smtp import SmtpServer
from tests.test_notifier_relay import World, config_text, email_sub  # noqa: F401  (fixtures below)
from tests.test_notifier_relay import HookPool, _pool, hooks, world  # noqa: F401

DIGEST = """
[[subscribers]]
name = "weekly-reader"
mode = "digest"
digest_at = "08:30"
timezone = "Asia/Shanghai"
[[subscribers.channels]]
kind = "email"
to = ["digest@example.org"]
[[subscribers.channels]]
kind = "webhook"
url = "{url}"
secret_env = "TEST_WEBHOOK_SECRET"
"""


def test_next_digest_time_is_local() -> None:
    sub = config.Subscriber(name="s", channels=(), mode="digest", digest_at="08:30", timezone="Asia/Shanghai")
    # 2026-11-30 03:00 UTC is 11:00 in Shanghai: the next 08:30 there is tomorrow 00:30 UTC
    assert next_digest(sub, datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc)) == "2026-12-01T00:30:00Z"
    assert next_digest(sub, datetime(2026, 11, 29, 23, 0, tzinfo=timezone.utc)) == "2026-11-30T00:30:00Z"


def test_digest_and_instant_side_by_side(world: Callable[..., World], hooks: HookPool, smtp: SmtpServer) -> None:
    hook = hooks.take()
    w = world(email_sub("instant", "now@example.org"), DIGEST.format(url=hook.url), smtp_port=smtp.port)
    w.announce("关于公布2026年浙江省中小企业特色产业集群（第二批）名单的通知")
    w.announce("关于2026年嘉兴市小微企业园星级拟评定结果公示")
    report = w.relay()
    assert report.sent == 2  # the instant subscriber's two emails; the digest waits
    assert [m["To"] for m in smtp.messages] == ["now@example.org", "now@example.org"]
    assert hook.received == []
    digest_rows = [r for r in w.rows() if r["subscriber"] == "weekly-reader"]
    assert len({r["next_attempt_at"] for r in digest_rows}) == 1  # all due at the same digest time
    due = datetime.strptime(digest_rows[0]["next_attempt_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    report = w.relay(now=due + timedelta(seconds=1))
    assert report.sent == 4  # 2 alerts x (email + webhook), in ONE message per channel
    digest_mail = smtp.messages[-1]
    assert digest_mail["To"] == "digest@example.org" and digest_mail["Subject"] == "[clusterwatch] digest: 2 alerts"
    body = digest_mail.get_body(preferencelist=("plain",)).get_content()
    assert "小微企业园" in body and "特色产业集群" in body
    assert len(hook.received) == 1 and hook.received[0].verified
    data = json.loads(hook.received[0].body)
    assert data["type"] == "digest" and len(data["data"]["items"]) == 2
    assert all(r["status"] == "sent" for r in w.rows())
    assert w.relay(now=due + timedelta(days=2)).sent == 0  # nothing twice
