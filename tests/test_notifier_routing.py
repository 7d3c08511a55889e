"""notifier.routing: events -> planned deliveries with deterministic keys (reliability.md §1.3, §7 item 4)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Callable

import pytest

import config
import db as dbm
from config import Channel, Filters, Subscriber
from db import outbox, store
from notifier.routing import delivery_key, matches, plan
from scraper.diff import event_for, item_key
from scraper.models import Announcement, Event
from scraper.timeutil import iso, utcnow

KEY_RE = re.compile(r"^msg_[0-9a-f]{32}$")


def _event(source: str = "jx", title: str = "关于公布专精特新企业名单的通知", body: str = "",
           url: str = "http://example.invalid/a.html") -> Event:
    a = Announcement(key=item_key(source, url), source=source, url=url, title=title, pub_date="2026-01-05",
                     content_hash="h", body=body)
    return event_for(a)


def _sub(name: str = "alice", filters: Filters = Filters(), *channels: Channel) -> Subscriber:
    return Subscriber(name=name, channels=channels or (Channel(kind="console"),), filters=filters)


# --- delivery_key --------------------------------------------------------------------------------


def test_delivery_key_format() -> None:
    k = delivery_key("alice", "email:a@example.org", "announcement.new:abc")
    assert KEY_RE.match(k), k
    assert "." not in k  # Standard Webhooks: the id must not contain '.'
    assert len(k) == 36


def test_delivery_key_is_deterministic() -> None:
    args = ("alice", "webhook:0123456789abcdef", "announcement.new:fb2edb8afddb2e629ec6c39f")
    assert delivery_key(*args) == delivery_key(*args)


def test_delivery_key_is_pinned_across_releases() -> None:
    """The key must never change between versions: an upgrade would otherwise mint new ids for
    rows restored from a backup, and receivers could no longer dedupe."""
    assert delivery_key("alice", "email:a@example.org", "announcement.new:abc") == "msg_c6d1f0079f5934311713b44cbb6df9ee"
    assert delivery_key("alice", "console", "announcement.new:abc") == "msg_24680421922595be5f2811a29f4644f1"
    # and it is sha256 over the three parts joined by the unit separator, first 128 bits
    assert delivery_key("alice", "console", "announcement.new:abc") == (
        "msg_" + hashlib.sha256("alice\x1fconsole\x1fannouncement.new:abc".encode()).hexdigest()[:32])


@pytest.mark.parametrize(
    "other",
    [
        ("bob", "console", "announcement.new:abc"),
        ("alice", "email:a@example.org", "announcement.new:abc"),
        ("alice", "console", "announcement.new:abd"),
        # no ambiguity when fields are shifted between parts
        ("alice\x1fconsole", "", "announcement.new:abc"),
    ],
)
def test_delivery_key_differs_per_subscriber_channel_event(other: tuple[str, str, str]) -> None:
    assert delivery_key("alice", "console", "announcement.new:abc") != delivery_key(*other)


# --- plan -------------------------------------------------------------------------------------------


def test_plan_one_delivery_per_recipient_and_webhook() -> None:
    sub = _sub("alice", Filters(),
               Channel(kind="email", to=("A@Example.org", "b@example.org")),
               Channel(kind="webhook", url="http://127.0.0.1:9/hook", id="webhook"),
               Channel(kind="console", id="console"))
    ev = _event()
    planned = plan([ev], [sub])
    channels = [p.channel for p in planned]
    assert channels[:2] == ["email:a@example.org", "email:b@example.org"]  # lower-cased, one per recipient
    assert channels[2] == "webhook"
    assert channels[3] == "console"
    assert len(planned) == 4
    for p in planned:
        assert p.event_key == ev.key
        assert p.subscriber == "alice"
        assert p.key == delivery_key("alice", p.channel, ev.key)
        assert KEY_RE.match(p.key)
    assert len({p.key for p in planned}) == 4


def test_plan_is_deterministic_and_a_webhook_keeps_its_id_when_its_url_changes() -> None:
    """Fixing a webhook URL (what a 3xx tells the owner to do) must not orphan pending deliveries."""
    ev = _event()
    a = plan([ev], [_sub("alice", Filters(), Channel(kind="webhook", url="http://127.0.0.1:9/a", id="webhook"))])
    b = plan([ev], [_sub("alice", Filters(), Channel(kind="webhook", url="http://127.0.0.1:9/a", id="webhook"))])
    c = plan([ev], [_sub("alice", Filters(), Channel(kind="webhook", url="http://127.0.0.1:9/b", id="webhook"))])
    d = plan([ev], [_sub("alice", Filters(), Channel(kind="webhook", url="http://127.0.0.1:9/a", id="other"))])
    assert a == b == c
    assert a[0].key != d[0].key


def test_plan_multiple_events_and_subscribers() -> None:
    e1, e2 = _event(url="http://example.invalid/1"), _event(url="http://example.invalid/2")
    planned = plan([e1, e2], [_sub("alice"), _sub("bob")])
    assert [(p.event_key, p.subscriber) for p in planned] == [
        (e1.key, "alice"), (e1.key, "bob"), (e2.key, "alice"), (e2.key, "bob")]
    assert len({p.key for p in planned}) == 4


def test_plan_no_events_or_no_subscribers_is_empty() -> None:
    assert plan([], [_sub()]) == []
    assert plan([_event()], []) == []


# --- filters (AND across kinds, any-of within keywords) -----------------------------------------------


@pytest.mark.parametrize(
    "filters, event, expected",
    [
        (Filters(), _event(), True),
        (Filters(sources=("jx",)), _event(source="jx"), True),
        (Filters(sources=("jx",)), _event(source="ph"), False),
        (Filters(sources=("ph", "jx")), _event(source="jx"), True),
        (Filters(keywords=("专精特新",)), _event(title="专精特新名单"), True),
        (Filters(keywords=("集群",)), _event(title="专精特新名单"), False),
        (Filters(keywords=("集群", "专精特新")), _event(title="专精特新名单"), True),  # any of them
        (Filters(keywords=("集群",)), _event(title="通知", body="先进制造业集群名单如下"), True),  # body excerpt
        (Filters(event_types=("announcement.new",)), _event(), True),
        (Filters(event_types=("announcement.changed",)), _event(), False),
        # AND: every kind of filter must pass
        (Filters(sources=("jx",), keywords=("集群",)), _event(source="jx", title="集群"), True),
        (Filters(sources=("jx",), keywords=("集群",)), _event(source="ph", title="集群"), False),
        (Filters(sources=("jx",), keywords=("集群",)), _event(source="jx", title="名单"), False),
        (Filters(sources=("jx",), keywords=("集群",), event_types=("announcement.changed",)),
         _event(source="jx", title="集群"), False),
        (Filters(sources=("jx",), keywords=("集群",), event_types=("announcement.new",)),
         _event(source="jx", title="集群"), True),
    ],
)
def test_filters(filters: Filters, event: Event, expected: bool) -> None:
    sub = _sub("alice", filters)
    assert matches(sub, event) is expected
    assert len(plan([event], [sub])) == (1 if expected else 0)


def test_keyword_in_other_payload_fields_does_not_match() -> None:
    ev = _event(title="通知", url="http://example.invalid/集群.html")
    assert not matches(_sub("alice", Filters(keywords=("集群",))), ev)


def test_filters_from_config(load_config: Callable[[str], config.Settings]) -> None:
    settings = load_config("""
[[sources]]
name = "jx"
url = "http://example.invalid/jx"
[[sources]]
name = "ph"
url = "http://example.invalid/ph"

[[subscribers]]
name = "jx-clusters"
filters = { sources = ["jx"], keywords = ["集群"] }
[[subscribers.channels]]
kind = "console"

[[subscribers]]
name = "everything"
[[subscribers.channels]]
kind = "console"
""")
    events = [_event(source="jx", title="集群名单", url="http://example.invalid/1"),
              _event(source="ph", title="集群名单", url="http://example.invalid/2"),
              _event(source="jx", title="其他", url="http://example.invalid/3")]
    got = [(p.subscriber, p.event_key) for p in plan(events, settings.subscribers)]
    assert got == [("jx-clusters", events[0].key), ("everything", events[0].key),
                   ("everything", events[1].key), ("everything", events[2].key)]


# --- the outbox: one row per key (INSERT OR IGNORE) ------------------------------------------------------


def test_plan_and_commit_twice_is_one_row_per_key(tmp_path: Path) -> None:
    d = dbm.open_db(tmp_path / "t.db")
    now = iso(utcnow())
    store.sync_sources(d, [("jx", "http://example.invalid/", "static")], now)
    subs = [_sub("alice", Filters(), Channel(kind="email", to=("a@example.org", "b@example.org")),
                 Channel(kind="console")),
            _sub("bob")]
    anns = [Announcement(key=item_key("jx", f"http://example.invalid/{i}"), source="jx",
                         url=f"http://example.invalid/{i}", title=f"t{i}", pub_date=None, content_hash="h")
            for i in range(2)]
    results = []
    keys_per_run = []
    for _ in range(2):  # the same snapshot processed twice (repeat or overlapping cycle)
        events = [event_for(a) for a in anns]
        planned = plan(events, subs)
        keys_per_run.append([p.key for p in planned])
        results.append(store.commit_check(
            d, source="jx", now=iso(utcnow()), seen_keys=[a.key for a in anns], announcements=anns,
            events=events, deliveries=planned, baseline=False, etag=None, last_modified=None, outcome="ok"))
    assert keys_per_run[0] == keys_per_run[1]
    assert (results[0].new_announcements, results[0].events, results[0].deliveries) == (2, 2, 8)
    assert (results[1].new_announcements, results[1].events, results[1].deliveries) == (0, 0, 0)
    rows = outbox.deliveries(d)
    assert len(rows) == 8
    assert sorted(r["key"] for r in rows) == sorted(keys_per_run[0])
    assert {r["status"] for r in rows} == {"pending"}
    assert {r["attempts"] for r in rows} == {0}


def test_duplicate_recipient_differing_in_case_is_one_row(tmp_path: Path) -> None:
    d = dbm.open_db(tmp_path / "t.db")
    now = iso(utcnow())
    store.sync_sources(d, [("jx", "http://example.invalid/", "static")], now)
    a = Announcement(key=item_key("jx", "http://example.invalid/x"), source="jx", url="http://example.invalid/x",
                     title="t", pub_date=None, content_hash="h")
    ev = event_for(a)
    planned = plan([ev], [_sub("alice", Filters(), Channel(kind="email", to=("A@example.org", "a@example.org")))])
    assert len(planned) == 2 and planned[0].key == planned[1].key
    res = store.commit_check(d, source="jx", now=now, seen_keys=[a.key], announcements=[a], events=[ev],
                             deliveries=planned, baseline=False, etag=None, last_modified=None, outcome="ok")
    assert res.deliveries == 1
    assert [r["channel"] for r in outbox.deliveries(d)] == ["email:a@example.org"]
