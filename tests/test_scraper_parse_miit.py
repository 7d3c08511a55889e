"""The ``miit-search`` adapter: MIIT's site-search JSON API (gov-sites.md section 2.3).

Fixtures under tests/pages/miit copy the reply's shape (group=distinct records,
epoch-millisecond dates, relative URLs, <em> highlights); they were not captured
from the live site. End-to-end tests run a real Fetcher against a loopback server.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

import config
from config import Source
from scraper.errors import ParseError
from scraper.fetch import Fetcher
from scraper.listing import ListRead, read_list
from scraper.models import ListItem
from scraper.parse import ADAPTERS, miit
from tests.conftest import LOOPBACK, PAGES
from tests.servers.http import FixtureServer, Request, Resp

MIIT = PAGES / "miit"
API_PATH = "/search-front-server/api/search/info"
API = "https://www.miit.gov.cn" + API_PATH
QUERY = "中小企业特色产业集群"
POLITE = config.Politeness(delay=0, retries=0, timeout=5)

PAGE_1 = [
    ("/zwgk/zcwj/wjfb/tg/art/2024/art_5c1f8e2b9d3a4c7e8f0a1b2c3d4e5f60.html",
     "工业和信息化部关于公布2024年度中小企业特色产业集群名单的通知", "2024-11-13"),
    ("/jgsj/qyj/gzdt/art/2024/art_0a9b8c7d6e5f40312a3b4c5d6e7f8091.html",
     '关于第六批专精特新"小巨人"企业和第三批专精特新"小巨人"复核通过企业名单的公示', "2024-07-18"),
    ("https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2024/art_7e6d5c4b3a2940f18e7d6c5b4a392817.html",
     "工业和信息化部办公厅关于开展2024年度中小企业特色产业集群培育工作的通知", "2024-05-22"),
]
PAGE_2 = [
    ("/zwgk/zcjd/art/2022/art_1f2e3d4c5b6a47988a7b6c5d4e3f2a1b.html",
     "《促进中小企业特色产业集群发展暂行办法》政策解读", "2022-09-01"),
    ("/zwgk/zcwj/wjfb/tz/art/2022/art_9a8b7c6d5e4f43218a9b8c7d6e5f4a3b.html",
     "工业和信息化部关于印发《促进中小企业特色产业集群发展暂行办法》的通知", "2022-08-31"),
]


def expected(rows: list[tuple[str, str, str]], origin: str) -> list[ListItem]:
    return [ListItem(url=u if u.startswith("http") else origin + u, title=t, date=d) for u, t, d in rows]


def fixture(name: str) -> str:
    return (MIIT / name).read_text(encoding="utf-8")


def source(url: str = API, **params: str) -> Source:
    return Source(name="miit", url=url, kind="miit-search", params={"query": QUERY, **params})


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def read_sync(src: Source, **kw: Any) -> ListRead:
    """read_list through a real Fetcher (no delay, no retries)."""

    async def go() -> ListRead:
        async with Fetcher(POLITE, "test-agent", network=LOOPBACK) as f:
            return await read_list(f.get, src, **kw)

    return asyncio.run(go())


# ---------------------------------------------------------------- the request

def test_first_request_is_the_search_url_with_the_referer() -> None:
    req = ADAPTERS["miit-search"].first_request(source(cateid="196", page_size="10"))
    assert req.url.startswith(API + "?")
    assert req.headers["Referer"] == "https://www.miit.gov.cn/search/zcwjk.html"
    assert req.conditional is False and ADAPTERS["miit-search"].conditional_first is False
    q = query_of(req.url)
    assert {k: v[0] for k, v in q.items()} == {
        "websiteid": "110000000000000", "scope": "basic", "q": QUERY, "p": "1", "pg": "10", "cateid": "196",
        "pos": "title_text,infocontent,titlepy", "dateField": "deploytime",
        "selectFields": "title,content,deploytime,url", "group": "distinct",
        "sortFields": '[{"name":"deploytime","type":"desc"}]', "level": "6",
    }
    assert json.loads(q["sortFields"][0]) == [{"name": "deploytime", "type": "desc"}]
    assert "q=" + quote(QUERY.encode("utf-8"), safe="") in req.url  # UTF-8, never GBK
    assert "%E4%B8%AD%E5%B0%8F" in req.url  # 中小


def test_defaults_no_cateid_and_the_api_override() -> None:
    req = ADAPTERS["miit-search"].first_request(source(api="http://127.0.0.1:9/api/search?_cus_eq_typename=通知"))
    q = query_of(req.url)
    assert req.url.startswith("http://127.0.0.1:9/api/search?")
    assert q["pg"] == ["20"] and q["p"] == ["1"] and "cateid" not in q
    assert q["_cus_eq_typename"] == ["通知"]  # extra parameters written in the URL are kept


def test_empty_query_is_sent_as_an_empty_q() -> None:
    req = ADAPTERS["miit-search"].first_request(Source(name="m", url=API, kind="miit-search"))
    assert query_of(req.url)["q"] == [""]


@pytest.mark.parametrize("bad", ["0", "-3", "twenty", ""])
def test_page_size_must_be_a_positive_number(bad: str) -> None:
    with pytest.raises(ParseError, match="page_size"):
        ADAPTERS["miit-search"].first_request(source(page_size=bad))


# ---------------------------------------------------------------- parsing replies

def test_page_one_items_total_and_next() -> None:
    url = miit.search_url(API, {"query": QUERY, "page_size": "3"}, page=1)
    page = miit.parse(fixture("search_p1.json"), url, {"page_size": "3"})
    assert list(page.items) == expected(PAGE_1, "https://www.miit.gov.cn")
    assert page.adapter == "miit-search" and page.total == 5
    assert page.next is not None
    assert page.next.headers["Referer"] == miit.REFERER
    nq, q = query_of(page.next.url), query_of(url)
    assert nq.pop("p") == ["2"] and q.pop("p") == ["1"]
    assert nq == q  # everything else is asked again unchanged


def test_last_page_offers_no_next() -> None:
    url = miit.search_url(API, {"query": QUERY, "page_size": "3"}, page=2)
    page = miit.parse(fixture("search_p2.json"), url)
    assert list(page.items) == expected(PAGE_2, "https://www.miit.gov.cn")
    assert page.next is None


@pytest.mark.parametrize("name", ["search_empty.json", "search_no_hits.json"])
def test_zero_hits_is_a_valid_empty_page(name: str) -> None:
    page = miit.parse(fixture(name), API + "?p=1&pg=20")
    assert page.items == () and page.next is None and page.total == 0


def test_relative_urls_resolve_against_the_api_origin() -> None:
    page = miit.parse(fixture("search_p2.json"), "http://127.0.0.1:8123" + API_PATH + "?p=2&pg=3")
    assert [i.url for i in page.items] == ["http://127.0.0.1:8123" + u for u, _, _ in PAGE_2]


def _reply(records: list[dict], total: int | None = None, grouped: bool = False) -> str:
    results = [{"groupData": [{"data": r}]} if grouped else {"data": r} for r in records]
    found: dict[str, Any] = {"dataResults": results}
    if total is not None:
        found["totalCount"] = total
    return json.dumps({"code": 200, "success": True, "data": {"searchResult": found}}, ensure_ascii=False)


def test_ungrouped_records_with_title_text_and_string_dates() -> None:
    text = _reply([
        {"title_text": "关于<span class='hl'>中小企业</span>特色产业集群的通知 &amp; 附件", "url": "/a.html",
         "jsearch_date": "2024-09-07"},
        {"title": "关于专精特新的通知", "url": "b.html", "cdate": "1725667200000"},
        {"title": "没有日期", "url": "/c.html"},
    ], total=3)
    page = miit.parse(text, API + "?p=1&pg=20")
    assert [(i.url, i.title, i.date) for i in page.items] == [
        ("https://www.miit.gov.cn/a.html", "关于中小企业特色产业集群的通知 & 附件", "2024-09-07"),
        ("https://www.miit.gov.cn/b.html", "关于专精特新的通知", "2024-09-07"),
        ("https://www.miit.gov.cn/c.html", "没有日期", None),
    ]
    assert page.next is None


def test_a_record_without_url_is_skipped_and_duplicates_are_dropped() -> None:
    text = _reply([{"title": "甲", "url": "/a.html"}, {"title": "乙"}, {"title": "甲", "url": "/a.html"}],
                  total=3, grouped=True)
    assert [i.title for i in miit.parse(text, API + "?p=1&pg=20").items] == ["甲"]


@pytest.mark.parametrize(
    ("page_no", "count", "total", "pg", "more"),
    [
        (1, 3, 5, "3", True), (2, 2, 5, "3", False), (2, 3, 6, "3", False),
        (1, 2, 5, "3", True),  # group=distinct may fold hits: a short page is not the end while hits remain
        (1, 3, None, "3", True), (1, 2, None, "3", False),  # no count: a full page suggests more
        (2, 20, 41, "20", True), (3, 1, 41, "20", False), (1, 0, 9, "3", False),
    ],
)
def test_next_page_while_hits_remain(page_no: int, count: int, total: int | None, pg: str, more: bool) -> None:
    records = [{"title": f"第{i}条", "url": f"/{i}.html"} for i in range(count)]
    page = miit.parse(_reply(records, total), f"{API}?q=&p={page_no}&pg={pg}")
    assert (page.next is not None) is more
    if page.next is not None:
        assert query_of(page.next.url)["p"] == [str(page_no + 1)]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (fixture("search_truncated.json"), "not JSON"),
        (fixture("search_unknown_record.json"), "dataResults[0] has neither groupData[0].data nor data"),
        ("<html><body>系统繁忙</body></html>", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"code":500,"msg":"系统异常","success":false}', "success=false (系统异常)"),
        ('{"code":200,"data":null}', "no 'data' object"),
        ('{"code":200,"data":{"searchResult":[]}}', "searchResult is not an object"),
        ('{"code":200,"data":{"searchResult":{"totalCount":5}}}', "no dataResults list"),
        ('{"code":200,"data":{"searchResult":{"totalCount":1,"dataResults":{"a":1}}}}', "no dataResults list"),
        (_reply([{"name": "x", "link": "/a.html"}], 1), "none of the 1 records has both a title and a url"),
    ],
)
def test_malformed_replies_raise_parse_error_naming_the_url(text: str, problem: str) -> None:
    url = API + "?q=x&p=1&pg=20"
    with pytest.raises(ParseError) as e:
        miit.parse(text, url)
    assert str(e.value).startswith(url + ": ") and problem in str(e.value)


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        (1731429000000, "2024-11-13"),  # 2024-11-12 16:30 UTC is already the 13th in Beijing
        ("1731429000000", "2024-11-13"),
        (1731429000, "2024-11-13"),  # seconds
        (1731429000000.0, "2024-11-13"),
        (0, None), (-5, None), ("2024-11-13", None), ("", None), (None, None), (True, None),
        (float("inf"), None), (10**30, None),
    ],
)
def test_epoch_dates_are_read_in_china_time(value: Any, iso: str | None) -> None:
    assert miit.epoch_date(value) == iso


# ---------------------------------------------------------------- end to end

def _serve(site: FixtureServer, pages: dict[str, str]) -> None:
    def answer(req: Request) -> Resp:
        p = query_of(req.path).get("p", ["1"])[0]
        return Resp(200, pages.get(p, fixture("search_empty.json")), content_type="application/json;charset=UTF-8")

    site.routes[API_PATH] = answer


def test_end_to_end_two_pages_then_stop(site: FixtureServer) -> None:
    _serve(site, {"1": fixture("search_p1.json"), "2": fixture("search_p2.json")})
    result = read_sync(source(site.url(API_PATH), cateid="196", page_size="3"), pages=5)
    assert list(result.items) == expected(PAGE_1 + PAGE_2, site.base)
    assert result.adapter == "miit-search" and result.pages == 2 and result.requests == 2
    assert len(site.requests) == 2
    for n, req in enumerate(site.requests, 1):
        assert req.method == "GET" and req.path.startswith(API_PATH + "?")
        assert req.headers["referer"] == "https://www.miit.gov.cn/search/zcwjk.html"
        q = query_of(req.path)
        assert (q["q"], q["p"], q["pg"], q["cateid"]) == ([QUERY], [str(n)], ["3"], ["196"])
        assert q["websiteid"] == ["110000000000000"] and q["group"] == ["distinct"]
        assert "%E4%B8%AD%E5%B0%8F%E4%BC%81%E4%B8%9A" in req.path  # 中小企业, UTF-8 on the wire


def test_end_to_end_stops_at_the_pages_limit(site: FixtureServer) -> None:
    _serve(site, {"1": fixture("search_p1.json"), "2": fixture("search_p2.json")})
    result = read_sync(source(site.url(API_PATH), page_size="3"), pages=1)
    assert len(result.items) == 3 and len(site.requests) == 1


def test_end_to_end_no_hits(site: FixtureServer) -> None:
    _serve(site, {"1": fixture("search_no_hits.json")})
    result = read_sync(source(site.url(API_PATH)), pages=3)
    assert result.items == () and len(site.requests) == 1


def test_end_to_end_malformed_reply_is_a_parse_error(site: FixtureServer) -> None:
    _serve(site, {"1": fixture("search_truncated.json")})
    with pytest.raises(ParseError, match="not JSON"):
        read_sync(source(site.url(API_PATH)))


def test_fixture_folder_is_complete() -> None:
    names = {p.name for p in Path(MIIT).glob("*.json")}
    assert {"search_p1.json", "search_p2.json", "search_empty.json", "search_truncated.json"} <= names
