"""The ``feed`` adapter: RSS 2.0 / Atom, parsed safely with defusedxml.

tests/pages/feed holds an RSS 2.0 feed (RSSHub-style, CDATA titles with markup),
an Atom feed (html and xhtml titles, several links per entry), a truncated feed,
and two hostile ones: XXE and billion laughs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Source
from scraper.errors import ParseError
from scraper.models import ListItem
from scraper.parse import ADAPTERS, feed
from tests.conftest import PAGES
from tests.servers.http import FixtureServer, Resp
from tests.test_scraper_parse_miit import read_sync

FEED = PAGES / "feed"
URL = "https://rss.example.org/gov/zj/jxt/tzgg"

RSS_ITEMS = [
    ListItem("https://jxt.zj.gov.cn/art/2024/11/15/art_1229123456_2412345.html",
             "关于公布2024年浙江省中小企业特色产业集群（第二批）名单的通知", "2024-11-15"),
    # 17:05 GMT on the 6th is 01:05 on the 7th in Beijing
    ListItem("https://jxt.zj.gov.cn/art/2024/11/7/art_1229123456_2411876.html",
             '关于2024年浙江省专精特新"小巨人"企业拟推荐名单的公示', "2024-11-07"),
    ListItem("https://rss.example.org/art/2024/10/21/art_1229123456_2410032.html",
             "关于组织开展2025年度浙江省中小企业特色产业集群申报工作的通知", "2024-10-21"),
    ListItem("https://jxt.zj.gov.cn/art/2024/9/30/art_1229123456_2409911.html",
             "浙江省经济和信息化厅关于印发《浙江省优质中小企业梯度培育管理实施细则》的通知", "2024-09-30"),
]
ATOM_ITEMS = [
    ListItem("https://www.miit.gov.cn/zwgk/zcwj/wjfb/tg/art/2024/art_5c1f8e2b9d3a4c7e8f0a1b2c3d4e5f60.html",
             "工业和信息化部关于公布2024年度中小企业特色产业集群名单的通知", "2024-11-13"),
    ListItem("https://rss.example.org/jgsj/qyj/gzdt/art/2024/art_0a9b8c7d6e5f40312a3b4c5d6e7f8091.html",
             "关于第六批专精特新“小巨人”企业名单的公示", "2024-07-18"),
    ListItem("https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2024/art_7e6d5c4b3a2940f18e7d6c5b4a392817.html",
             "工业和信息化部办公厅关于开展2024年度中小企业特色产业集群培育工作的通知", "2024-05-22"),
]


def text(name: str) -> str:
    return (FEED / name).read_text(encoding="utf-8")


def test_rss2() -> None:
    page = feed.parse(text("rss2.xml"), URL)
    assert list(page.items) == RSS_ITEMS  # the item with neither link nor permalink guid is left out
    assert page.adapter == "feed" and page.next is None and page.total is None


def test_atom() -> None:
    page = ADAPTERS["feed"].parse(text("atom.xml"), URL, Source(name="f", url=URL, kind="feed"))
    assert list(page.items) == ATOM_ITEMS
    assert page.next is None


def test_rss_1_0_rdf() -> None:
    rdf = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://example.gov.cn/"><title>通知</title><link>https://example.gov.cn/</link></channel>
  <item rdf:about="https://example.gov.cn/a.html"><title>关于公布名单的通知</title>
    <link>https://example.gov.cn/a.html</link><dc:date>2024-09-07</dc:date></item>
</rdf:RDF>"""
    assert list(feed.parse(rdf, URL).items) == [ListItem("https://example.gov.cn/a.html", "关于公布名单的通知", "2024-09-07")]


def test_duplicate_links_and_unsafe_links_are_dropped() -> None:
    rss = """<rss version="2.0"><channel>
<item><title>甲</title><link>https://example.gov.cn/a.html</link></item>
<item><title>甲（重复）</title><link>https://example.gov.cn/a.html#top</link></item>
<item><title>乙</title><link>javascript:alert(1)</link></item>
<item><title>  </title><link>https://example.gov.cn/c.html</link></item>
</channel></rss>"""
    got = [(i.url, i.title, i.date) for i in feed.parse(rss, URL).items]
    assert got == [("https://example.gov.cn/a.html", "甲", None)]


@pytest.mark.parametrize(
    ("name", "problem"),
    [("xxe.xml", "refused"), ("billion_laughs.xml", "refused"), ("truncated.xml", "not well-formed XML")],
)
def test_hostile_or_broken_feeds_raise_parse_error(name: str, problem: str) -> None:
    with pytest.raises(ParseError) as e:
        feed.parse(text(name), URL)
    assert str(e.value).startswith(URL + ": ") and problem in str(e.value)


def test_xxe_does_not_read_a_local_file(tmp_path: Path) -> None:
    secret = tmp_path / "sentinel.txt"
    secret.write_text("SENTINEL-3f9c2b", encoding="utf-8")
    hostile = text("xxe.xml").replace("file:///etc/passwd", secret.as_uri())
    with pytest.raises(ParseError) as e:
        feed.parse(hostile, URL)
    assert "SENTINEL" not in str(e.value)
    # a parameter entity, the other XXE route
    param = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % x SYSTEM "{secret.as_uri()}"> %x;]>'
             '<rss version="2.0"><channel><item><title>t</title><link>https://a.gov.cn/</link></item></channel></rss>')
    with pytest.raises(ParseError, match="refused"):
        feed.parse(param, URL)


@pytest.mark.parametrize(
    "doc",
    [
        "<html><body><ul><li><a href='/a.html'>通知</a></li></ul></body></html>",
        "<feed><entry><title>t</title></entry></feed>",  # not the Atom namespace
        '<?xml version="1.0"?><datastore><recordset/></datastore>',
    ],
)
def test_xml_that_is_not_a_feed(doc: str) -> None:
    with pytest.raises(ParseError, match="not an RSS or Atom feed"):
        feed.parse(doc, URL)


@pytest.mark.parametrize("doc", ["", "通知公告", "<rss><channel>", "\ufeff  <rss version='2.0'></channel></rss>"])
def test_not_well_formed(doc: str) -> None:
    with pytest.raises(ParseError, match="not well-formed XML"):
        feed.parse(doc, URL)


def test_bom_and_leading_whitespace_are_fine() -> None:
    doc = "\ufeff\n  " + text("rss2.xml")
    assert len(feed.parse(doc, URL).items) == len(RSS_ITEMS)


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("Fri, 15 Nov 2024 09:30:00 +0800", "2024-11-15"),
        ("Fri, 15 Nov 2024 20:30:00 GMT", "2024-11-16"),
        ("15 Nov 2024 01:00:00 +0800", "2024-11-15"),
        ("2024-11-15T09:30:00+08:00", "2024-11-15"),
        ("2024-11-14T16:30:00Z", "2024-11-15"),
        ("2024-11-14T16:30:00.123Z", "2024-11-15"),
        ("2024-11-15T23:30:00", "2024-11-15"),  # no zone: taken as written
        ("2024-11-15", "2024-11-15"),
        ("2024年11月15日", "2024-11-15"),
        ("昨天", None),
        ("Mon, 32 Foo 2024", None),
    ],
)
def test_feed_dates(raw: str, iso: str | None) -> None:
    assert feed.feed_date(raw) == iso


# ---------------------------------------------------------------- end to end

def test_end_to_end_rss(site: FixtureServer) -> None:
    site.routes["/feed.xml"] = Resp(200, text("rss2.xml"), content_type="application/rss+xml; charset=utf-8")
    result = read_sync(Source(name="jxt-feed", url=site.url("/feed.xml"), kind="feed"), pages=3)
    base = site.url("/")
    assert [i.url for i in result.items] == [
        i.url.replace("https://rss.example.org/", base) for i in RSS_ITEMS]
    assert [i.title for i in result.items] == [i.title for i in RSS_ITEMS]
    assert len(site.requests) == 1 and result.adapter == "feed"


def test_end_to_end_gbk_feed_is_decoded_from_its_declaration(site: FixtureServer) -> None:
    doc = text("atom.xml").replace('encoding="utf-8"', 'encoding="gb2312"')
    site.routes["/atom.xml"] = Resp(200, doc.encode("gb18030"), content_type="application/atom+xml")
    result = read_sync(Source(name="miit-feed", url=site.url("/atom.xml"), kind="feed"))
    assert [i.title for i in result.items] == [i.title for i in ATOM_ITEMS]
