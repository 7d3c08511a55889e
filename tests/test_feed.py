"""Atom feeds: ``clusterwatch feed``, the [feeds] files of ``run --once`` and the daemon, and [feeds] config.

Every document is checked with feedparser (``bozo == 0``) and with ElementTree.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner

import config
from config import ConfigError
from config.settings import FeedSettings
from db import Database, open_db, store
from notifier.feed import entry_id
from scraper.cli import main
from scraper.models import Announcement, Event
from scraper.runner import run_once
from tests.servers.http import FixtureServer
from tests.test_pipeline import ITEMS, LIST, NEW, serve

ROOT = Path(__file__).resolve().parent.parent
ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = "<script>alert(1)</script> ]]> & 名单\r\nsecond line\x00\x01\x08\x0b\x0c\x1b[31m\x1f\x7f\x85 end\ud800\ufffe\uffff"

CONFIG = """database = "cw.db"
network = { allow = ["127.0.0.0/8", "::1"] }
[[sources]]
name = "jx"
url = "http://127.0.0.1:9/col/col1/index.html"
[[sources]]
name = "zj"
url = "http://127.0.0.1:9/col/col2/index.html"
[[subscribers]]
name = "jiaxing"
[subscribers.filters]
regions = ["嘉兴市"]
[[subscribers.channels]]
kind = "console"
[[subscribers]]
name = "deep-text"
[subscribers.filters]
keywords = ["实施动态管理"]
[[subscribers.channels]]
kind = "console"
[[subscribers]]
name = "batches"
[subscribers.filters]
event_types = ["selections_added"]
[[subscribers.channels]]
kind = "console"
"""


def announcement(key: str, source: str, title: str, body: str, pub_date: str) -> Announcement:
    return Announcement(key=key, source=source, url=f"http://jxj.jiaxing.gov.cn/art/{key}.html", title=title,
                        pub_date=pub_date, content_hash=key, body=body, issuer="嘉兴市经信局")


def payload(a: Announcement, **extra: Any) -> dict[str, Any]:
    return {"source": a.source, "title": a.title, "url": a.url, "pub_date": a.pub_date, "issuer": a.issuer,
            "excerpt": a.body[:500], "attachments": [], **extra}


CLUSTER = announcement("a1", "jx", "关于公布2026年浙江省中小企业特色产业集群（第二批）名单的通知",
                       "经地方推荐、专家评审，现予以公布。\n1 | 嘉兴市平湖市 | 光机电（精密光学元件）\n"
                       + "请各地加强对集群的指导服务。" * 50 + "\n省经信厅将对集群实施动态管理。", "2026-11-30")
GIANT = announcement("a2", "zj", "关于第七批专精特新“小巨人”企业名单的公示", "杭州某某科技有限公司等。", "2026-10-10")
PLAIN = announcement("a3", "jx", "嘉兴市经济和信息化局关于印发《行动方案》的通知", "各县（市、区）经信局：", "2026-09-01")
CLUSTER_P = payload(CLUSTER, program="sme-cluster", program_name="中小企业特色产业集群", level="provincial",
                    stage="final", batch=2, year=2026, region="浙江省",
                    entities=[{"name": "嘉兴市平湖市光机电(精密光学元件)", "region": "平湖市", "city": "嘉兴市",
                               "category": None, "role": "new"}],
                    attachments=[{"url": "http://jxj.jiaxing.gov.cn/module/download/downfile.jsp?f=1.pdf",
                                  "text": "附件：名单.pdf"}])
GIANT_P = payload(GIANT, program="little-giant", program_name="专精特新“小巨人”企业", level="national",
                  stage="notice", batch=7, region="浙江省",
                  entities=[{"name": "杭州某某科技有限公司", "region": "萧山区", "city": "杭州市", "role": "new"}])
EVENTS = [  # (stored at, event): oldest first
    ("2026-09-01T02:00:00Z", Event("announcement.new:a3", "announcement.new", "jx", "a3", payload(PLAIN))),
    ("2026-10-10T02:00:00Z", Event("announcement.new:a2", "announcement.new", "zj", "a2", GIANT_P)),
    ("2026-11-30T02:00:00Z", Event("announcement.new:a1", "announcement.new", "jx", "a1", CLUSTER_P)),
    ("2026-11-30T02:00:00Z", Event("selections_added:a1", "selections_added", "jx", "a1", CLUSTER_P)),
]


def populate(db: Database) -> None:
    """Stored the way a check stores them: announcement, events, in one commit_check each."""
    store.sync_sources(db, [("jx", "http://127.0.0.1:9/col/col1/index.html", "static"),
                            ("zj", "http://127.0.0.1:9/col/col2/index.html", "static")], "2026-01-01T00:00:00Z")
    by_key = {a.key: a for a in (CLUSTER, GIANT, PLAIN)}
    for at, ev in EVENTS:
        a = by_key[ev.announcement_key or ""]
        store.commit_check(db, source=a.source, now=at, seen_keys=[], announcements=[a], events=[ev], deliveries=[],
                           baseline=False, etag=None, last_modified=None, outcome="new")


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "cw.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def stocked(cfg: Path) -> Path:
    db = open_db(cfg.parent / "cw.db")
    populate(db)
    db.close()
    return cfg


def run_feed(cfg: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["feed", "--config", str(cfg), *args])


def parse(data: bytes) -> Any:
    doc = feedparser.parse(data)
    assert doc.bozo == 0, doc.get("bozo_exception")
    assert doc.version == "atom10"
    ET.fromstring(data)  # well-formed for a strict parser too
    return doc


def feed(cfg: Path, *args: str) -> Any:
    res = run_feed(cfg, *args)
    assert res.exit_code == 0, res.output
    return parse(res.stdout_bytes)


def titles(doc: Any) -> list[str]:
    return [e.title for e in doc.entries]


# --- the document ----------------------------------------------------------------------------------------


def test_feed_entries_match_the_stored_events_and_are_stable(stocked: Path) -> None:
    res = run_feed(stocked)
    assert res.exit_code == 0, res.output
    doc = parse(res.stdout_bytes)
    # Default types are the alerts' default: announcement.new (+ revisions); newest first.
    assert [e.id for e in doc.entries] == [entry_id("announcement.new:a1"), entry_id("announcement.new:a2"),
                                           entry_id("announcement.new:a3")]
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", e.id) for e in doc.entries)
    assert len({e.id for e in doc.entries}) == 3
    first = doc.entries[0]
    assert first.title == f"浙江省中小企业特色产业集群 第二批 公布：{CLUSTER.title}"
    assert titles(doc)[2] == PLAIN.title  # no program: just the title
    assert [e.link for e in doc.entries] == [CLUSTER.url, GIANT.url, PLAIN.url]
    assert first.updated == "2026-11-30T02:00:00Z" and first.published == "2026-11-30T00:00:00+08:00"
    assert first.author == "嘉兴市经信局"
    assert {t.term for t in first.tags} == {"announcement.new", "sme-cluster", "final"}
    assert [x.href for x in first.links if x.rel == "related"] == ["http://jxj.jiaxing.gov.cn/module/download/downfile.jsp?f=1.pdf"]
    content = first.content[0]
    assert content.type == "text/plain"
    assert "经地方推荐、专家评审" in content.value and "嘉兴市平湖市光机电(精密光学元件) [嘉兴市/平湖市]" in content.value
    assert doc.feed.updated == "2026-11-30T02:00:00Z"
    assert doc.feed.title == "clusterwatch: all announcements"
    assert doc.feed.id.startswith("urn:uuid:")
    assert run_feed(stocked).stdout_bytes == res.stdout_bytes  # byte-identical: ids and all
    assert feed(stocked, "--limit", "1").entries[0].id == first.id


def test_entry_ids_are_name_based_uuids_of_the_event_key() -> None:
    ns = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/clusterwatch/clusterwatch/feeds")
    assert entry_id("announcement.new:a1") == f"urn:uuid:{uuid.uuid5(ns, 'event:announcement.new:a1')}"
    assert entry_id("announcement.new:a1") != entry_id("announcement.new:a2")


def test_feed_id_depends_on_the_filters_only(stocked: Path) -> None:
    ids = {args: feed(stocked, *args).feed.id for args in [(), ("--limit", "1"), ("--program", "sme-cluster"),
                                                            ("--region", "嘉兴市"), ("--region", "嘉兴")]}
    assert ids[()] == ids[("--limit", "1")]
    assert ids[("--region", "嘉兴市")] == ids[("--region", "嘉兴")]  # the place's canonical name counts
    assert len({ids[()], ids[("--program", "sme-cluster")], ids[("--region", "嘉兴市")]}) == 3


# --- filters ---------------------------------------------------------------------------------------------


def test_program_region_source_and_type_filters(stocked: Path) -> None:
    cluster_title = f"浙江省中小企业特色产业集群 第二批 公布：{CLUSTER.title}"
    assert titles(feed(stocked, "--program", "sme-cluster")) == [cluster_title]
    assert titles(feed(stocked, "--program", "sme-cluster", "--program", "little-giant")) == [
        cluster_title, f"浙江省专精特新“小巨人”企业 第七批 公示：{GIANT.title}"]
    assert titles(feed(stocked, "--program", "tech-sme")) == []  # a known program with nothing stored
    # Containment as for subscribers: an entity in 平湖市 puts the event in 嘉兴市 and in 浙江省.
    doc = feed(stocked, "--region", "嘉兴市")
    assert [e.id for e in doc.entries] == [entry_id("announcement.new:a1")]
    assert doc.entries[0].title.startswith("浙江省中小企业特色产业集群 第二批 公布 — 嘉兴市 1：")
    assert doc.feed.title == "clusterwatch: 嘉兴市"
    assert [e.id for e in feed(stocked, "--region", "平湖市").entries] == [entry_id("announcement.new:a1")]
    assert [e.id for e in feed(stocked, "--region", "杭州市").entries] == [entry_id("announcement.new:a2")]
    assert feed(stocked, "--region", "温州市").entries == []  # negative: nothing in Wenzhou
    assert len(feed(stocked, "--region", "浙江省").entries) == 2
    assert [e.id for e in feed(stocked, "--source", "zj").entries] == [entry_id("announcement.new:a2")]
    doc = feed(stocked, "--type", "selections_added")
    assert [e.id for e in doc.entries] == [entry_id("selections_added:a1")]
    assert doc.entries[0].title.startswith("SELECTED: ")
    assert "嘉兴市平湖市光机电(精密光学元件)" in doc.entries[0].content[0].value
    assert feed(stocked, "--type", "list_changed").entries == []
    both = feed(stocked, "--program", "sme-cluster", "--region", "杭州市")  # AND
    assert both.entries == [] and both.feed.title == "clusterwatch: 中小企业特色产业集群; 杭州市"


def test_subscriber_feed_is_what_the_subscriber_is_alerted_about(stocked: Path) -> None:
    doc = feed(stocked, "--subscriber", "jiaxing")
    assert [e.id for e in doc.entries] == [entry_id("announcement.new:a1")]
    assert doc.feed.title == "clusterwatch: subscriber jiaxing"
    # Keywords search the whole stored body, as routing does: 实施动态管理 is past the 500-character excerpt.
    assert "实施动态管理" in CLUSTER.body and "实施动态管理" not in json.dumps(CLUSTER_P, ensure_ascii=False)
    assert [e.id for e in feed(stocked, "--subscriber", "deep-text").entries] == [entry_id("announcement.new:a1")]
    # event_types = ["selections_added"]: that subscriber gets no announcement.new entries.
    assert [e.id for e in feed(stocked, "--subscriber", "batches").entries] == [entry_id("selections_added:a1")]
    assert feed(stocked, "--subscriber", "jiaxing", "--program", "little-giant").entries == []  # AND
    assert feed(stocked, "--subscriber", "jiaxing").feed.id != feed(stocked, "--subscriber", "deep-text").feed.id


def test_operator_events_never_appear(stocked: Path) -> None:
    db = open_db(stocked.parent / "cw.db")
    store.record_events(db, [Event("source.failing:jx:1", "source.failing", "jx", None,
                                   {"source": "jx", "error": "http://internal.example/ 500"})], [],
                        now="2026-12-01T00:00:00Z")
    db.close()
    text = run_feed(stocked).stdout_bytes
    assert b"internal.example" not in text and len(parse(text).entries) == 3


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--program", "no-such-program"], "unknown program 'no-such-program'; known programs: "),
    (["--region", "火星"], "unknown region '火星'; known regions: 浙江省, 杭州市, 宁波市"),
    (["--type", "source.failing"], "unknown event type 'source.failing'; feed event types: announcement.new, "),
    (["--subscriber", "nobody"], "unknown subscriber 'nobody'; subscribers: jiaxing, deep-text, batches"),
    (["--source", "nowhere"], "unknown source 'nowhere'; known sources: jx, zj"),
])
def test_unknown_filter_values_are_clear_errors(stocked: Path, args: list[str], message: str) -> None:
    res = run_feed(stocked, *args)
    assert res.exit_code == 1
    assert f"Error: {message}" in res.output
    assert res.stdout_bytes.startswith(b"Error") or b"<feed" not in res.stdout_bytes
    if args[0] == "--program":
        assert "sme-cluster" in res.output and "little-giant" in res.output


def test_missing_database_is_an_error_and_is_not_created(cfg: Path) -> None:
    res = run_feed(cfg)
    assert res.exit_code == 1
    assert f"no database at {cfg.parent / 'cw.db'}" in res.output
    assert not (cfg.parent / "cw.db").exists()


def test_empty_database_gives_a_valid_feed_with_no_entries(cfg: Path) -> None:
    open_db(cfg.parent / "cw.db").close()
    doc = feed(cfg)
    assert doc.entries == []
    assert doc.feed.title == "clusterwatch: all announcements" and doc.feed.updated == "1970-01-01T00:00:00Z"


def test_output_file_is_written_atomically(stocked: Path) -> None:
    out = stocked.parent / "out" / "feed.xml"
    out.parent.mkdir()
    res = run_feed(stocked, "-o", str(out))
    assert res.exit_code == 0 and res.stdout_bytes == b""
    assert out.read_bytes() == run_feed(stocked).stdout_bytes
    assert (out.stat().st_mode & 0o777) == 0o644
    assert [p.name for p in out.parent.iterdir()] == ["feed.xml"]  # no temp file left
    bad = run_feed(stocked, "-o", str(stocked.parent / "missing-dir" / "f.xml"))
    assert bad.exit_code == 1 and "cannot write" in bad.output


# --- hostile scraped text --------------------------------------------------------------------------------


def test_hostile_text_gives_a_bozo_free_feed_without_markup_or_controls(stocked: Path) -> None:
    db = open_db(stocked.parent / "cw.db")
    evil = {"title": HOSTILE, "url": "javascript:alert(document.cookie)", "pub_date": "2026-12-01",
            "issuer": "局\x00\x1b]8;;x\x07", "program": "sme-cluster", "program_name": "集群<b>\x0c",
            "stage": "final", "excerpt": HOSTILE + "\n" + HOSTILE, "region": "浙江省",
            "entities": [{"name": HOSTILE, "region": "平湖市", "city": "嘉兴市"}],
            "attachments": [{"url": "data:text/html,<script>alert(1)</script>", "text": "x"},
                            {"url": "JaVaScRiPt:alert(1)", "text": HOSTILE}]}
    # Written with \\ud800-style escapes, as a JSON payload may hold them: json.loads gives lone surrogates.
    db.execute("INSERT INTO events (key, type, source, announcement_key, created_at, payload) VALUES (?, ?, ?, ?, ?, ?)",
               ["announcement.new:evil", "announcement.new", "jx", None, "2026-12-01T00:00:00Z",
                json.dumps(evil, ensure_ascii=True)])
    db.close()
    res = run_feed(stocked)
    assert res.exit_code == 0, res.output
    raw = res.stdout_bytes
    doc = parse(raw)
    assert b"<script" not in raw and b"<b>" not in raw and b"javascript:" not in raw.lower() and b"data:" not in raw
    assert not [el for el in ET.fromstring(raw).iter() if el.tag.removeprefix(ATOM) in ("script", "b")]
    (entry,) = [e for e in doc.entries if e.id == entry_id("announcement.new:evil")]
    assert entry.title_detail.type == "text/plain"
    assert not re.search("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]", entry.title), repr(entry.title)
    assert "<script>alert(1)</script> ]]> & 名单 second line" in entry.title  # text, escaped, one line
    assert entry.get("links", []) == [] and entry.guidislink  # neither javascript: nor data: (feedparser falls back to the id)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", entry.content[0].value)
    assert not re.search("[\x00-\x1f]", entry.author)


# --- [feeds] config --------------------------------------------------------------------------------------


@pytest.mark.parametrize("table, problem", [
    ("[feeds]\nentries = 10\n", "feeds.dir: is required"),
    ('[feeds]\ndir = "  "\n', "feeds.dir: must not be empty"),
    ('[feeds]\ndir = 3\n', "feeds.dir: expected a string, got an integer"),
    ('[feeds]\ndir = "feeds"\nentries = 0\n', "feeds.entries: must be greater than 0"),
    ('[feeds]\ndir = "feeds"\nentries = 5000\n', "feeds.entries: must be at most 1000"),
    ('[feeds]\ndir = "feeds"\nserve = true\n', "feeds.serve: unknown key"),
    ('[feeds]\ndir = "cw.toml"\n', "feeds.dir: not a folder: {tmp}/cw.toml"),
    ('[feeds]\ndir = "feeds"\n[[subscribers]]\nname = "all"\n[[subscribers.channels]]\nkind = "console"\n',
     "subscribers[0].name: 'all' is reserved for the all-events feed (all.xml in [feeds] dir)"),
])
def test_bad_feeds_config_is_an_exact_error(tmp_path: Path, table: str, problem: str) -> None:
    path = tmp_path / "cw.toml"
    path.write_text(table, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        config.load(path, environ={})
    assert str(exc.value) == f"config error: {path}: {problem.format(tmp=tmp_path)}"


def test_feeds_config_defaults_and_paths(tmp_path: Path) -> None:
    path = tmp_path / "cw.toml"
    path.write_text('[feeds]\ndir = "public/feeds"\n', encoding="utf-8")
    assert config.load(path, environ={}).feeds == FeedSettings(dir=tmp_path / "public" / "feeds", entries=50)
    path.write_text("", encoding="utf-8")
    assert config.load(path, environ={}).feeds is None


def test_example_config_documents_every_feed_setting() -> None:
    text = (ROOT / "config" / "example.toml").read_text(encoding="utf-8")
    assert "[feeds]" in text
    for f in dataclasses.fields(FeedSettings):
        assert f"{f.name} =" in text, f.name


# --- files written by run --once and the daemon ------------------------------------------------------------


def feeds_config(tmp_path: Path, site: FixtureServer) -> config.Settings:
    text = f"""database = "cw.db"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[politeness]
delay = 0
retries = 0
timeout = 5
[feeds]
dir = "public"
entries = 10
[[sources]]
name = "jxj"
url = "{site.url(LIST)}"
[sources.selectors]
item = "ul.news-list > li"
date = "span.date"
[[subscribers]]
name = "desk"
[[subscribers.channels]]
kind = "console"
[[subscribers]]
name = "hangzhou"
[subscribers.filters]
regions = ["杭州市"]
[[subscribers.channels]]
kind = "console"
"""
    path = tmp_path / "cw.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, environ=dict(os.environ))


def test_run_once_writes_feed_files_only_when_they_change(tmp_path: Path, site: FixtureServer,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    serve(site, ITEMS)
    settings = feeds_config(tmp_path, site)
    db = open_db(settings.database)
    asyncio.run(run_once(settings, db, force=True))  # the silent baseline: feeds exist, empty
    public = tmp_path / "public"
    assert sorted(p.name for p in public.iterdir()) == ["all.xml", "desk.xml", "hangzhou.xml"]
    assert parse((public / "all.xml").read_bytes()).entries == []

    serve(site, [NEW, *ITEMS])
    asyncio.run(run_once(settings, db, force=True))
    docs = {p.name: parse(p.read_bytes()) for p in public.iterdir()}
    assert sorted(docs) == ["all.xml", "desk.xml", "hangzhou.xml"]  # no temp files left behind
    assert [e.link for e in docs["all.xml"].entries] == [site.url(NEW[0])]
    assert docs["all.xml"].entries[0].title.endswith(NEW[1])
    assert [e.id for e in docs["desk.xml"].entries] == [e.id for e in docs["all.xml"].entries]
    assert docs["hangzhou.xml"].entries == []  # its cluster is in 嘉兴市平湖市
    assert docs["desk.xml"].feed.title == "clusterwatch: subscriber desk"
    for p in public.iterdir():
        assert (p.stat().st_mode & 0o777) == 0o644

    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in public.iterdir()}
    asyncio.run(run_once(settings, db, force=True))  # nothing new: nothing rewritten
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in public.iterdir()} == before
    capsys.readouterr()


def test_a_feed_failure_never_stops_checks_or_deliveries(tmp_path: Path, site: FixtureServer,
                                                         caplog: pytest.LogCaptureFixture,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    serve(site, ITEMS)
    settings = feeds_config(tmp_path, site)
    db = open_db(settings.database)
    asyncio.run(run_once(settings, db, force=True))
    public = tmp_path / "public"
    for p in public.iterdir():
        p.unlink()
    public.rmdir()
    public.write_text("in the way")  # the folder became a file
    serve(site, [NEW, *ITEMS])
    with caplog.at_level(logging.ERROR, logger="clusterwatch.feeds"):
        report = asyncio.run(run_once(settings, db, force=True))
    assert [(r.outcome, r.new) for r in report.results] == [("new", 1)]
    assert report.deliveries.sent == 1  # the console alert still went out
    assert "writing feeds to" in caplog.text and str(public) in caplog.text
    capsys.readouterr()


def test_the_daemon_writes_feeds_after_each_check(tmp_path: Path, site: FixtureServer) -> None:
    from scraper.fetch import Fetcher
    from scraper.pipeline import Context
    from scraper.schedule import Daemon

    serve(site, ITEMS)
    settings = feeds_config(tmp_path, site)
    db = open_db(settings.database)

    async def one_check() -> None:
        async with Fetcher.for_settings(settings) as fetcher:
            await Daemon(Context(settings, db, fetcher)).check(settings.sources[0])

    asyncio.run(one_check())
    assert sorted(p.name for p in (tmp_path / "public").iterdir()) == ["all.xml", "desk.xml", "hangzhou.xml"]
    assert parse((tmp_path / "public" / "all.xml").read_bytes()).feed.title == "clusterwatch: all announcements"


def test_feed_without_a_config_names_the_missing_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scraper.cli import main

    res = CliRunner().invoke(main, ["feed", "--config", str(tmp_path / "none.toml")])
    assert res.exit_code == 1 and f"no config at {tmp_path / 'none.toml'}" in res.output


def test_feed_needs_no_secrets_to_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from db import open_db
    from scraper.cli import main

    monkeypatch.delenv("FEED_TEST_SECRET", raising=False)
    open_db(tmp_path / "cw.db").close()
    cfg = tmp_path / "cw.toml"
    cfg.write_text('database = "cw.db"\n[[subscribers]]\nname = "a"\n[[subscribers.channels]]\nkind = "webhook"\n'
                   'url = "https://hooks.example.org/x"\nsecret_env = ["FEED_TEST_SECRET"]\n', encoding="utf-8")
    res = CliRunner().invoke(main, ["feed", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "<feed" in res.output and "<entry" not in res.output
