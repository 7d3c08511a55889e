"""The ``hanweb-jpaas`` adapter: unit-build shells, ``build/unit`` replies and ``paramJson`` paging.

Fixtures under tests/pages/jpaas copy the markup shapes of gov-sites.md section 2.2: a MIIT
shell (``buildstatic``, three unit tags, the list in ``右侧内容``) with replies for pages 1-3
(``.page-content ul li``), a fzggw.zj shell (``bulidstatic``, ``tagId=信息列表``, pager
attributes) with replies for pages 1-3 (``li.clearfix a.bt-left + span.bt-right``), a kjt.zj
section rendered fully in the shell, MOHURD (``oLayPageRender``) and Jiaxing jxszwsjb
fragments, and a ``success:false`` reply. Most replies hold raw control characters.
Pagination is run end to end: ``read_list`` with the real Fetcher against the loopback
FixtureServer, whose API route answers like the real one (``paramJson`` only, UTF-8 only).
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import Politeness, Selectors, Source
from scraper.errors import ParseError
from scraper.fetch import Fetcher
from scraper.listing import read_list
from scraper.models import ListPage
from scraper.parse import ADAPTERS
from scraper.parse.jpaas import JpaasAdapter
from tests.conftest import LOOPBACK, PAGES
from tests.servers.http import FixtureServer, Resp

JPAAS = PAGES / "jpaas"
ADAPTER = ADAPTERS["hanweb-jpaas"]
API = "/api-gateway/jpaas-publish-server/front/page/build/unit"
MIIT = "https://www.miit.gov.cn/jgsj/zxqyj/gzdt/index.html"
ZJ = "https://fzggw.zj.gov.cn/col/col1229629046/index.html"
JSON_TYPE = "application/json;charset=UTF-8"


def _text(name: str) -> str:
    return (JPAAS / name).read_text(encoding="utf-8")


def _spec(name: str):
    return json.loads(_text(name))


def _source(url: str, **kw) -> Source:
    return Source(name="jpaas-test", url=url, kind="hanweb-jpaas", **kw)


def _query(url_or_path: str) -> dict[str, str]:
    """Query parameters decoded once as UTF-8 (strictly: a GBK byte fails)."""
    qs = parse_qs(urlsplit(url_or_path).query, keep_blank_values=True, errors="strict")
    return {k: v[0] for k, v in qs.items()}


def _api(origin: str, page: int | None, size: int, **extra: str) -> str:
    pairs = list(extra.items())
    if page is not None:
        pairs.append(("paramJson", json.dumps({"pageNo": page, "pageSize": str(size)}, separators=(",", ":"))))
    return f"{origin}{API}?{urlencode(pairs)}"


def _dicts(page: ListPage) -> list[dict]:
    return [vars(i) for i in page.items]


def _pst(items) -> list[tuple[str, str, str | None]]:
    return [(urlsplit(i.url).path, i.title, i.date) for i in items]


# ---------------------------------------------------------------- the shell page

def test_registered_and_the_shell_is_no_304_target() -> None:
    assert isinstance(ADAPTER, JpaasAdapter) and ADAPTER.kind == "hanweb-jpaas"
    assert ADAPTER.conditional_first is False
    req = ADAPTER.first_request(_source(MIIT))
    assert req.url == MIIT and req.conditional is False


def test_miit_shell_calls_the_list_unit_with_its_own_query_data() -> None:
    page = ADAPTER.parse(_text("miit_shell.html"), MIIT, _source(MIIT))
    assert page.items == () and page.total is None
    parts = urlsplit(page.next.url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.miit.gov.cn", API)
    assert _query(page.next.url) == {
        "parseType": "buildstatic", "webId": "8d828e408d90447786ddbe128d495e9e",
        "tplSetId": "209741b2109044b5b7695700b2bec37e", "pageType": "column", "tagId": "右侧内容",
        "editType": "null", "pageId": "ca517c97303b40cf80bd668b35f6148f",
        "paramJson": '{"pageNo":1,"pageSize":"15"}'}
    assert dict(page.next.headers) == {"Referer": MIIT}


def test_zj_shell_follows_the_pagers_tag_and_encodes_it_as_utf8() -> None:
    page = ADAPTER.parse(_text("zj_shell.html"), ZJ, _source(ZJ, params={"page_size": "5"}))
    q = _query(page.next.url)
    assert q["tagId"] == "信息列表" and q["parseType"] == "bulidstatic"  # not the first unit (友情链接)
    assert "tagId=%E4%BF%A1%E6%81%AF%E5%88%97%E8%A1%A8" in page.next.url
    assert json.loads(q["paramJson"]) == {"pageNo": 1, "pageSize": "5"}
    assert page.total == 13 and page.items == ()


LIST_TAG = ("parseType=\"bulidstatic\"\n    url=\"/api-gateway/jpaas-publish-server/front/page/build/unit\"\n"
            "    queryData=\"{'parseType':'bulidstatic','webId':'3185','tplSetId':'o0YcVHHq5vWtr3uiCp4SY',"
            "'pageType':'column','tagId':'信息列表'")


@pytest.mark.parametrize(("replacement", "want"), [
    # queryData only on the pager: its unitUrl and queryData, parseType copied from the script tag
    ('parseType="bulidstatic" data-rest="',
     {"webId": "3185", "pageId": "1229629046", "tagId": "信息列表", "tplSetId": "o0YcVHHq5vWtr3uiCp4SY",
      "parseType": "bulidstatic"}),
    # upper-case attribute names and a Python-literal queryData (a number, True)
    ("PARSETYPE=\"bulidstatic\"\n    URL=\"/api-gateway/jpaas-publish-server/front/page/build/unit\"\n"
     "    QUERYDATA=\"{'webId':3185,'tagId':'信息列表','flag':True",
     {"webId": "3185", "tagId": "信息列表", "flag": "true", "editType": "null", "pageId": "1229629046",
      "parseType": "bulidstatic"}),
])
def test_unit_tag_variants(replacement: str, want: dict[str, str]) -> None:
    html = _text("zj_shell.html")
    assert html.count(LIST_TAG) == 1
    side = html.index('<div class="bt-side">')
    html = html[:side] + html[html.index("</div>", side) + 6:]  # only the list unit is left
    page = ADAPTER.parse(html.replace(LIST_TAG, replacement), ZJ, _source(ZJ))
    q = _query(page.next.url)
    assert json.loads(q.pop("paramJson")) == {"pageNo": 1, "pageSize": "15"}
    assert q == want


def test_small_section_is_read_from_the_shell_without_the_api() -> None:
    spec = _spec("small_section.expected.json")
    page = ADAPTER.parse(_text("small_section.html"), spec["page_url"], _source(spec["page_url"]))
    assert _dicts(page) == spec["items"] and page.next is None


def test_rendered_section_with_a_longer_pager_continues_on_the_api() -> None:
    spec = _spec("small_section.expected.json")
    pager = '<div class="page" count="7" rows="3" pageNo="1"></div>'
    html = _text("small_section.html").replace('<ul class="list">', pager + '<ul class="list">')
    page = ADAPTER.parse(html, spec["page_url"], _source(spec["page_url"], params={"page_size": "3"}))
    assert _dicts(page) == spec["items"] and page.total == 7
    q = _query(page.next.url)
    assert json.loads(q["paramJson"]) == {"pageNo": 2, "pageSize": "3"} and q["tagId"] == "当前栏目list"


def test_undated_links_next_to_the_unit_are_not_the_list() -> None:
    spec = _spec("small_section.expected.json")
    html = _text("small_section.html").replace("<span>2026-", "<em>").replace("</span></li>", "</em></li>")
    assert "2026-10-09" not in html
    page = ADAPTER.parse(html, spec["page_url"], _source(spec["page_url"]))
    assert page.items == () and page.next is not None


# ---------------------------------------------------------------- build/unit replies

def test_replies_hold_raw_control_characters() -> None:
    for name in ("miit_unit_p1.json", "zj_unit_p2.json", "mohurd_unit.json"):
        with pytest.raises(json.JSONDecodeError, match="control character"):
            json.loads(_text(name))


@pytest.mark.parametrize(("name", "page_no", "count", "next_page"), [
    ("miit_unit_p1.json", 1, 4, 2),  # no count: a full page offers the next
    ("miit_unit_p2.json", 2, 4, 3),
    ("miit_unit_p3.json", 3, 2, None),  # 2 < 4: the end
])
def test_miit_replies_page_by_fullness(name: str, page_no: int, count: int, next_page: int | None) -> None:
    url = _api("https://www.miit.gov.cn", page_no, 4, webId="8d828e408d90447786ddbe128d495e9e", tagId="右侧内容")
    page = ADAPTER.parse(_text(name), url, _source(MIIT))
    want = _spec("miit_all.expected.json")[(page_no - 1) * 4:(page_no - 1) * 4 + count]
    assert [(i.url, i.title, i.date) for i in page.items] == [
        ("https://www.miit.gov.cn" + w["path"], w["title"], w["date"]) for w in want]
    assert page.total is None
    if next_page is None:
        assert page.next is None
    else:
        q = _query(page.next.url)
        assert json.loads(q["paramJson"]) == {"pageNo": next_page, "pageSize": "4"}
        assert (q["tagId"], q["webId"]) == ("右侧内容", "8d828e408d90447786ddbe128d495e9e")
        assert dict(page.next.headers) == {"Referer": MIIT}


@pytest.mark.parametrize(("page_no", "has_next"), [(1, True), (2, True), (3, False)])
def test_zj_replies_page_by_the_pager_count(page_no: int, has_next: bool) -> None:
    url = _api("https://fzggw.zj.gov.cn", page_no, 5, tagId="信息列表", webId="3185")
    page = ADAPTER.parse(_text(f"zj_unit_p{page_no}.json"), url, _source(ZJ))
    want = _spec("zj_all.expected.json")[(page_no - 1) * 5: page_no * 5]
    assert [(urlsplit(i.url).path, i.title, i.date) for i in page.items] == [(w["path"], w["title"], w["date"]) for w in want]
    assert all(i.url.startswith("https://fzggw.zj.gov.cn/") for i in page.items)  # "//fzggw..." takes the page's scheme
    assert any(w["external"] for w in want)
    assert page.total == 13 and (page.next is not None) is has_next


@pytest.mark.parametrize(("page_no", "has_next"), [(1, True), (29, True), (30, False)])
def test_mohurd_olaypagerender_count(page_no: int, has_next: bool) -> None:
    spec = _spec("mohurd_unit.expected.json")
    page = ADAPTER.parse(_text("mohurd_unit.json"), _api("https://www.mohurd.gov.cn", page_no, 20, tagId="分页列表"),
                         _source(spec["page_url"]))
    assert _dicts(page) == spec["items"] and page.total == 585
    assert (page.next is not None) is has_next
    if has_next:
        assert json.loads(_query(page.next.url)["paramJson"]) == {"pageNo": page_no + 1, "pageSize": "20"}


def test_jiaxing_fragment_and_a_short_page_ends_the_list() -> None:
    spec = _spec("jiaxing_unit.expected.json")
    url = _api("https://jxszwsjb.jiaxing.gov.cn", None, 15, webId="3856", tagId="信息list")
    page = ADAPTER.parse(_text("jiaxing_unit.json"), url, _source(spec["page_url"]))
    assert _dicts(page) == spec["items"] and page.next is None


def test_reply_without_param_json_pages_with_the_source_page_size() -> None:
    url = _api("https://www.miit.gov.cn", None, 4, tagId="右侧内容")
    page = ADAPTER.parse(_text("miit_unit_p1.json"), url, _source(url, params={"page_size": "4"}))
    assert json.loads(_query(page.next.url)["paramJson"]) == {"pageNo": 2, "pageSize": "4"}


def test_item_selector_overrides_the_known_shapes() -> None:
    url = _api("https://www.miit.gov.cn", 1, 4)
    page = ADAPTER.parse(_text("miit_unit_p1.json"), url, _source(MIIT, selectors=Selectors(item="li", date="span.fr")))
    assert [i.date for i in page.items] == [w["date"] for w in _spec("miit_all.expected.json")[:4]]
    none = ADAPTER.parse(_text("miit_unit_p1.json"), url, _source(MIIT, selectors=Selectors(item="li.long-deta")))
    assert none.items == () and none.next is None


def test_success_false_names_the_url_and_the_encoding_cause() -> None:
    url = "https://fzggw.zj.gov.cn" + API + "?tagId=%D0%C5%CF%A2%C1%D0%B1%ED&paramJson=%7B%7D"
    with pytest.raises(ParseError) as e:
        ADAPTER.parse(_text("failure.json"), url, _source(ZJ))
    assert str(e.value).startswith(url + ": ") and "refused" in str(e.value) and "GBK" in str(e.value)


@pytest.mark.parametrize(("text", "problem"), [
    ('{"success":true,"data":{"html":"<ul>', "not JSON"),
    ('{"success":true,"data":{}}', "no data.html"),
    ('{"success":true,"data":"<ul></ul>"}', "no data.html"),
    ("<html><body><p>暂无信息</p></body></html>", "no JPaaS unit"),
    ('<html><body><div><script src="/x/AuthorizedRead/unitbuild.js"></script></div></body></html>', "no queryData/url"),
    ('<html><body><div><script parseType="bulidstatic" url="/u" queryData="[1, 2]"></script></div></body></html>',
     "not an object"),
    ('<html><body><div><script parseType="bulidstatic" url="/u" queryData="{webId: 3185"></script></div></body></html>',
     "neither JSON"),
])
def test_malformed_input_raises_parse_error_naming_the_url(text: str, problem: str) -> None:
    with pytest.raises(ParseError, match=problem) as e:
        ADAPTER.parse(text, ZJ, _source(ZJ))
    assert str(e.value).startswith(ZJ + ": ")


def test_a_page_without_a_unit_is_read_as_a_plain_dated_list() -> None:
    spec = _spec("small_section.expected.json")
    html = _text("small_section.html")
    start = html.index("<script id=")
    html = html[:start] + html[html.index("</script>", start) + 9:]
    assert "unitbuild.js" not in html
    page = ADAPTER.parse(html, spec["page_url"], _source(spec["page_url"]))
    assert _dicts(page) == spec["items"] and page.next is None  # the undated nav links are left out


def test_bad_page_size_param_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="page_size"):
        ADAPTER.parse(_text("zj_shell.html"), ZJ, _source(ZJ, params={"page_size": "0"}))


_PIECES = st.sampled_from(["{", "}", '"success":', "true", "false", ",", '"data":', '{"html":"', '"', "\\", "\n", "\t",
                           "<ul>", "<li class='cf'>", "<a href='/art/1.html' title='小巨人'>", "</a>", "2026-01-02",
                           "<script parseType='bulidstatic' url='/u' queryData=\"{'tagId':'信息列表'}\">", "</script>",
                           '<div count="9" rows="3" pageNo="x">', "oLayPageRender(1,{rows:'2',count:'5'})", "\ufeff",
                           "<html><body>", "queryData=\"{'a':", "src='/AuthorizedRead/unitbuild.js'", "\x00"])


@settings(max_examples=150, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_only_parse_errors_escape(text: str) -> None:
    try:
        page = ADAPTER.parse(text, ZJ, _source(ZJ, params={"page_size": "2"}))
    except ParseError as e:
        assert str(e).startswith(ZJ)
    else:
        assert isinstance(page, ListPage)


# ---------------------------------------------------------------- end to end: read_list + Fetcher + loopback server

def _read(source: Source, **kw):
    async def go():
        async with Fetcher(Politeness(delay=0, retries=0, timeout=5), "test-agent", network=LOOPBACK) as f:
            return await read_list(f.get, source, **kw)
    return asyncio.run(go())


def _api_route(prefix: str, tag: str, ignore_paging: bool = False):
    """Like the real API: UTF-8 values only, paging only through paramJson, else page 1."""
    def route(req) -> Resp:
        try:
            q = _query(req.path)
        except UnicodeDecodeError:
            return Resp(200, _text("failure.json"), content_type=JSON_TYPE)
        if q.get("tagId") != tag:
            return Resp(200, _text("failure.json"), content_type=JSON_TYPE)
        page = 1 if ignore_paging or "paramJson" not in q else json.loads(q["paramJson"])["pageNo"]
        path = JPAAS / f"{prefix}_p{page}.json"
        body = path.read_text(encoding="utf-8") if path.exists() else '{"success":true,"data":{"html":""}}'
        return Resp(200, body, content_type=JSON_TYPE)
    return route


def _api_requests(site: FixtureServer) -> list:
    return [r for r in site.requests if urlsplit(r.path).path == API]


def test_e2e_zj_pages_through_param_json_with_a_utf8_tag(site: FixtureServer) -> None:
    column = "/col/col1229629046/index.html"
    site.routes[column] = Resp(200, _text("zj_shell.html"), headers={"ETag": '"shell-1"'})
    site.routes[API] = _api_route("zj_unit", "信息列表")
    source = _source(site.url(column), pages=10, params={"page_size": "5"})
    result = _read(source, etag='"shell-1"')  # a stored validator must not turn the shell into a 304
    assert _pst(result.items) == [(w["path"], w["title"], w["date"]) for w in _spec("zj_all.expected.json")]
    assert result.pages == 3 and result.requests == 4
    assert "if-none-match" not in site.requests[0].headers
    calls = _api_requests(site)
    assert len(calls) == 3
    for n, req in enumerate(calls, 1):
        q = _query(req.path)
        assert json.loads(q.pop("paramJson")) == {"pageNo": n, "pageSize": "5"}
        assert q == {"parseType": "bulidstatic", "webId": "3185", "tplSetId": "o0YcVHHq5vWtr3uiCp4SY",
                     "pageType": "column", "tagId": "信息列表", "editType": "null", "pageId": "1229629046"}
        assert "tagId=%E4%BF%A1%E6%81%AF%E5%88%97%E8%A1%A8" in req.path
        assert req.headers["referer"] == source.url and req.method == "GET"


def test_e2e_miit_stops_after_a_short_page_and_resolves_against_the_column(site: FixtureServer) -> None:
    column = "/jgsj/zxqyj/gzdt/index.html"
    site.routes[column] = Resp(200, _text("miit_shell.html"))
    site.routes[API] = _api_route("miit_unit", "右侧内容")
    result = _read(_source(site.url(column), pages=10, params={"page_size": "4"}))
    want = _spec("miit_all.expected.json")
    assert [(i.url, i.title, i.date) for i in result.items] == [(site.url(w["path"]), w["title"], w["date"]) for w in want]
    assert [json.loads(_query(r.path)["paramJson"])["pageNo"] for r in _api_requests(site)] == [1, 2, 3]


def test_e2e_small_section_needs_one_request(site: FixtureServer) -> None:
    column = "/col/col1229225203/index.html"
    site.routes[column] = Resp(200, _text("small_section.html"))
    site.routes[API] = _api_route("miit_unit", "当前栏目list")
    result = _read(_source(site.url(column), pages=5))
    assert [(urlsplit(i.url).path, i.title, i.date) for i in result.items] == [
        (urlsplit(w["url"]).path, w["title"], w["date"]) for w in _spec("small_section.expected.json")["items"]]
    assert [r.path for r in site.requests] == [column]


def test_e2e_stops_when_the_api_ignores_the_page(site: FixtureServer) -> None:
    column = "/jgsj/zxqyj/gzdt/index.html"
    site.routes[column] = Resp(200, _text("miit_shell.html"))
    site.routes[API] = _api_route("miit_unit", "右侧内容", ignore_paging=True)
    result = _read(_source(site.url(column), pages=10, params={"page_size": "4"}))
    assert len(result.items) == 4 and result.pages == 2
    assert [json.loads(_query(r.path)["paramJson"])["pageNo"] for r in _api_requests(site)] == [1, 2]


def test_e2e_refusal_raises_parse_error(site: FixtureServer) -> None:
    column = "/col/col1229629046/index.html"
    site.routes[column] = Resp(200, _text("zj_shell.html"))
    site.routes[API] = _api_route("zj_unit", "某个别的标签")  # the API refuses every tag it does not know
    with pytest.raises(ParseError, match=r"build/unit\?.*refused the request"):
        _read(_source(site.url(column), pages=3))
    assert len(_api_requests(site)) == 1
