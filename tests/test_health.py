"""Source health over real sockets: the validity gate, operator alerts, back-off, the breaker, robots.txt."""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import time
from pathlib import Path

import pytest

import config
from db import open_db, outbox
from db.store import counts, source_state
from scraper.runner import run_once
from tests.servers.http import FixtureServer, Request, Resp
from tests.test_pipeline import ITEMS, LIST, NEW, list_page, news, serve

OPERATOR = '''
[[subscribers]]
name = "ops"
operator = true
[[subscribers.channels]]
kind = "console"
'''


def settings_for(tmp_path: Path, site: FixtureServer, extra_source: str = "", extra: str = "",
                 politeness: str = "") -> config.Settings:
    path = tmp_path / "cw.toml"
    path.write_text(f"""database = "cw.db"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[politeness]
delay = 0
retries = 0
timeout = 5
{politeness}
[health]
failures_before_alert = 2
blocked_backoff = 600
{extra}
[[sources]]
name = "jxj"
url = "{site.url(LIST)}"
{extra_source}
[sources.selectors]
item = "ul.news-list > li"
date = "span.date"

[[subscribers]]
name = "desk"
[[subscribers.channels]]
kind = "console"
{OPERATOR}""", encoding="utf-8")
    return config.load(path, environ=dict(os.environ))


def once(settings: config.Settings, db, **kw):  # type: ignore[no-untyped-def]
    return asyncio.run(run_once(settings, db, force=True, **kw))


def deliveries_by_type(db) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    rows = db.execute("select e.type, d.subscriber from deliveries d join events e on e.key = d.event_key "
                      "order by d.id").fetchall()
    return [tuple(r) for r in rows]


def test_operators_hear_once_when_failing_and_once_on_recovery(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    once(s, db)
    site.routes[LIST] = Resp(500, "down")
    outcomes = [once(s, db).results[0].outcome for _ in range(4)]
    assert outcomes == ["error"] * 4
    assert deliveries_by_type(db) == [("source.failing", "ops")]  # at the 2nd failure, once, operators only
    state = source_state(db, "jxj")
    assert state is not None and state.consecutive_failures == 4 and state.failing_since is not None
    serve(site, ITEMS)
    assert once(s, db).results[0].outcome == "unchanged"
    once(s, db)
    assert deliveries_by_type(db) == [("source.failing", "ops"), ("source.recovered", "ops")]
    payload = db.execute("select payload from events where type = 'source.recovered'").fetchone()[0]
    assert '"failures": 4' in payload
    state = source_state(db, "jxj")
    assert state is not None and (state.consecutive_failures, state.failing_since) == (0, None)


def test_a_short_streak_alerts_nobody(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    once(s, db)
    site.routes[LIST] = Resp(503, "busy")
    once(s, db)
    serve(site, ITEMS)
    once(s, db)
    assert deliveries_by_type(db) == []


def test_304_counts_as_success_and_recovers(tmp_path: Path, site: FixtureServer) -> None:
    page = list_page(ITEMS)
    serve(site, ITEMS)
    site.routes[LIST] = lambda req: Resp(200, page, headers={"ETag": '"v1"'})
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    once(s, db)
    site.routes[LIST] = Resp(500, "x")
    once(s, db), once(s, db)
    site.routes[LIST] = lambda req: (Resp(304, "") if req.headers.get("if-none-match") == '"v1"'
                                     else Resp(200, page, headers={"ETag": '"v1"'}))
    assert once(s, db).results[0].outcome == "unchanged"  # no conditional GET right after failures
    assert once(s, db).results[0].outcome == "not-modified"
    assert [t for t, _ in deliveries_by_type(db)] == ["source.failing", "source.recovered"]


def test_a_blocked_source_backs_off_and_an_explicit_check_overrides(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    once(s, db)
    site.routes[LIST] = Resp(412, "<html><script>challenge()</script></html>")
    assert once(s, db).results[0].outcome == "blocked"
    hits = len(site.hits(LIST))
    r = once(s, db).results[0]  # --all does not defeat the back-off
    assert r.outcome == "skipped" and "backing off" in (r.error or "")
    assert len(site.hits(LIST)) == hits
    state = source_state(db, "jxj")
    assert state is not None and state.backoff_until is not None
    serve(site, ITEMS)
    r = asyncio.run(run_once(s, db, only=["jxj"])).results[0]  # naming the source is the operator's override
    assert r.outcome == "unchanged"
    assert source_state(db, "jxj").backoff_until is None  # type: ignore[union-attr]


def test_page_far_smaller_than_usual_is_broken(tmp_path: Path, site: FixtureServer) -> None:
    filler = "<div class='footer'>" + "版权所有 嘉兴市经济和信息化局 " * 400 + "</div>"
    site.routes[LIST] = Resp(200, list_page(ITEMS).replace("</body>", filler + "</body>"))
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    once(s, db)
    site.routes[LIST] = Resp(200, list_page(ITEMS[:1]))  # a stripped-down page, one item
    r = once(s, db).results[0]
    assert r.outcome == "broken" and "far smaller than the usual" in (r.error or "")
    assert db.execute("select outcome from fetches order by id desc limit 1").fetchone()[0] == "broken"


def test_mass_change_is_held_until_the_next_check_agrees(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    once(s, db)
    moved = [(f"/new-layout{href}", title, date) for href, title, date in ITEMS] + [
        (f"/new-layout/art/{i}.html", f"关于第{i}批名单的公示", "2026-11-29") for i in range(6)]
    serve(site, moved)
    r = once(s, db).results[0]
    assert r.outcome == "held" and r.ok and counts(db)["events"] == 0
    r = once(s, db).results[0]  # the same 9 new items again: now they are believed
    assert (r.outcome, r.new) == ("new", 9)
    assert news(db) == 9


def test_a_flapping_mass_change_stays_held(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    once(s, db)
    for variant in ("a", "b", "a"):
        serve(site, [(f"/{variant}{i}.html", f"标题{variant}{i}", "2026-11-29") for i in range(8)])
        assert once(s, db).results[0].outcome == "held"
    assert counts(db)["events"] == 0


def test_robots_disallow_blocks_without_state_change(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    once(s, db)
    before = counts(db)
    site.routes["/robots.txt"] = Resp(200, "User-agent: *\nDisallow: /col/\n", content_type="text/plain")
    s2 = settings_for(tmp_path, site)  # a new process: robots.txt is read afresh
    r = once(s2, db).results[0]
    assert r.outcome == "blocked" and "robots.txt" in (r.error or "")
    assert {k: counts(db)[k] for k in ("announcements", "events")} == {k: before[k] for k in ("announcements", "events")}
    assert len(site.hits(LIST)) == 1  # only the first, allowed check ever fetched the list


def test_robots_5xx_means_disallow_and_4xx_means_allow(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    site.routes["/robots.txt"] = Resp(503, "busy")
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    r = once(s, db).results[0]
    assert r.outcome == "blocked" and "unavailable" in (r.error or "")
    assert site.hits(LIST) == []  # the page is never requested while robots.txt answers 5xx
    site.routes["/robots.txt"] = Resp(404, "none")
    r = asyncio.run(run_once(settings_for(tmp_path, site), db, only=["jxj"])).results[0]
    assert r.outcome == "baseline"


def test_ignore_robots_is_explicit_and_logged(tmp_path: Path, site: FixtureServer,
                                              caplog: pytest.LogCaptureFixture) -> None:
    serve(site, ITEMS)
    site.routes["/robots.txt"] = Resp(200, "User-agent: *\nDisallow: /\n", content_type="text/plain")
    s = settings_for(tmp_path, site, extra_source="ignore_robots = true")
    db = open_db(s.database)
    with caplog.at_level(logging.WARNING):
        r = once(s, db).results[0]
    assert r.outcome == "baseline"
    assert "robots.txt is IGNORED" in caplog.text


def test_crawl_delay_spaces_requests(tmp_path: Path, site: FixtureServer) -> None:
    times: list[float] = []

    def timed(body: str):  # type: ignore[no-untyped-def]
        def handler(req: Request) -> Resp:
            times.append(time.monotonic())
            return Resp(200, body)
        return handler

    site.routes["/robots.txt"] = Resp(200, "User-agent: *\nCrawl-delay: 0.4\n", content_type="text/plain")
    site.routes[LIST] = timed(list_page([NEW]))
    site.routes[NEW[0]] = timed(list_page([NEW]))
    s = settings_for(tmp_path, site, extra_source='baseline = "alert"')
    db = open_db(s.database)
    once(s, db)
    assert len(times) == 2 and times[1] - times[0] >= 0.4  # list page, then its detail page


def test_gzip_bomb_on_the_list_is_an_error_not_content(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    s = settings_for(tmp_path, site, politeness="max_bytes = 1000000")
    db = open_db(s.database)
    once(s, db)
    bomb = gzip.compress(b"<html>" + b"\0" * 50_000_000, compresslevel=9)
    site.routes[LIST] = Resp(200, bomb, headers={"Content-Encoding": "gzip"})
    r = once(s, db).results[0]
    assert r.outcome == "error" and "after decompression" in (r.error or "")
    assert counts(db)["events"] == 0


def test_slow_server_is_cut_off_without_state_change(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    s = settings_for(tmp_path, site, politeness="deadline = 1.0")
    db = open_db(s.database)
    once(s, db)

    def slow(req: Request) -> Resp:
        time.sleep(2.5)
        return Resp(200, list_page([NEW, *ITEMS]))

    site.routes[LIST] = slow
    r = once(s, db).results[0]
    assert r.outcome == "error" and "deadline" in (r.error or "")
    assert counts(db)["events"] == 0


def test_one_source_crashing_never_stops_the_others_or_the_relay(tmp_path: Path, site: FixtureServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from scraper.parse import ADAPTERS
    from scraper.parse.base import Adapter

    class Exploding(Adapter):
        kind = "test-exploding"

        def parse(self, text, url, source):  # type: ignore[no-untyped-def]
            raise RuntimeError("adapter bug")

    try:
        serve(site, ITEMS)
        s = settings_for(tmp_path, site)
        db = open_db(s.database)
        once(s, db)
        serve(site, [NEW, *ITEMS])
        bad = config.Source(name="bad", url=site.url(LIST), kind="test-exploding")
        s = config.Settings(**{**s.__dict__, "sources": (*s.sources, bad)})
        report = once(s, db)
        outcomes = {r.source: (r.outcome, r.error) for r in report.results}
        assert outcomes["jxj"][0] == "new"
        assert outcomes["bad"] == ("error", "internal error: RuntimeError: adapter bug")
        assert report.deliveries.sent == 2  # the relay still ran: desk and ops
        assert [r["status"] for r in outbox.deliveries(db)] == ["sent", "sent"]
    finally:
        ADAPTERS.pop("test-exploding", None)
