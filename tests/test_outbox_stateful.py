"""A Hypothesis state machine over the diff and the outbox (issue 5 "Fault tests"; reliability.md §6, §7.1-4).

The real pipeline (``scraper.runner.run_once``) checks a loopback bureau site whose list the machine
controls, into a real SQLite file, and the real relay delivers to a Standard Webhooks receiver.
Rules publish new items, drop items off the list, flap them back, reorder and repeat the list,
and check the source with a good list or a failure (500, 404, an empty list, a maintenance
page, a 412 challenge, a "too many requests" page).

A model predicts every check's outcome (baseline, new, unchanged, the mass-change breaker's
"held", the shrink / empty "broken", error, blocked) and what it stores. Invariants:

* every announcement.new event is delivered to each matching subscriber (``desk``: everything;
  ``spec``: a keyword filter) exactly once, and nothing reaches a subscriber it does not match;
* a failed, blocked or empty fetch stores nothing and alerts no subscriber; the only thing it
  may add is the operator's one ``source.failing`` alert when the streak reaches the limit;
* items that drop off the list and come back, reorders and repeats are never announced again;
* idempotency keys are unique and equal ``H(subscriber, channel, event)``;
* every delivery ends ``sent`` and the receiver sees each key exactly once, correctly signed.

Two product bugs found on the way (fixed) have regression tests at the end of this file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings as hsettings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

import config
import scraper.pipeline
from db import Database, open_db
from notifier.routing import delivery_key
from scraper.diff import item_key
from scraper.runner import run_once
from tests.conftest import new_secret
from tests.servers.http import FixtureServer, Resp
from tests.servers.webhook import WebhookReceiver
from tests.test_pipeline import LIST, detail_page, list_page

SOURCE = "jxj"
KEYWORD = "专精特新"
THRESHOLD = 2  # [health] failures_before_alert
SHRINK = 0.25  # [health] shrink_ratio
SUBSCRIBERS = ("desk", "spec", "ops")
MAINTENANCE = "<html><head><title>系统维护</title></head><body>网站升级维护中，请稍后访问</body></html>"
BUSY = "<html><head><title>访问频繁</title></head><body>请稍后再试</body></html>"
BAD: dict[str, tuple[Resp, str]] = {
    "500": (Resp(500, "Internal Server Error"), "error"),
    "404": (Resp(404, "not found"), "error"),
    "empty": (Resp(200, list_page([])), "broken"),
    "maintenance": (Resp(200, MAINTENANCE), "broken"),
    "412": (Resp(412, "<html><script>challenge()</script></html>"), "blocked"),
    "busy": (Resp(200, BUSY), "blocked"),
}
COMMITS = ("baseline", "new", "unchanged")  # valid checks that store the list


def config_text(site: FixtureServer, hook: WebhookReceiver, database: str = "cw.db") -> str:
    webhook = f'[[subscribers.channels]]\nkind = "webhook"\nurl = "{hook.url}"\nsecret_env = "TEST_WEBHOOK_SECRET"\n'
    return f"""database = "{database}"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[politeness]
delay = 0
retries = 0
timeout = 5
deadline = 10
[delivery]
backoff_base = 1
webhook_timeout = 5
[attachments]
download = false
[health]
failures_before_alert = {THRESHOLD}
shrink_ratio = {SHRINK}
[[sources]]
name = "{SOURCE}"
url = "{site.url(LIST)}"
[sources.selectors]
item = "ul.news-list > li"
date = "span.date"
[[subscribers]]
name = "desk"
{webhook}
[[subscribers]]
name = "spec"
[subscribers.filters]
keywords = ["{KEYWORD}"]
{webhook}
[[subscribers]]
name = "ops"
operator = true
[subscribers.filters]
event_types = ["source.failing", "source.recovered"]
{webhook}"""


@dataclass(frozen=True)
class Item:
    href: str
    title: str
    date: str = "2026-12-01"

    @property
    def matches_spec(self) -> bool:
        return KEYWORD in self.title


@dataclass
class Snapshot:
    announcements: dict[str, int]  # key -> baseline flag
    events: dict[str, tuple[str, str | None]]  # key -> (type, announcement key)
    deliveries: dict[str, tuple[str, str, str, str]]  # key -> (subscriber, channel, event key, status)


def snapshot(db: Database) -> Snapshot:
    return Snapshot(
        dict(db.execute("SELECT key, baseline FROM announcements").fetchall()),
        {r[0]: (r[1], r[2]) for r in db.execute("SELECT key, type, announcement_key FROM events")},
        {r[0]: tuple(r[1:]) for r in db.execute("SELECT key, subscriber, channel, event_key, status FROM deliveries")},
    )


class World:
    """What lives across examples: the servers and the base settings (each example has its own database)."""

    site: FixtureServer
    hook: WebhookReceiver
    settings: config.Settings
    tmp: Path
    examples = 0
    outcomes: Counter[str] = Counter()  # what the checks did, over all examples


class OutboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        World.examples += 1
        path = World.tmp / f"example{World.examples}" / "cw.db"
        self.settings = dataclasses.replace(World.settings, database=path)
        self.db = open_db(path)
        World.site.routes.clear()
        World.hook.received.clear()
        self.page: list[Item] = []  # the list as served (newest first; may repeat an item)
        self.items: dict[str, Item] = {}  # everything ever published, by href
        self.stored: set[str] = set()  # the seen set (hrefs)
        self.announced: set[str] = set()  # hrefs that got an announcement.new event
        self.baselined = False
        self.quarantine: frozenset[str] | None = None  # the breaker's held set
        self.last_ok_bytes: int | None = None
        self.streak = 0  # consecutive failed checks

    def teardown(self) -> None:
        self.db.conn.close()

    # --- the site ----------------------------------------------------------------------------------------

    @initialize(matching=st.lists(st.booleans(), min_size=1, max_size=4))
    def first_items(self, matching: list[bool]) -> None:
        self.publish(matching, then_fetch=False)

    @rule(matching=st.lists(st.booleans(), min_size=1, max_size=3), then_fetch=st.booleans())
    def publish(self, matching: list[bool], then_fetch: bool = False) -> None:
        """New announcements at the top of the list (some match the keyword subscriber)."""
        for m in matching:
            n = len(self.items) + 1
            title = (f"关于公布2026年第{n}批{KEYWORD}中小企业名单的通知" if m
                     else f"关于印发第{n}号制造业数字化转型行动方案的通知")
            item = Item(f"/art/2026/12/1/art_1229399350_{7000000 + n}.html", title)
            self.items[item.href] = item
            self.page.insert(0, item)
            World.site.routes[item.href] = Resp(200, detail_page(item.title, item.date))
        self._then(then_fetch)

    def _then(self, fetch: bool) -> None:
        """Most site changes are followed by a check, so flaps and reorders meet a stored list."""
        if fetch:
            self.fetch_ok()

    @precondition(lambda self: len(self.page) > 1)
    @rule(data=st.data(), then_fetch=st.booleans())
    def drop(self, data: st.DataObject, then_fetch: bool) -> None:
        """Items page off or are withdrawn (an empty list is fetch_bad("empty"))."""
        gone = data.draw(st.sets(st.integers(0, len(self.page) - 1), min_size=1, max_size=len(self.page) - 1),
                         label="drop")
        self.page = [it for i, it in enumerate(self.page) if i not in gone]
        self._then(then_fetch)

    @precondition(lambda self: any(h not in {i.href for i in self.page} for h in self.items))
    @rule(data=st.data(), then_fetch=st.booleans())
    def flap_back(self, data: st.DataObject, then_fetch: bool) -> None:
        """An item that dropped off (or was never fetched) comes back, anywhere in the list."""
        on_page = {i.href for i in self.page}
        href = data.draw(st.sampled_from(sorted(h for h in self.items if h not in on_page)), label="flap")
        self.page.insert(data.draw(st.integers(0, len(self.page)), label="at"), self.items[href])
        self._then(then_fetch)

    @precondition(lambda self: self.baselined and len(self.page) > 1)
    @rule(data=st.data())
    def flap(self, data: st.DataObject) -> None:
        """A/B/A: an item drops off for a check and comes back (at its place or elsewhere) for the next."""
        item = data.draw(st.sampled_from(self.page), label="flapping")
        self.page = [it for it in self.page if it != item]
        self.fetch_ok()
        self.page.insert(data.draw(st.integers(0, len(self.page)), label="back at"), item)
        self.fetch_ok()

    @precondition(lambda self: len(self.page) > 1)
    @rule(data=st.data(), then_fetch=st.booleans())
    def reorder(self, data: st.DataObject, then_fetch: bool) -> None:
        self.page = list(data.draw(st.permutations(self.page), label="order"))
        self._then(then_fetch)

    @precondition(lambda self: len(self.page) > 0)
    @rule(data=st.data(), then_fetch=st.booleans())
    def repeat(self, data: st.DataObject, then_fetch: bool) -> None:
        """A pinned item shown twice (once on top)."""
        self.page.insert(0, data.draw(st.sampled_from(self.page), label="pinned"))
        self._then(then_fetch)

    # --- checks ------------------------------------------------------------------------------------------------

    @rule()
    def fetch_ok(self) -> None:
        body = list_page([(i.href, i.title, i.date) for i in self.page])
        World.site.routes[LIST] = Resp(200, body)
        unique = list(dict.fromkeys(i.href for i in self.page))
        new = [h for h in unique if h not in self.stored]
        size = len(body.encode())
        if not unique or (self.last_ok_bytes and size < self.last_ok_bytes * SHRINK):
            self.fetch("broken")
        elif not self.baselined:
            self.fetch("baseline", stored=unique, size=size)
        elif len(new) > max(5, len(unique) // 2) and self.quarantine != frozenset(new):
            self.fetch("held", held=frozenset(new))  # the mass-change breaker waits for a second opinion
        else:
            self.fetch("new" if new else "unchanged", stored=unique, announced=new, size=size)

    @rule(kind=st.sampled_from(sorted(BAD)))
    def fetch_bad(self, kind: str) -> None:
        resp, outcome = BAD[kind]
        World.site.routes[LIST] = resp
        self.fetch(outcome)

    def fetch(self, outcome: str, *, stored: list[str] = (), announced: list[str] = (),  # type: ignore[assignment]
              size: int | None = None, held: frozenset[str] | None = None) -> None:
        before = snapshot(self.db)
        # Naming the source is the operator's override of a block back-off (a 412 backs off).
        report = asyncio.run(run_once(self.settings, self.db, only=[SOURCE]))
        (result,) = report.results
        assert result.outcome == outcome, (result, self.page)
        World.outcomes[outcome] += 1
        after = snapshot(self.db)

        # what the check stored
        added = {k: v for k, v in after.announcements.items() if k not in before.announcements}
        assert set(before.announcements) <= set(after.announcements)  # the seen set is append-only
        expect_added = {item_key(SOURCE, World.site.url(h)) for h in stored if h not in self.stored}
        assert set(added) == expect_added, (outcome, added, expect_added)
        assert set(added.values()) <= ({1} if outcome == "baseline" else {0})  # a baseline is silent history

        # its events: announcements only from a valid check, each for a really new item
        new_events = {k: v for k, v in after.events.items() if k not in before.events}
        assert all(k in after.events and after.events[k] == v for k, v in before.events.items())
        news = {v[1] for v in new_events.values() if v[0] == "announcement.new"}
        assert news == {item_key(SOURCE, World.site.url(h)) for h in announced}, (outcome, news, announced)
        if outcome not in COMMITS:
            # a held check is valid (it may end a failing streak); the others are failures
            allowed = {"source.recovered"} if outcome == "held" else {"source.failing"}
            assert {v[0] for v in new_events.values()} <= allowed, new_events
            assert added == {}

        # operator alerts: one per streak reaching the limit, one when it ends
        failing = [k for k, v in new_events.items() if v[0] == "source.failing"]
        recovered = [k for k, v in new_events.items() if v[0] == "source.recovered"]
        if outcome in COMMITS or outcome == "held":  # a valid check ends the streak
            assert failing == []
            assert len(recovered) == (1 if self.streak >= THRESHOLD else 0), (recovered, self.streak)
            self.streak = 0
        else:
            self.streak += 1
            assert recovered == []
            assert len(failing) == (1 if self.streak == THRESHOLD else 0), (failing, self.streak)

        # its deliveries: exactly the matching subscribers of each new event
        new_deliveries = {k: v for k, v in after.deliveries.items() if k not in before.deliveries}
        expected = {}
        for key, (etype, ann) in new_events.items():
            if etype == "announcement.new":
                href = next(h for h in announced if item_key(SOURCE, World.site.url(h)) == ann)
                subs = ["desk"] + (["spec"] if self.items[href].matches_spec else [])
            elif etype in ("source.failing", "source.recovered"):
                subs = ["ops"]
            else:
                subs = []  # batch events are opt-in; these subscribers did not opt in
            expected.update({delivery_key(s, "webhook", key): (s, "webhook", key) for s in subs})
        assert {k: v[:3] for k, v in new_deliveries.items()} == expected

        # update the model
        self.stored.update(stored)
        self.announced.update(announced)
        if outcome in COMMITS:
            self.baselined = True
            self.quarantine = None
            self.last_ok_bytes = size
        elif outcome == "held":
            self.quarantine = held

    # --- always --------------------------------------------------------------------------------------------

    @invariant()
    def every_alert_delivered_exactly_once(self) -> None:
        rows = self.db.execute("SELECT key, subscriber, channel, event_key, status FROM deliveries").fetchall()
        keys = [r[0] for r in rows]
        assert len(keys) == len(set(keys))  # idempotency keys are unique ...
        assert all(r[0] == delivery_key(r[1], r[2], r[3]) for r in rows)  # ... and H(subscriber, channel, event)
        assert [r for r in rows if r[4] != "sent"] == []
        for r in World.hook.received:
            assert r.verified, r.error
        got = Counter(r.headers["webhook-id"] for r in World.hook.received)
        assert set(got) == set(keys), "an alert was lost, or one was sent that was never enqueued"
        assert [k for k, n in got.items() if n != 1] == [], "an alert was delivered more than once"
        per_item = Counter(r[0] for r in self.db.execute(
            "SELECT announcement_key FROM events WHERE type = 'announcement.new'"))
        assert all(n == 1 for n in per_item.values())  # never announced twice
        assert set(per_item) == {item_key(SOURCE, World.site.url(h)) for h in self.announced}
        types = {r[0] for r in self.db.execute(
            "SELECT e.type FROM deliveries d JOIN events e ON e.key = d.event_key WHERE d.subscriber != 'ops'")}
        assert types <= {"announcement.new"}  # subscribers get announcements, not service alerts


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    secret = new_secret()
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", secret)
    site, hook = FixtureServer(), WebhookReceiver(secret)
    path = tmp_path / "cw.toml"
    path.write_text(config_text(site, hook), encoding="utf-8")
    World.site, World.hook, World.tmp, World.examples, World.outcomes = site, hook, tmp_path, 0, Counter()
    World.settings = config.load(path, environ=dict(os.environ))
    yield World
    hook.close()
    site.close()


@pytest.mark.timeout(600)  # passing takes ~20 s; a failure is shrunk to a minimal sequence, which takes longer
def test_outbox_state_machine(world: Any) -> None:
    run_state_machine_as_test(OutboxMachine, settings=hsettings(
        max_examples=16, stateful_step_count=10, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))
    print(dict(World.outcomes))


# --- regressions: two product bugs the machine ran into (both fixed) ----------------------------------------


def _machine_world(world: Any) -> OutboxMachine:
    m = OutboxMachine()
    m.publish([True, False, True], then_fetch=True)  # the baseline
    return m


def test_operator_hears_of_recovery_after_a_held_check(world: Any) -> None:
    m = _machine_world(world)
    for _ in range(THRESHOLD):
        m.fetch_bad("500")
    failing = m.db.execute("SELECT count(*) FROM events WHERE type = 'source.failing'").fetchone()[0]
    assert failing == 1  # the operator was told the source is failing
    m.publish([False] * 3, then_fetch=False)
    m.publish([False] * 3, then_fetch=False)  # 6 new of 9: more than max(5, 9 // 2) at once -> held
    m.fetch_ok()
    m.fetch_ok()  # the next check agrees: announced
    assert m.db.execute("SELECT consecutive_failures FROM sources").fetchone()[0] == 0
    recovered = m.db.execute("SELECT count(*) FROM events WHERE type = 'source.recovered'").fetchone()[0]
    assert recovered == 1, "the source works again, but the operator was never told"


def test_second_failing_streak_in_the_same_second_alerts_again(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    frozen = datetime(2026, 12, 1, 8, 0, 0, tzinfo=timezone.utc)
    monkeypatch.setattr(scraper.pipeline, "utcnow", lambda: frozen)  # two quick streaks, one second
    m = _machine_world(world)
    for _ in range(2):
        for _ in range(THRESHOLD):
            World.site.routes[LIST] = Resp(500, "down")
            asyncio.run(run_once(m.settings, m.db, only=[SOURCE]))
        World.site.routes[LIST] = Resp(200, list_page([(i.href, i.title, i.date) for i in m.page]))
        asyncio.run(run_once(m.settings, m.db, only=[SOURCE]))
    types = Counter(r[0] for r in m.db.execute("SELECT type FROM events WHERE type LIKE 'source.%'"))
    assert types == {"source.failing": 2, "source.recovered": 2}
