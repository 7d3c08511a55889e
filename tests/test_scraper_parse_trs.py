"""The ``trs`` adapter: TRS WCM static lists paged as index.html, index_1.html, ... (gov-sites.md 2.4).

tests/pages/trs copies the shapes of an NDRC list (``createPageHTML(2, 0, "index", "html")``
and its index_1.html) and of the expanded ``var countPage`` template (MEE style, .shtml).
"""

from __future__ import annotations

from typing import Any

import pytest

from config import Selectors, Source
from scraper.decode import decode
from scraper.models import ListItem
from scraper.parse import ADAPTERS, trs
from tests.conftest import PAGES
from tests.servers.http import FixtureServer, Resp
from tests.test_scraper_parse_miit import read_sync

TRS = PAGES / "trs"
COLUMN = "/xxgk/zcfb/tz/"
NDRC = "https://www.ndrc.gov.cn" + COLUMN

INDEX = [
    ("202411/t20241115_1394512.html", "国家发展改革委 工业和信息化部关于推广支持中小企业特色产业集群发展典型经验做法的通知", "2024-11-15"),
    ("202410/t20241029_1393876.html", "关于做好2024年降成本重点工作的通知", "2024-10-29"),
    ("202409/t20240907_1392713.html", "国家发展改革委办公厅关于开展先进制造业和现代服务业融合发展试点工作的通知", "2024-09-07"),
    ("202408/t20240823_1392105.html", "关于支持专精特新“小巨人”企业高质量发展若干措施的通知", "2024-08-23"),
    ("202407/t20240716_1391540.html", "国家发展改革委等部门关于推动县域特色产业集群高质量发展的指导意见", "2024-07-16"),
    ("202406/t20240628_1391077.html", "关于印发《产业结构调整指导目录（2024年本）》配套文件的通知", "2024-06-28"),
]
INDEX_1 = [
    ("202405/t20240521_1386790.html", "国家发展改革委关于组织开展2024年度国家级中小企业特色产业集群推荐工作的通知", "2024-05-21"),
    ("202404/t20240418_1385563.html", "关于进一步做好民营经济发展有关工作的通知", "2024-04-18"),
    ("202403/t20240312_1384920.html", "国家发展改革委 商务部关于印发《鼓励外商投资产业目录》配套措施的通知", "2024-03-12"),
]


def items(rows: list[tuple[str, str, str]], base: str) -> list[ListItem]:
    return [ListItem(url=base + href, title=title, date=date) for href, title, date in rows]


def page(name: str) -> str:
    return (TRS / name).read_text(encoding="utf-8")


def test_registered_and_plain_get_first() -> None:
    adapter = ADAPTERS["trs"]
    assert isinstance(adapter, trs.TrsAdapter)
    req = adapter.first_request(Source(name="ndrc", url=NDRC + "index.html", kind="trs"))
    assert req.url == NDRC + "index.html" and req.conditional is True


def test_first_page_items_and_next() -> None:
    result = trs.parse(page("ndrc_index.html"), NDRC + "index.html")
    assert list(result.items) == items(INDEX, NDRC)
    assert result.adapter == "trs" and result.total is None
    assert result.next is not None
    assert result.next.url == NDRC + "index_1.html"
    assert result.next.headers == {"Referer": NDRC + "index.html"} and result.next.adapter is None


def test_last_page_has_no_next() -> None:
    result = trs.parse(page("ndrc_index_1.html"), NDRC + "index_1.html")
    assert list(result.items) == items(INDEX_1, NDRC) and result.next is None


def test_column_url_without_a_file_name() -> None:
    result = trs.parse(page("ndrc_index.html"), NDRC)
    assert result.next is not None and result.next.url == NDRC + "index_1.html"
    assert result.items[0].url == NDRC + INDEX[0][0]


def test_expanded_countpage_variant() -> None:
    base = "https://www.mee.gov.cn/xxgk2018/xxgk/xxgk06/"
    result = trs.parse(page("mee_countpage.shtml"), base + "index.shtml")
    assert [i.url for i in result.items] == [
        base + "202411/t20241108_1095031.shtml", base + "202410/t20241022_1093884.shtml",
        base + "202409/t20240919_1091902.shtml"]
    assert result.items[1].title == "关于公布2024年度环保装备制造业专精特新“小巨人”企业推荐名单的公示"
    assert result.next is not None and result.next.url == base + "index_1.shtml"
    middle = page("mee_countpage.shtml").replace("var currentPage = 0;", "var currentPage = 5;")
    nxt = trs.parse(middle, base + "index_5.shtml").next
    assert nxt is not None and nxt.url == base + "index_6.shtml"
    last = page("mee_countpage.shtml").replace("var currentPage = 0;", "var currentPage = 16;")
    assert trs.parse(last, base + "index_16.shtml").next is None


LIST = ('<ul class="list"><li><a href="./202409/t20240907_1.html" title="关于公布名单的通知">关于公布名单的通知</a>'
        '<span>2024-09-07</span></li><li><a href="./202409/t20240901_2.html">关于申报工作的通知</a>'
        '<span>2024-09-01</span></li></ul>')


@pytest.mark.parametrize(
    ("script", "url", "next_name", "total"),
    [
        ('createPageHTML(10, 0, "index", "html");', "index.html", "index_1.html", None),
        ('createPageHTML(10, 3, "index", "html");', "index_3.html", "index_4.html", None),
        ('createPageHTML(10, 9, "index", "html");', "index_9.html", None, None),
        ('createPageHTML(1, 0, "index", "html");', "index.html", None, None),
        ('createPageHTML(0, 0, "index", "html");', "index.html", None, None),
        ("createPageHTML( 34 ,0,'index' , 'shtml' )", "index.shtml", "index_1.shtml", None),
        ('var countPage = 3; createPageHTML(countPage, 0, "index", "html");', "index.html", "index_1.html", None),
        ('var countPage = 1; createPageHTML(countPage, 0, "index", "html");', "index.html", None, None),
        ('var countPage = 4; var currentPage = 2; createPageHTML(countPage, currentPage, "list", "htm");',
         "list_2.htm", "list_3.htm", None),
        ('createPageHTML(nPages, 0, "index", "html");', "index.html", None, None),  # an undeclared variable
        # the 1-based sibling template: pager id first, item count last
        ("createPageHTML('page_div',5, 1,'fg','shtml',89);", "fg.shtml", "fg_2.shtml", 89),
        ("createPageHTML('page_div',5, 4,'fg','shtml',89);", "fg_4.shtml", "fg_5.shtml", 89),
        ("createPageHTML('page_div',5, 5,'fg','shtml',89);", "fg_5.shtml", None, 89),
        # expanded template; names from the next-page link, else from the URL
        ('var currentPage = 0; var countPage = 3; document.write("<a href=\\"index_" + nextPage + ".htm\\">");',
         "index.htm", "index_1.htm", None),
        ("var currentPage = 2;//所在页从0开始\nvar countPage = 5//共多少页", "list_2.htm", "list_3.htm", None),
        ("var countPage = 5", "", "index_1.html", None),
        # only the function's definition (from an included script): no paging is stated
        ("function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){ return; }", "index.html",
         None, None),
        ("", "index.html", None, None),
    ],
)
def test_paging_scripts(script: str, url: str, next_name: str | None, total: int | None) -> None:
    html = f"<html><body>{LIST}<div class='page'><script>{script}</script></div></body></html>"
    result = trs.parse(html, NDRC + url)
    assert (result.next.url if result.next else None) == (NDRC + next_name if next_name else None)
    assert result.total == total
    assert len(result.items) == 2


def test_selectors_from_the_source_are_used() -> None:
    text = page("ndrc_index.html")
    chosen = Source(name="n", url=NDRC, kind="trs", selectors=Selectors(item="ul.u-list > li", date="span"))
    assert ADAPTERS["trs"].parse(text, NDRC + "index.html", chosen).items == trs.parse(text, NDRC + "index.html").items
    nothing = Source(name="n", url=NDRC, kind="trs", selectors=Selectors(item="ul.no-such-list > li"))
    result = ADAPTERS["trs"].parse(text, NDRC + "index.html", nothing)
    assert result.items == () and result.next is not None  # paging still read


def test_gb2312_trs_page_from_the_static_fixtures() -> None:
    text, _ = decode((PAGES / "static" / "gb2312_list.html").read_bytes(), "text/html")
    result = trs.parse(text, "http://gxj.example.gov.cn/tzgg/index.html")
    assert [i.title for i in result.items][:2] == [
        "关于嘉兴镕鑫新材料有限公司等12家企业拟认定为专精特新中小企业的公示",
        "浙江喆凯智能科技有限公司“数字化车间”项目验收结果公示"]
    assert len(result.items) == 4 and result.next is None  # var countPage = 1


# ---------------------------------------------------------------- end to end

def serve_ndrc(site: FixtureServer) -> str:
    site.routes[COLUMN + "index.html"] = Resp(200, page("ndrc_index.html"))
    site.routes[COLUMN + "index_1.html"] = Resp(200, page("ndrc_index_1.html"))
    return site.url(COLUMN + "index.html")


def _read(site: FixtureServer, **kw: Any):
    return read_sync(Source(name="ndrc", url=serve_ndrc(site), kind="trs"), **kw)


def test_end_to_end_index_then_index_1_then_stop(site: FixtureServer) -> None:
    result = _read(site, pages=5)
    assert [r.path for r in site.requests] == [COLUMN + "index.html", COLUMN + "index_1.html"]
    assert site.requests[1].headers["referer"] == site.url(COLUMN + "index.html")
    assert list(result.items) == items(INDEX + INDEX_1, site.url(COLUMN))
    assert result.adapter == "trs" and result.pages == 2


def test_end_to_end_pages_limit(site: FixtureServer) -> None:
    result = _read(site, pages=1)
    assert [r.path for r in site.requests] == [COLUMN + "index.html"]
    assert len(result.items) == len(INDEX)
