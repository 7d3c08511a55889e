"""End to end over real sockets: fixture bureau site -> pipeline -> SQLite -> SMTP + webhook."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import config
from db import open_db, outbox
from db.store import counts, source_state
from scraper.runner import run_once
from tests.servers.http import FixtureServer, Resp
from tests.servers.smtp import SmtpServer
from tests.servers.webhook import WebhookReceiver

LIST = "/col/col1229399350/index.html"

ITEMS = [
    ("/art/2026/11/20/art_1229399350_5511876.html", "关于2026年浙江省中小企业特色产业集群（第二批）拟认定名单的公示", "2026-11-20"),
    ("/art/2026/10/28/art_1229399350_5509342.html", "嘉兴市经济和信息化局关于印发《嘉兴市制造业数字化转型行动方案》的通知", "2026-10-28"),
    ("/art/2026/9/16/art_1229399350_5503118.html", "关于公布2026年嘉兴市专精特新中小企业名单的通知", "2026-09-16"),
]
NEW = ("/art/2026/11/30/art_1229399350_5512001.html", "关于公布2026年浙江省中小企业特色产业集群（第二批）名单的通知", "2026-11-30")


def list_page(items: list[tuple[str, str, str]], charset: str = "utf-8") -> str:
    lis = "\n".join(
        f'<li><a href="{href}" title="{title}" target="_blank">{title[:20]}...</a><span class="date">{date}</span></li>'
        for href, title, date in items
    )
    return f"""<!DOCTYPE html><html><head><meta charset="{charset}"><title>通知公告</title>
<meta name="ColumnName" content="通知公告"></head><body>
<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/col/col1/index.html">政务公开</a></li></ul></div>
<div class="list-box"><ul class="news-list">
{lis}
</ul></div><div class="page">共{len(items)}条</div>
<div class="footer">主办单位：嘉兴市经济和信息化局 浙ICP备00000000号</div></body></html>"""


def detail_page(title: str, date: str) -> str:
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="{date} 09:30">
<meta name="ContentSource" content="浙江省经济和信息化厅"><meta name="ColumnName" content="通知公告">
<title>{title}</title></head><body><h1 class="art-title">{title}</h1>
<div class="art-info">发布日期:{date} 来源:市经信局</div>
<div id="zoom"><p><span>各市、县（市、区）经信局：</span></p>
<p><span>经地方推荐、专家评审、网上公示等程序，现予以公布。</span></p>
<table><tr><td><p><span>序号</span></p></td><td><p><span>所在地</span></p></td><td><p><span>集群名称</span></p></td></tr>
<tr><td>1</td><td>嘉兴市平湖市</td><td>光机电（精密光学元件）</td></tr></table>
<p><a href="/module/download/downfile.jsp?classid=0&amp;filename=3f2b9c1d7e8a4b6c9d0e1f2a3b4c5d6e.pdf">附件：名单.pdf</a></p>
</div><script>var x = "不是正文";</script></body></html>"""


def serve(site: FixtureServer, items: list[tuple[str, str, str]]) -> None:
    site.routes[LIST] = Resp(200, list_page(items))
    for href, title, date in items:
        site.routes[href] = Resp(200, detail_page(title, date))


def make_settings(tmp_path: Path, site: FixtureServer, smtp: SmtpServer | None = None,
                  receiver: WebhookReceiver | None = None, extra: str = "") -> config.Settings:
    channels = '[[subscribers.channels]]\nkind = "console"\n'
    smtp_cfg = ""
    if smtp is not None:
        smtp_cfg = f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "plain"\ntimeout = 5\n'
        channels += '[[subscribers.channels]]\nkind = "email"\nto = ["analyst@example.org"]\n'
    if receiver is not None:
        channels += f'[[subscribers.channels]]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret_env = "TEST_WEBHOOK_SECRET"\n'
    text = f"""database = "cw.db"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[politeness]
delay = 0
retries = 0
timeout = 5
[delivery]
backoff_base = 1
{smtp_cfg}
[[sources]]
name = "jxj"
url = "{site.url(LIST)}"
{extra}
[sources.selectors]
item = "ul.news-list > li"
date = "span.date"
[[subscribers]]
name = "desk"
{channels}"""
    path = tmp_path / "cw.toml"
    path.write_text(text, encoding="utf-8")
    import os
    return config.load(path, environ=dict(os.environ))


def news(db) -> int:  # type: ignore[no-untyped-def]
    """announcement.new events (the batch events beside them are counted elsewhere)."""
    return int(db.execute("select count(*) from events where type = 'announcement.new'").fetchone()[0])


def once(settings: config.Settings, db):  # type: ignore[no-untyped-def]
    return asyncio.run(run_once(settings, db, force=True))


def test_first_run_is_a_silent_baseline(tmp_path: Path, site: FixtureServer, smtp: SmtpServer,
                                        receiver: WebhookReceiver) -> None:
    serve(site, ITEMS)
    settings = make_settings(tmp_path, site, smtp, receiver)
    db = open_db(settings.database)
    report = once(settings, db)
    assert [(r.outcome, r.items, r.new, r.deliveries) for r in report.results] == [("baseline", 3, 3, 0)]
    c = counts(db)
    assert (c["announcements"], c["events"], c["deliveries"]) == (3, 0, 0)
    assert smtp.messages == [] and receiver.received == []
    assert [r.path for r in site.requests] == [LIST]  # no detail pages fetched for the baseline
    assert db.execute("select count(*) from announcements where baseline = 1").fetchone()[0] == 3


def test_new_item_alerts_exactly_once_then_identical_cycle_alerts_nobody(
        tmp_path: Path, site: FixtureServer, smtp: SmtpServer, receiver: WebhookReceiver) -> None:
    serve(site, ITEMS)
    settings = make_settings(tmp_path, site, smtp, receiver)
    db = open_db(settings.database)
    once(settings, db)
    serve(site, [NEW, *ITEMS])
    report = once(settings, db)
    (r,) = report.results
    assert (r.outcome, r.items, r.new, r.deliveries) == ("new", 4, 1, 3)  # console + email + webhook
    assert report.deliveries.sent == 3
    assert len(smtp.messages) == 1 and len(receiver.received) == 1
    msg = smtp.messages[0]
    assert msg["Subject"] == "[clusterwatch] 浙江省中小企业特色产业集群 第二批 公布"
    assert NEW[1] in msg.get_body(preferencelist=("plain",)).get_content()
    assert msg["Message-ID"].startswith("<msg_")
    hook = receiver.received[0]
    assert hook.verified, hook.error
    body = json.loads(hook.body)
    assert body["type"] == "announcement.new" and body["version"] == 1
    assert body["data"]["title"] == NEW[1]
    assert body["data"]["pub_date"] == "2026-11-30"
    assert body["data"]["issuer"] == "浙江省经济和信息化厅"
    assert "不是正文" not in body["data"]["excerpt"]
    assert "1 | 嘉兴市平湖市 | 光机电（精密光学元件）" in body["data"]["excerpt"]
    assert body["data"]["attachments"][0]["text"] == "附件：名单.pdf"
    stored = db.execute("select title, pub_date, issuer, baseline from announcements where url like ?",
                        ["%5512001%"]).fetchone()
    assert stored == (NEW[1], "2026-11-30", "浙江省经济和信息化厅", 0)
    detail_hits = site.hits(NEW[0])
    assert len(detail_hits) == 1 and detail_hits[0].headers["referer"] == site.url(LIST)

    before = counts(db)
    report = once(settings, db)
    assert [(r.outcome, r.new, r.deliveries) for r in report.results] == [("unchanged", 0, 0)]
    assert report.deliveries.sent == 0
    assert counts(db)["events"] == before["events"] and counts(db)["deliveries"] == before["deliveries"]
    assert len(smtp.messages) == 1 and len(receiver.received) == 1


@pytest.mark.parametrize("bad, outcome", [
    (Resp(500, "Internal Server Error"), "error"),
    (Resp(200, list_page([])), "broken"),
    (Resp(200, "<html><head><title>系统维护</title></head><body>网站升级维护中，请稍后访问</body></html>"), "broken"),
    (Resp(200, "<html><head><title>访问频繁</title></head><body>请稍后再试</body></html>"), "blocked"),
    (Resp(412, "<html><script>challenge()</script></html>"), "blocked"),
    (Resp(404, "not found"), "error"),
])
def test_failed_or_empty_fetch_changes_nothing_and_alerts_nobody(
        tmp_path: Path, site: FixtureServer, bad: Resp, outcome: str) -> None:
    serve(site, ITEMS)
    settings = make_settings(tmp_path, site)
    db = open_db(settings.database)
    once(settings, db)
    snapshot = db.execute("select key, last_seen from announcements order by key").fetchall()
    before = counts(db)
    site.routes[LIST] = bad
    (r,) = once(settings, db).results
    assert r.outcome == outcome and not r.ok
    after = counts(db)
    assert {k: after[k] for k in ("announcements", "events", "deliveries")} == \
        {k: before[k] for k in ("announcements", "events", "deliveries")}
    assert db.execute("select key, last_seen from announcements order by key").fetchall() == snapshot
    state = source_state(db, "jxj")
    assert state is not None and state.consecutive_failures == 1 and state.last_outcome == outcome
    # Recovery: the next good fetch with one new item alerts exactly once, and resets the counter.
    # (A blocked source backs off; naming it explicitly is the operator's override.)
    serve(site, [NEW, *ITEMS])
    (r,) = asyncio.run(run_once(settings, db, only=["jxj"])).results
    assert (r.outcome, r.new) == ("new", 1)
    state = source_state(db, "jxj")
    assert state is not None and state.consecutive_failures == 0
    assert news(db) == 1  # batch events may come too; one announcement


def test_items_dropping_off_the_list_are_not_news(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    settings = make_settings(tmp_path, site)
    db = open_db(settings.database)
    once(settings, db)
    serve(site, ITEMS[:1])  # two items paged off
    (r,) = once(settings, db).results
    assert (r.outcome, r.new) == ("unchanged", 0)
    serve(site, ITEMS)  # and they come back: still not new
    (r,) = once(settings, db).results
    assert (r.outcome, r.new) == ("unchanged", 0)
    assert counts(db)["events"] == 0


def test_conditional_get_and_no_conditional_after_failure(tmp_path: Path, site: FixtureServer) -> None:
    page = list_page(ITEMS)
    serve(site, ITEMS)
    site.routes[LIST] = lambda req: (Resp(304, "") if req.headers.get("if-none-match") == '"v1"'
                                     else Resp(200, page, headers={"ETag": '"v1"'}))
    settings = make_settings(tmp_path, site)
    db = open_db(settings.database)
    once(settings, db)
    (r,) = once(settings, db).results
    assert r.outcome == "not-modified" and r.ok
    hits = site.hits(LIST)
    assert "if-none-match" not in hits[0].headers and hits[1].headers["if-none-match"] == '"v1"'
    site.routes[LIST] = Resp(503, "busy")
    assert once(settings, db).results[0].outcome == "error"
    site.routes[LIST] = lambda req: Resp(200, page, headers={"ETag": '"v1"'})
    assert once(settings, db).results[0].outcome == "unchanged"
    assert "if-none-match" not in site.hits(LIST)[-1].headers  # none right after a failure


def test_gb2312_labelled_page_with_rong(tmp_path: Path, site: FixtureServer) -> None:
    items = [("/art/1.html", "关于公布朱镕基同志题词的企业名单的通知", "2026-01-02"),
             ("/art/2.html", "关于陶喆工作室等企业的公示", "2026-01-01")]
    site.routes[LIST] = Resp(200, list_page(items, charset="gb2312").encode("gb18030"),
                             content_type="text/html; charset=gb2312")
    settings = make_settings(tmp_path, site)
    db = open_db(settings.database)
    once(settings, db)
    titles = {r[0] for r in db.execute("select title from announcements")}
    assert titles == {items[0][1], items[1][1]}


def test_detail_page_failure_still_alerts_with_list_entry(tmp_path: Path, site: FixtureServer,
                                                          receiver: WebhookReceiver) -> None:
    serve(site, ITEMS)
    settings = make_settings(tmp_path, site, receiver=receiver)
    db = open_db(settings.database)
    once(settings, db)
    site.routes[LIST] = Resp(200, list_page([NEW, *ITEMS]))  # NEW's detail page answers 404
    (r,) = once(settings, db).results
    assert (r.outcome, r.new) == ("new", 1)
    data = json.loads(receiver.received[0].body)["data"]
    assert data["title"] == NEW[1] and data["pub_date"] == "2026-11-30"
    assert "HTTP 404" in data["detail_error"]


def test_baseline_alert_mode_alerts_on_first_run(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    settings = make_settings(tmp_path, site, extra='baseline = "alert"\n')
    db = open_db(settings.database)
    (r,) = once(settings, db).results
    assert (r.outcome, r.new, r.deliveries) == ("baseline", 3, 3)


def test_overlapping_cycles_create_one_delivery_per_key(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    settings = make_settings(tmp_path, site)
    db = open_db(settings.database)
    once(settings, db)
    serve(site, [NEW, *ITEMS])

    async def two() -> None:
        await asyncio.gather(run_once(settings, db, force=True), run_once(settings, db, force=True))

    asyncio.run(two())
    rows = outbox.deliveries(db)
    assert len(rows) == 1 and rows[0]["status"] == "sent"
    assert news(db) == 1  # batch events may come too; one announcement


def test_fetches_table_records_every_fetch(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS)
    settings = make_settings(tmp_path, site)
    db = open_db(settings.database)
    once(settings, db)
    serve(site, [NEW, *ITEMS])
    once(settings, db)
    site.routes[LIST] = Resp(500, "x")
    once(settings, db)
    site.routes[LIST] = Resp(200, list_page([]))
    once(settings, db)
    rows = db.execute("select purpose, status, outcome, bytes > 0, error is not null from fetches order by id").fetchall()
    assert rows == [("list", 200, "ok", 1, 0), ("list", 200, "ok", 1, 0), ("detail", 200, "ok", 1, 0),
                    ("attachment", 404, "error", None, 1),  # the fixture's attachment link is dead
                    ("list", 500, "error", None, 1), ("list", 200, "broken", 1, 1)]


def test_keywords_match_the_whole_body_normalised(tmp_path: Path, site: FixtureServer) -> None:
    """A keyword deep in the body matches; full-width and case variants match too."""
    serve(site, ITEMS)
    extra_sub = '''
[[subscribers]]
name = "deep"
[subscribers.filters]
keywords = ["光机电（精密光学元件）"]
[[subscribers.channels]]
kind = "console"
[[subscribers]]
name = "nomatch"
[subscribers.filters]
keywords = ["小巨人"]
[[subscribers.channels]]
kind = "console"
'''
    settings = make_settings(tmp_path, site)
    path = tmp_path / "cw.toml"
    path.write_text(path.read_text(encoding="utf-8") + extra_sub, encoding="utf-8")
    settings = config.load(path, environ={})
    db = open_db(settings.database)
    once(settings, db)
    filler = "".join(f"<p>第{i}段说明文字，与名单无关。</p>" for i in range(60))
    serve(site, [NEW, *ITEMS])
    site.routes[NEW[0]] = Resp(200, detail_page(NEW[1], NEW[2]).replace('<table>', filler + '<table>'))
    once(settings, db)
    subs = sorted(r["subscriber"] for r in outbox.deliveries(db))
    assert subs == ["deep", "desk"]


def test_a_move_from_http_to_https_is_not_news() -> None:
    from scraper.diff import item_key

    assert item_key("s", "http://jxj.jiaxing.gov.cn/art/2026/1/2/art_1_2.html") == \
        item_key("s", "https://jxj.jiaxing.gov.cn:443/art/2026/1/2/art_1_2.html#top")
    assert item_key("s", "http://a.gov.cn/1.html") != item_key("t", "http://a.gov.cn/1.html")


def test_attachments_are_archived_by_content_and_a_dead_one_is_recorded(tmp_path: Path, site: FixtureServer) -> None:
    import hashlib

    pdf = b"%PDF-1.4 fake list of clusters \x00\x01"
    serve(site, ITEMS)
    settings = make_settings(tmp_path, site)
    db = open_db(settings.database)
    once(settings, db)
    serve(site, [NEW, *ITEMS])
    page = detail_page(NEW[1], NEW[2]).replace(
        "</div><script>", '<p><a href="/files/../../etc/passwd.xls">附件2：../../etc/passwd.xls</a></p></div><script>')
    site.routes[NEW[0]] = Resp(200, page)
    site.routes["/module/download/downfile.jsp"] = Resp(200, pdf, content_type="application/pdf")
    (r,) = once(settings, db).results
    assert r.outcome == "new"
    rows = db.execute("select url, text, sha256, bytes, error from attachments order by id").fetchall()
    assert len(rows) == 2
    (url1, text1, sha1, n1, err1), (url2, text2, sha2, n2, err2) = rows
    assert "downfile.jsp" in url1 and text1 == "附件：名单.pdf" and n1 == len(pdf) and err1 is None
    assert sha1 == hashlib.sha256(pdf).hexdigest()
    stored = tmp_path / "attachments" / sha1[:2] / sha1
    assert stored.read_bytes() == pdf
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    assert sha2 is None and "HTTP 404" in err2  # recorded, the rest kept
    assert not (tmp_path / "etc").exists()  # a server-side name never becomes a path
    assert sorted(p.name for p in (tmp_path / "attachments").rglob("*") if p.is_file()) == [sha1]


def test_a_replaced_attachment_and_a_revised_page_are_events(tmp_path: Path, site: FixtureServer) -> None:
    from datetime import timedelta
    from unittest import mock

    from scraper import downloads
    from scraper.timeutil import utcnow

    serve(site, ITEMS)
    settings = make_settings(tmp_path, site)
    db = open_db(settings.database)
    once(settings, db)
    serve(site, [NEW, *ITEMS])
    site.routes["/module/download/downfile.jsp"] = Resp(200, b"version one", content_type="application/pdf")
    once(settings, db)
    assert db.execute("select type from events where type like 'a%'").fetchall() == [("announcement.new",)]
    # A day later the bureau replaces the file and corrects the page text.
    site.routes["/module/download/downfile.jsp"] = Resp(200, b"version two", content_type="application/pdf")
    site.routes[NEW[0]] = Resp(200, detail_page(NEW[1], NEW[2]).replace("现予以公布", "现予以公布（更正）"))
    later = utcnow() + timedelta(days=1)
    with mock.patch.object(downloads, "utcnow", lambda: later):
        (r,) = once(settings, db).results
    types = sorted(t for (t,) in db.execute("select type from events where type like 'a%'"))
    assert types == ["announcement.new", "announcement_revised", "attachment_replaced"]
    payload = json.loads(db.execute("select payload from events where type = 'attachment_replaced'").fetchone()[0])
    assert payload["old_sha256"] != payload["new_sha256"] and payload["attachment_text"] == "附件：名单.pdf"
    rows = db.execute("select e.type from deliveries d join events e on e.key = d.event_key").fetchall()
    assert sorted(r[0] for r in rows) == ["announcement.new", "announcement_revised", "attachment_replaced"], rows
    # nothing changes on the next re-read: no new events
    later2 = later + timedelta(days=1)
    with mock.patch.object(downloads, "utcnow", lambda: later2):
        once(settings, db)
    assert db.execute("select count(*) from events where type like 'a%'").fetchone()[0] == 3
