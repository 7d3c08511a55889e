"""``notify test SUBSCRIBER``: one test alert through each of a subscriber's channels, sent directly."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from config import Settings, Subscriber
from notifier.base import NotifyError
from notifier.relay import build_notifiers, targets
from notifier.render import render
from scraper.timeutil import iso, utcnow


@dataclass(frozen=True)
class TestResult:
    channel: str
    ok: bool
    detail: str


async def send_test(settings: Settings, sub: Subscriber) -> list[TestResult]:
    now = iso(utcnow())
    route = targets(settings)
    notifiers = build_notifiers(settings)
    out = []
    try:
        for channel in sub.channels:
            for cid in channel.ids():
                key = "msg_" + hashlib.sha256(f"test\x1f{sub.name}\x1f{cid}\x1f{now}".encode()).hexdigest()[:32]
                message = render(key=key, event_type="test", event_key=f"test:{now}", created_at=now, payload={
                    "title": f"clusterwatch test message for {sub.name}", "source": "test",
                    "excerpt": "If you can read this, alerts reach this channel."})
                notifier = notifiers.get(channel.kind)
                try:
                    if notifier is None:
                        raise NotifyError(f"no notifier for {channel.kind!r} (is [smtp] configured?)")
                    await notifier.send(route[(sub.name, cid)], message)
                except NotifyError as e:
                    out.append(TestResult(cid, False, str(e)))
                else:
                    out.append(TestResult(cid, True, f"sent ({key})"))
    finally:
        for n in notifiers.values():
            await n.aclose()
    return out
