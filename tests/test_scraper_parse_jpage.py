"""The ``hanweb-jpage`` adapter: inline datastores, ``dataproxy.jsp`` replies and paging.

Fixtures under tests/pages/jpage copy the markup shapes of gov-sites.md section 2.1:
jxt.zj.gov.cn (``p.lb-list`` records, ``<nextgroup>`` to /module/jpage/dataproxy.jsp),
gxt.jiangsu (``li`` records, /module/web/jpage/dataproxy.jsp only in the jpage init call,
plus a sidebar unit), Yuhang (title in ``<span>``, date in ``<i>``, a double-encoded
``webname``), a datastore with an unclosed CDATA section and an XXE reply. The expected
items sit beside them in ``*.expected.json``. Pagination is run end to end: ``read_list``
with the real Fetcher against the loopback FixtureServer.
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import Politeness, Selectors, Source
from scraper.errors import ParseError
from scraper.fetch import Fetcher
from scraper.listing import read_list
from scraper.models import ListPage
from scraper.parse import ADAPTERS
from scraper.parse.jpage import JpageAdapter
from tests.conftest import LOOPBACK, PAGES
from tests.servers.http import FixtureServer, Resp

JPAGE = PAGES / "jpage"
ADAPTER = ADAPTERS["hanweb-jpage"]
JXT = "https://jxt.zj.gov.cn/col/col1659217/index.html"
GXT = "https://gxt.jiangsu.gov.cn/col/col89736/index.html"
XML = "text/xml;charset=UTF-8"


def _text(name: str) -> str:
    return (JPAGE / name).read_text(encoding="utf-8")


def _spec(name: str):
    return json.loads(_text(name))


def _source(url: str, **kw) -> Source:
    return Source(name="jpage-test", url=url, kind="hanweb-jpage", **kw)


def _parse(name: str, url: str, source: Source | None = None) -> ListPage:
    return ADAPTER.parse(_text(name), url, source or _source(url))


def _dicts(page: ListPage) -> list[dict]:
    return [vars(i) for i in page.items]


def _query(url_or_path: str) -> dict[str, str]:
    """The query decoded once, as a server would see it."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url_or_path).query, keep_blank_values=True).items()}


def _pst(items) -> list[tuple[str, str, str | None]]:
    """(path, title, date): hrefs that were relative resolve against the test server."""
    return [(urlsplit(i["url"] if isinstance(i, dict) else i.url).path,
             i["title"] if isinstance(i, dict) else i.title,
             i["date"] if isinstance(i, dict) else i.date) for i in items]


# ---------------------------------------------------------------- the column page

def test_registered_and_first_request_is_the_column_page() -> None:
    assert isinstance(ADAPTER, JpageAdapter) and ADAPTER.kind == "hanweb-jpage"
    req = ADAPTER.first_request(_source(JXT))
    assert req.url == JXT and req.conditional is True and req.adapter is None


def test_jxt_inline_records_and_nextgroup() -> None:
    spec = _spec("jxt_column.expected.json")
    page = _parse("jxt_column.html", JXT)
    assert _dicts(page) == spec["items"]
    assert page.adapter == "hanweb-jpage" and page.total == spec["total"] == 13
    assert page.next is not None and page.next.url == spec["next"]
    assert dict(page.next.headers) == {"Referer": JXT, "X-Requested-With": "XMLHttpRequest"}


def test_jxt_per_page_param_moves_past_the_inline_group() -> None:
    page = _parse("jxt_column.html", JXT, _source(JXT, params={"per_page": "5"}))
    q = _query(page.next.url)
    assert (q["page"], q["startrecord"], q["endrecord"], q["perpage"]) == ("2", "6", "10", "5")
    assert q["webname"] == "浙江省经济和信息化厅" and q["unitid"] == "5031616"
    assert urlsplit(page.next.url).path == "/module/jpage/dataproxy.jsp"


def test_jiangsu_reads_the_proxy_from_its_own_units_init_call() -> None:
    spec = _spec("jiangsu_column.expected.json")
    page = _parse("jiangsu_column.html", GXT)
    assert _dicts(page) == spec["items"]  # the main unit (8 records), not the 2-record sidebar
    assert page.next.url == spec["next"] and page.total == 20
    q = _query(page.next.url)
    assert q["columnid"] == "89736" and q["webname"] == "江苏省工业和信息化厅"


def test_uid_in_the_source_url_picks_the_unit() -> None:
    spec = _spec("jiangsu_column.expected.json")
    url = GXT + "?uid=403990&pageNum=1"
    page = _parse("jiangsu_column.html", url)
    assert _dicts(page) == spec["sidebar_items"]
    assert page.total == 2 and page.next is None  # the sidebar's init says 2 records: all inline


def test_record_shapes_seen_across_deployments() -> None:
    spec = _spec("record_shapes.expected.json")
    page = _parse("record_shapes.xml", "https://gxt.jiangsu.gov.cn/module/web/jpage/dataproxy.jsp?page=1",
                  _source(spec["page_url"]))
    assert _dicts(page) == spec["items"]
    assert page.total == 7 and page.next is None


@pytest.mark.parametrize("selectors", [
    Selectors(item="p.lb-list", link="a", date="span"),
    Selectors(item="p", link="a[title]", title="a", date="p > span"),
    Selectors(date="span"),
])
def test_source_selectors_give_the_same_items(selectors: Selectors) -> None:
    spec = _spec("jxt_column.expected.json")
    assert _dicts(_parse("jxt_column.html", JXT, _source(JXT, selectors=selectors))) == spec["items"]


def test_item_selector_that_matches_nothing_reads_nothing() -> None:
    page = _parse("jxt_column.html", JXT, _source(JXT, selectors=Selectors(item="li.no-such-record")))
    assert page.items == () and page.next is not None


def test_yuhang_title_in_span_and_date_in_i_with_selectors() -> None:
    spec = _spec("yuhang_all.expected.json")
    url = "http://www.yuhang.gov.cn/col/col1229165988/index.html"
    plain = _parse("yuhang_column.html", url)
    chosen = _parse("yuhang_column.html", url, _source(url, selectors=Selectors(item="li", title="a > span", date="i")))
    assert _dicts(plain) == _dicts(chosen) == spec["items"][:4]


# ---------------------------------------------------------------- dataproxy.jsp replies

YH_PROXY = ("http://www.yuhang.gov.cn/module/jpage/dataproxy.jsp?page={p}&appid=1&webid=3095&path=/"
            "&columnid=1229165988&unitid=6101313&webname={w}&permissiontype=0&startrecord={s}&endrecord={e}&perpage=20")
YH_COLUMN = "http://www.yuhang.gov.cn/col/col1229165988/index.html"


def _yh(page: int) -> str:
    return YH_PROXY.format(p=page, w=_spec("yuhang_all.expected.json")["webname"], s=(page - 1) * 20 + 1, e=page * 20)


def test_reply_with_bom_gives_the_next_page_and_keeps_webname() -> None:
    raw = _text("yuhang_dataproxy.xml")
    assert raw.startswith("\ufeff")
    page = ADAPTER.parse(raw, _yh(5), _source(YH_COLUMN))
    assert _dicts(page) == _spec("yuhang_all.expected.json")["items"][4:]
    assert page.total == 6163
    assert page.next.url == _yh(6)  # same parameters, same order; webname byte for byte
    assert "webname=%25E6%259D%25AD%25E5%25B7%259E" in page.next.url
    assert dict(page.next.headers) == {"Referer": YH_COLUMN, "X-Requested-With": "XMLHttpRequest"}


@pytest.mark.parametrize(("page_no", "edit", "has_next"), [
    (308, None, True),  # 308*20 = 6160 < 6163
    (309, None, False),  # past the end by totalrecord
    (3, ("<totalrecord>6163</totalrecord>", ""), True),  # totalpage 1541 only
    (1541, ("<totalrecord>6163</totalrecord>", ""), False),
    (1, ("<totalrecord>6163</totalrecord>\n  <totalpage>1541</totalpage>", ""), False),  # no totals, 4 < 20
])
def test_reply_paging_limits(page_no: int, edit: tuple[str, str] | None, has_next: bool) -> None:
    raw = _text("yuhang_dataproxy.xml")
    if edit:
        assert edit[0] in raw
        raw = raw.replace(*edit)
    page = ADAPTER.parse(raw, _yh(page_no), _source(YH_COLUMN))
    assert len(page.items) == 4
    assert (page.next is not None) is has_next
    if has_next:
        assert _query(page.next.url)["page"] == str(page_no + 1)


def test_reply_without_totals_offers_more_after_a_full_page() -> None:
    raw = _text("yuhang_dataproxy.xml").replace("<totalrecord>6163</totalrecord>", "").replace("<totalpage>1541</totalpage>", "")
    url = YH_PROXY.format(p=2, w="x", s=5, e=8).replace("perpage=20", "perpage=4")
    page = ADAPTER.parse(raw, url, _source(YH_COLUMN))
    assert page.total is None and _query(page.next.url)["startrecord"] == "9"


def test_unclosed_cdata_falls_back_to_the_record_regex() -> None:
    raw = _text("malformed_datastore.xml")
    with pytest.raises(ET.ParseError):
        ET.fromstring(raw)
    url = "https://jxt.zj.gov.cn/module/jpage/dataproxy.jsp?page=2&appid=1&webid=3183&perpage=5"
    page = ADAPTER.parse(raw, url, _source("https://jxt.zj.gov.cn/col/col1229561120/index.html"))
    assert _dicts(page) == _spec("malformed_datastore.expected.json")
    assert page.total == 57 and _query(page.next.url)["page"] == "3"


def test_unclosed_cdata_that_swallows_the_next_record_is_still_read() -> None:
    raw = _text("malformed_datastore.xml").replace("\n</record>\n  </recordset>", "\n]]></record>\n  </recordset>")
    first_end = raw.index("]]></record>")  # leave the first CDATA open: the XML stays well formed
    raw = raw[:first_end] + raw[first_end + 3:]
    assert len(ET.fromstring(raw).findall("recordset/record")) == 3
    page = ADAPTER.parse(raw, "https://jxt.zj.gov.cn/module/jpage/dataproxy.jsp?page=2&perpage=5",
                         _source("https://jxt.zj.gov.cn/col/col1229561120/index.html"))
    assert _dicts(page) == _spec("malformed_datastore.expected.json")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE datastore [<!ENTITY a "专精特新专精特新"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>
<datastore><recordset><record>&c;</record></recordset></datastore>"""


# not well formed, so only the regex fallback could read it: it must refuse too
MALFORMED_XXE = "<datastore><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/hosts'>]><record><![CDATA[<a href=/a>x</a>"


@pytest.mark.parametrize("raw", [_text("xxe_dataproxy.xml"), BILLION_LAUGHS, MALFORMED_XXE])
def test_dtd_and_entities_are_refused(raw: str) -> None:
    url = "https://jxt.zj.gov.cn/module/jpage/dataproxy.jsp?page=2"
    with pytest.raises(ParseError, match=r"^https://jxt\.zj\.gov\.cn/module/jpage/dataproxy\.jsp\?page=2: .*refused"):
        ADAPTER.parse(raw, url, _source(JXT))


def test_xxe_inside_the_column_page_is_refused() -> None:
    xxe = _text("xxe_dataproxy.xml").split("?>", 1)[1]
    html = f'<html><body><div id="1"><script type="text/xml">{xxe}</script></div></body></html>'
    with pytest.raises(ParseError, match="refused"):
        ADAPTER.parse(html, JXT, _source(JXT))


@pytest.mark.parametrize(("text", "source", "problem"), [
    ("<html><body><ul><li><a href='/a'>x</a> 2026-01-01</li></ul></body></html>", None, "no Hanweb datastore"),
    ("<datastore><recordset><record><![CDATA[<li>", None, None),  # empty record: no item, no error
    ("<datastore><totalrecord>3</totalrecord", None, "no records could be read"),
    ('<?xml version="1.0"?><html><body/></html>', None, "expected a Hanweb <datastore>"),
    (_text("jxt_column.html"), _source(JXT, params={"per_page": "fifteen"}), "per_page"),
    (_text("jxt_column.html"), _source(JXT, selectors=Selectors(item="p[")), "bad item selector"),
])
def test_malformed_input_raises_parse_error_naming_the_url(text: str, source: Source | None, problem: str | None) -> None:
    if problem is None:
        assert ADAPTER.parse(text, JXT, _source(JXT)).items == ()
        return
    with pytest.raises(ParseError, match=problem) as e:
        ADAPTER.parse(text, JXT, source or _source(JXT))
    assert str(e.value).startswith(JXT + ": ")


_PIECES = st.sampled_from(["<datastore>", "</datastore>", "<record>", "</record>", "<![CDATA[", "]]>", "<recordset>",
                           "<nextgroup>", "<totalrecord>", "12", "<a href='/art/1.html' title='集群'>", "</a>",
                           "<script type='text/xml'>", "</script>", "<li>", "2026-01-02", "<?xml version='1.0'?>",
                           "<!DOCTYPE d>", "&amp;", "专精特新", "\ufeff", " ", "\x00", "<div id='9'>", "proxyUrl:'/p.jsp'",
                           "$('#9').jpage({totalRecord:'x',ajaxParam:{webname:'名'}})"])


@settings(max_examples=150, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_only_parse_errors_escape(text: str) -> None:
    try:
        page = ADAPTER.parse(text, JXT, _source(JXT, params={"per_page": "3"}))
    except ParseError as e:
        assert str(e).startswith(JXT)
    else:
        assert isinstance(page, ListPage)


# ---------------------------------------------------------------- end to end: read_list + Fetcher + loopback server

def _read(site: FixtureServer, source: Source, **kw):
    async def go():
        async with Fetcher(Politeness(delay=0, retries=0, timeout=5), "test-agent", network=LOOPBACK) as f:
            return await read_list(f.get, source, **kw)
    return asyncio.run(go())


def _proxy_route(files: dict[str, str], ignore_page: bool = False):
    def route(req) -> Resp:
        page = "2" if ignore_page else _query(req.path).get("page", "")
        name = files.get(page)
        return Resp(200, _text(name) if name else "<datastore><recordset/></datastore>", content_type=XML)
    return route


def _proxy_hits(site: FixtureServer, path: str) -> list:
    return [r for r in site.requests if urlsplit(r.path).path == path]


def test_e2e_jxt_walks_nextgroup_pages_until_the_total(site: FixtureServer) -> None:
    column = "/col/col1659217/index.html"
    site.routes[column] = Resp(200, _text("jxt_column.html"))
    site.routes["/module/jpage/dataproxy.jsp"] = _proxy_route({"2": "jxt_dataproxy_p2.xml", "3": "jxt_dataproxy_p3.xml"})
    source = _source(site.url(column), pages=5, params={"per_page": "5"})
    result = _read(site, source)
    assert _pst(result.items) == _pst(_spec("jxt_all.expected.json"))
    assert result.pages == 3 and result.requests == 3 and result.adapter == "hanweb-jpage"
    assert [urlsplit(r.path).path for r in site.requests] == [column] + ["/module/jpage/dataproxy.jsp"] * 2
    for n, req in zip((2, 3), site.requests[1:]):
        q = _query(req.path)
        assert (q["page"], q["startrecord"], q["endrecord"], q["perpage"]) == (str(n), str(5 * n - 4), str(5 * n), "5")
        assert (q["webname"], q["webid"], q["columnid"], q["unitid"], q["path"]) == (
            "浙江省经济和信息化厅", "3183", "1659217", "5031616", "/")
        assert "webname=%E6%B5%99%E6%B1%9F%E7%9C%81" in req.path  # UTF-8 percent-encoded
        assert req.headers["referer"] == source.url and req.headers["x-requested-with"] == "XMLHttpRequest"
        assert req.method == "GET"
    assert "x-requested-with" not in site.requests[0].headers


def test_e2e_jiangsu_default_per_page_from_the_init_call(site: FixtureServer) -> None:
    column = "/col/col89736/index.html"
    proxy = "/module/web/jpage/dataproxy.jsp"
    site.routes[column] = Resp(200, _text("jiangsu_column.html"))
    site.routes[proxy] = _proxy_route({"1": "jiangsu_dataproxy_p1.xml", "2": "jiangsu_dataproxy_p2.xml"})
    site.routes["/module/jpage/dataproxy.jsp"] = Resp(404, "not found")  # the wrong variant, as on jshrss
    result = _read(site, _source(site.url(column), pages=5))
    assert _pst(result.items) == _pst(_spec("jiangsu_all.expected.json"))
    assert [urlsplit(r.path).path for r in site.requests] == [column, proxy, proxy]
    got = [_query(r.path) for r in site.requests[1:]]
    assert [(q["page"], q["startrecord"], q["endrecord"], q["perpage"]) for q in got] == [
        ("1", "1", "15", "15"), ("2", "16", "30", "15")]
    assert {(q["columnid"], q["unitid"], q["webid"], q["webname"]) for q in got} == {
        ("89736", "403981", "23", "江苏省工业和信息化厅")}


def test_e2e_yuhang_sends_the_double_encoded_webname_untouched(site: FixtureServer) -> None:
    column = "/col/col1229165988/index.html"
    webname = _spec("yuhang_all.expected.json")["webname"]
    site.routes[column] = Resp(200, _text("yuhang_column.html"))
    site.routes["/module/jpage/dataproxy.jsp"] = _proxy_route({"2": "yuhang_dataproxy.xml"})
    result = _read(site, _source(site.url(column), pages=2, params={"per_page": "4"}))
    assert _pst(result.items) == _pst(_spec("yuhang_all.expected.json")["items"])
    assert len(site.requests) == 2  # pages=2 stops though the reply says 6163 records
    raw = site.requests[1].path
    assert f"&webname={webname}&" in raw and webname.startswith("%25E6%259D%25AD")
    assert _query(raw)["webname"] == "%E6%9D%AD%E5%B7%9E%E4%BD%99%E6%9D%AD%E9%97%A8%E6%88%B7%E7%BD%91%E7%AB%99"
    assert _query(raw)["page"] == "2" and _query(raw)["perpage"] == "4"


def test_e2e_stops_when_the_proxy_ignores_the_page(site: FixtureServer) -> None:
    column = "/col/col1659217/index.html"
    site.routes[column] = Resp(200, _text("jxt_column.html"))
    site.routes["/module/jpage/dataproxy.jsp"] = _proxy_route({"2": "jxt_dataproxy_p2.xml"}, ignore_page=True)
    result = _read(site, _source(site.url(column), pages=10, params={"per_page": "5"}))
    assert len(result.items) == 10 and result.pages == 3
    assert [_query(r.path)["page"] for r in site.requests[1:]] == ["2", "3"]


def test_e2e_malformed_reply_is_read_and_xxe_reply_raises(site: FixtureServer) -> None:
    column = "/col/col1659217/index.html"
    site.routes[column] = Resp(200, _text("jxt_column.html"))
    site.routes["/module/jpage/dataproxy.jsp"] = _proxy_route({"2": "malformed_datastore.xml", "3": "xxe_dataproxy.xml"})
    source = _source(site.url(column), pages=2, params={"per_page": "5"})
    assert len(_read(site, source).items) == 5 + 4
    with pytest.raises(ParseError, match=r"dataproxy\.jsp\?page=3&.*refused"):
        _read(site, _source(site.url(column), pages=3, params={"per_page": "5"}))


def test_a_record_with_unclosed_tags_does_not_spill_into_the_next() -> None:
    records = [
        "<li><a href='/art/2026/11/1/art_1659217_1.html' title='第一条通知'>第一条通知<span>2026-11-01</span></li>",
        "<li><a href='/art/2026/11/2/art_1659217_2.html' title='第二条通知'>第二条通知</a><span>2026-11-02</span></li>",
        "<li><a href='/art/2026/11/3/art_1659217_3.html' title='第三条通知'>第三条通知</a><span>2026-11-03</span></li>",
    ]
    store = "".join(f"<record><![CDATA[{r}]]></record>" for r in records)
    html = (f'<html><body><div id="5031616"><script type="text/xml"><datastore><recordset>{store}'
            '</recordset></datastore></script></div></body></html>')
    page = ADAPTER.parse(html, JXT, _source(JXT))
    assert [(i.title, i.date) for i in page.items] == [
        ("第一条通知", "2026-11-01"), ("第二条通知", "2026-11-02"), ("第三条通知", "2026-11-03")]
