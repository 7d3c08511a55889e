"""The ``auto`` adapter: CMS-family detection (gov-sites.md section 2.6) and delegation.

tests/pages/auto copies the Hanweb markup of the reference (Jiangsu jpage datastore,
a Yuhang dataproxy.jsp reply, MIIT's and fzggw.zj's JPaaS shells); the other
families use the fixtures of their own adapters. Parsing through the Hanweb
adapters is exercised with stand-ins, so these tests do not depend on them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

import config
from config import Source
from scraper.cli import main
from scraper.decode import decode
from scraper.errors import ParseError
from scraper.fetch import Fetcher
from scraper.models import ListItem, ListPage, Request
from scraper.parse import ADAPTERS, auto, miit
from tests.conftest import LOOPBACK_ALLOW, PAGES
from tests.servers.http import FixtureServer, Resp
from tests.test_scraper_parse_feed import RSS_ITEMS
from tests.test_scraper_parse_miit import API_PATH, PAGE_1, PAGE_2, QUERY, expected, query_of, read_sync
from tests.test_scraper_parse_miit import fixture as miit_fixture
from tests.test_scraper_parse_trs import COLUMN, INDEX, INDEX_1, items, serve_ndrc

FAMILIES = [
    ("auto/jpage_column.html", "hanweb-jpage"),
    ("auto/jpage_dataproxy.xml", "hanweb-jpage"),
    ("auto/jpaas_miit_column.html", "hanweb-jpaas"),
    ("auto/jpaas_zj_column.html", "hanweb-jpaas"),
    ("trs/ndrc_index.html", "trs"),
    ("trs/ndrc_index_1.html", "trs"),
    ("trs/mee_countpage.shtml", "trs"),
    ("static/gb2312_list.html", "trs"),  # a TRS county site: var countPage + createPageHTML
    ("static/jiaxing_list.html", "static"),
    ("static/table_list.html", "static"),
    ("static/yancheng_list.html", "static"),
    ("feed/rss2.xml", "feed"),
    ("feed/atom.xml", "feed"),
    ("feed/xxe.xml", "feed"),  # detected as a feed; the feed adapter then refuses it
    ("miit/search_p1.json", "miit-search"),
    ("miit/search_empty.json", "miit-search"),
]


def page_text(rel: str) -> str:
    return decode((PAGES / rel).read_bytes(), None)[0]


def test_fixture_folder_is_complete() -> None:
    assert {p.name for p in (PAGES / "auto").iterdir()} >= {
        "jpage_column.html", "jpage_dataproxy.xml", "jpaas_miit_column.html", "jpaas_zj_column.html"}


@pytest.mark.parametrize(("rel", "family"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_detect_every_family(rel: str, family: str) -> None:
    assert auto.detect(page_text(rel)) == family


@pytest.mark.parametrize(
    ("text", "family"),
    [
        # the inline datastore is what a jpage list is built from; a unitbuild widget beside it does not count
        ('<script src="/cms_files/AuthorizedRead/unitbuild.js"></script><div id="1"><script type="text/xml">'
         '<datastore><recordset></recordset></datastore></script></div>', "hanweb-jpage"),
        ("<script type='text/xml'>\n  <datastore>", "hanweb-jpage"),
        # the unitbuild script tag beats a stray dataproxy.jsp mention
        ('<a href="/module/jpage/dataproxy.jsp">旧</a><script src="/s/AuthorizedRead/unitbuild.js"></script>',
         "hanweb-jpaas"),
        ("$.post('/module/jpage/dataproxy.jsp?startrecord=1&endrecord=45&perpage=15')", "hanweb-jpage"),
        ('<div url="/api-gateway/jpaas-publish-server/front/page/build/unit"></div>', "hanweb-jpaas"),
        # weaker Hanweb mentions still beat TRS paging
        ("createPageHTML(3, 0, 'index', 'html'); /* jpaas-publish-server */", "hanweb-jpaas"),
        ("<script>var  countPage = 4;</script>", "trs"),
        ("<script>createPageHTML (4,0,'index','html')</script>", "trs"),
        ("<script>var countPages = 4;</script>", "static"),
        ("<ul><li><a href='/a.html'>通知</a><span>2024-01-02</span></li></ul>", "static"),
        ("", "static"),
        # feeds: root element, past the prolog
        ('\ufeff<?xml version="1.0"?>\n<!-- generated -->\n<?xml-stylesheet href="s.xsl"?>\n<rss version="2.0">',
         "feed"),
        ('<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>', "feed"),
        ("<feed><title>not Atom</title></feed>", "static"),
        ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">', "feed"),
        ("<!DOCTYPE html><html><body><p>see our <rss> feed</p></body></html>", "static"),
        # JSON
        ('  {"code":200,"data":{"searchResult":{"totalCount":0,"dataResults":[]}}}', "miit-search"),
        ('{"searchResult":{"dataResults":[]}}', "miit-search"),
        ('{"success":true,"data":{"html":"<ul></ul>"}}', "static"),
        ('[{"searchResult":1}]', "static"),
        ('{"searchResult": ', "static"),
    ],
)
def test_detect_cases(text: str, family: str) -> None:
    assert auto.detect(text) == family


def test_detection_needs_no_hanweb_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(ADAPTERS, "hanweb-jpage", raising=False)
    monkeypatch.delitem(ADAPTERS, "hanweb-jpaas", raising=False)
    text = page_text("auto/jpage_column.html")
    assert auto.detect(text) == "hanweb-jpage"
    with pytest.raises(ParseError, match=r"^http://x\.gov\.cn/col/: .*hanweb-jpage.*no 'hanweb-jpage' adapter"):
        ADAPTERS["auto"].parse(text, "http://x.gov.cn/col/", Source(name="x", url="http://x.gov.cn/col/", kind="auto"))


class StandIn:
    """Plays a family's adapter: records its calls, answers a fixed page."""

    def __init__(self, kind: str, answer: ListPage) -> None:
        self.kind, self.answer, self.calls = kind, answer, []  # type: ignore[var-annotated]

    def parse(self, text: str, url: str, source: Source) -> ListPage:
        self.calls.append((text, url, source))
        return self.answer


def test_parse_is_delegated_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    item = ListItem("http://x.gov.cn/art/2024/11/15/art_1_1.html", "关于公布名单的通知", "2024-11-15")
    nxt = Request("http://x.gov.cn/module/web/jpage/dataproxy.jsp?page=2", headers={"Referer": "http://x.gov.cn/"})
    stand_in = StandIn("hanweb-jpage", ListPage((item,), "hanweb-jpage", nxt, 4895))
    monkeypatch.setitem(ADAPTERS, "hanweb-jpage", stand_in)
    src = Source(name="x", url="http://x.gov.cn/col/col1/index.html", kind="auto")
    text = page_text("auto/jpage_column.html")
    page = ADAPTERS["auto"].parse(text, src.url, src)
    assert stand_in.calls == [(text, src.url, src)]
    assert page.adapter == "auto: hanweb-jpage" and page.items == (item,) and page.total == 4895
    assert page.next == Request(nxt.url, nxt.headers, adapter="hanweb-jpage")
    # a follow-up the family already routed elsewhere keeps its own adapter
    stand_in.answer = ListPage((item,), "hanweb-jpage", Request("http://x/", adapter="other"))
    assert ADAPTERS["auto"].parse(text, src.url, src).next.adapter == "other"  # type: ignore[union-attr]


def test_follow_ups_go_to_the_detected_family(site: FixtureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first page the listing calls the family directly, whatever auto would detect."""
    proxy = "/module/web/jpage/dataproxy.jsp"
    site.routes["/col/col89736/index.html"] = Resp(200, page_text("auto/jpage_column.html"))
    site.routes[proxy] = Resp(200, '{"not": "a page auto would send to hanweb-jpage"}', content_type="text/xml")
    first = ListItem(site.url("/art/1.html"), "第一页", None)
    stand_in = StandIn("hanweb-jpage", ListPage((first,), "hanweb-jpage", Request(site.url(proxy + "?page=2"))))
    monkeypatch.setitem(ADAPTERS, "hanweb-jpage", stand_in)
    result = read_sync(Source(name="js", url=site.url("/col/col89736/index.html"), kind="static"), kind="auto", pages=2)
    assert [c[0][:1] for c in stand_in.calls] == ["<", "{"]
    assert result.adapter == "auto: hanweb-jpage" and result.requests == 2


# ---------------------------------------------------------------- end to end, real adapters

def test_end_to_end_static(site: FixtureServer) -> None:
    site.routes["/col/col1229399350/index.html"] = Resp(200, (PAGES / "static" / "jiaxing_list.html").read_bytes())
    result = read_sync(Source(name="jx", url=site.url("/col/col1229399350/index.html"), kind="auto"), kind="auto")
    spec = json.loads((PAGES / "static" / "jiaxing_list.expected.json").read_text(encoding="utf-8"))
    origin = "http://jxj.jiaxing.gov.cn"
    assert [(i.url.replace(site.base, origin), i.title, i.date) for i in result.items] == [
        (i["url"], i["title"], i["date"]) for i in spec["items"]]
    assert result.adapter == "auto: static"


def test_end_to_end_trs(site: FixtureServer) -> None:
    result = read_sync(Source(name="ndrc", url=serve_ndrc(site), kind="auto"), kind="auto", pages=5)
    assert [r.path for r in site.requests] == [COLUMN + "index.html", COLUMN + "index_1.html"]
    assert list(result.items) == items(INDEX + INDEX_1, site.url(COLUMN))
    assert result.adapter == "auto: trs"


def test_end_to_end_feed(site: FixtureServer) -> None:
    site.routes["/rss.xml"] = Resp(200, (PAGES / "feed" / "rss2.xml").read_bytes(), content_type="text/xml")
    result = read_sync(Source(name="f", url=site.url("/rss.xml"), kind="auto"), kind="auto", pages=3)
    assert [i.title for i in result.items] == [i.title for i in RSS_ITEMS]
    assert result.adapter == "auto: feed" and len(site.requests) == 1


def test_end_to_end_miit(site: FixtureServer) -> None:
    pages = {"1": miit_fixture("search_p1.json"), "2": miit_fixture("search_p2.json")}
    site.routes[API_PATH] = lambda req: Resp(200, pages[query_of(req.path)["p"][0]], content_type="application/json")
    url = miit.search_url(site.url(API_PATH), {"query": QUERY, "page_size": "3"}, page=1)
    result = read_sync(Source(name="m", url=url, kind="auto"), kind="auto", pages=5)
    assert list(result.items) == expected(PAGE_1 + PAGE_2, site.base)
    assert result.adapter == "auto: miit-search"
    assert [query_of(r.path)["p"] for r in site.requests] == [["1"], ["2"]]
    assert [query_of(r.path)["q"] for r in site.requests] == [[QUERY], [QUERY]]
    assert site.requests[1].headers["referer"] == miit.REFERER


# ---------------------------------------------------------------- the CLI

@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config file anywhere: ``check URL`` runs on the built-in defaults.

    Those wait 3 s between two requests to one host (robots.txt, then the page);
    the wait alone is removed so the tests stay fast. Nothing else is changed.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLUSTERWATCH_CONFIG", raising=False)
    # Only the SSRF guard's allow-list: the fixture site is on loopback, which is refused by default.
    (tmp_path / "clusterwatch.toml").write_text(LOOPBACK_ALLOW, encoding="utf-8")
    init = Fetcher.__init__

    def no_wait(self: Fetcher, politeness: config.Politeness, *args: object, **kwargs: object) -> None:
        init(self, dataclasses.replace(politeness, delay=0.0), *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Fetcher, "__init__", no_wait)
    return tmp_path


def _check(url: str, *extra: str) -> list[str]:
    res = CliRunner().invoke(main, ["check", url, "--adapter", "auto", *extra])
    assert res.exit_code == 0, res.output
    return res.output.splitlines()


def test_cli_check_auto_trs(site: FixtureServer, no_config: Path) -> None:
    url = serve_ndrc(site)
    rows = [json.loads(line) for line in _check(url, "--json")]
    assert rows == [{"title": t, "date": d, "url": site.url(COLUMN + h)} for h, t, d in INDEX]
    assert _check(url)[0] == f"adhoc: {len(INDEX)} items (adapter auto: trs)"
    assert [p.name for p in no_config.iterdir()] == ["clusterwatch.toml"]  # a dry run writes nothing


def test_cli_check_auto_feed(site: FixtureServer, no_config: Path) -> None:
    atom = (PAGES / "feed" / "atom.xml").read_bytes()
    site.routes["/atom.xml"] = Resp(200, atom, content_type="application/atom+xml")
    rows = [json.loads(line) for line in _check(site.url("/atom.xml"), "--json")]
    assert [r["title"] for r in rows] == ["工业和信息化部关于公布2024年度中小企业特色产业集群名单的通知",
                                          "关于第六批专精特新“小巨人”企业名单的公示",
                                          "工业和信息化部办公厅关于开展2024年度中小企业特色产业集群培育工作的通知"]
    assert [r["date"] for r in rows] == ["2024-11-13", "2024-07-18", "2024-05-22"]
    assert _check(site.url("/atom.xml"))[0] == "adhoc: 3 items (adapter auto: feed)"


def test_cli_check_auto_static(site: FixtureServer, no_config: Path) -> None:
    site.routes["/tzgg/index.html"] = Resp(200, (PAGES / "static" / "yancheng_list.html").read_bytes())
    spec = json.loads((PAGES / "static" / "yancheng_list.expected.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in _check(site.url("/tzgg/index.html"), "--json")]
    assert [(r["title"], r["date"]) for r in rows] == [(i["title"], i["date"]) for i in spec["items"]]
    assert [urlsplit(r["url"]).path for r in rows] == [urlsplit(i["url"]).path for i in spec["items"]]
    assert _check(site.url("/tzgg/index.html"))[0].endswith("(adapter auto: static)")


def test_cli_check_auto_refuses_a_hostile_feed(site: FixtureServer, no_config: Path) -> None:
    site.routes["/xxe.xml"] = Resp(200, (PAGES / "feed" / "xxe.xml").read_bytes(), content_type="application/xml")
    res = CliRunner().invoke(main, ["check", site.url("/xxe.xml"), "--adapter", "auto", "--json"])
    assert res.exit_code == 1 and "refused" in res.output and "root:" not in res.output
