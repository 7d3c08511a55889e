"""The generic ``static`` list adapter, its dates and the text/URL helpers.

Fixture pages under tests/pages/static copy the markup shapes of real list
pages (gov-sites.md sections 2.1 and 2.5); the expected items sit beside each
page in <case>.expected.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import Selectors
from scraper.decode import decode
from scraper.errors import ParseError
from scraper.models import ListItem
from scraper.parse import ADAPTERS, static
from scraper.parse.dates import find_date
from scraper.text import best_title, canonical_url, clean, resolve
from tests.conftest import PAGES

STATIC = PAGES / "static"
CASES = sorted(STATIC.glob("*.expected.json"))


def _variants() -> list:
    out = []
    for path in CASES:
        spec = json.loads(path.read_text(encoding="utf-8"))
        for i, sel in enumerate(spec["selectors"]):
            label = "heuristic" if sel is None else f"selectors{i}"
            out.append(pytest.param(path, sel, id=f"{path.name.removesuffix('.expected.json')}-{label}"))
    return out


def _html_of(path: Path) -> tuple[dict, str, str]:
    spec = json.loads(path.read_text(encoding="utf-8"))
    raw = path.with_name(path.name.replace(".expected.json", ".html")).read_bytes()
    text, codec = decode(raw, "text/html")
    return spec, text, codec


def test_fixture_folder_is_complete() -> None:
    names = {p.name.removesuffix(".expected.json") for p in CASES}
    assert {"jiaxing_list", "gb2312_list", "table_list", "yancheng_list"} <= names
    for p in CASES:
        assert p.with_name(p.name.replace(".expected.json", ".html")).is_file()


@pytest.mark.parametrize(("path", "selectors"), _variants())
def test_fixture_pages(path: Path, selectors: dict | None) -> None:
    spec, text, codec = _html_of(path)
    assert codec == spec["codec"]
    sel = Selectors(**selectors) if selectors else None
    result = static.parse(text, spec["page_url"], sel)
    assert result.adapter == ("static" if sel else "static (heuristic)")
    assert [vars(i) for i in result.items] == spec["items"]


def test_static_is_the_registered_adapter() -> None:
    assert isinstance(ADAPTERS["static"], static.StaticAdapter) and ADAPTERS["static"].kind == "static"


# ---------------------------------------------------------------- titles

def _one(li: str, page_url: str = "http://jxj.jiaxing.gov.cn/col/col1229399350/index.html") -> list[ListItem]:
    html = f"<html><body><ul class='list'>{li}</ul></body></html>"
    return list(static.parse(html, page_url, Selectors(item="ul.list > li")).items)


@pytest.mark.parametrize(
    ("li", "title"),
    [
        # visible text cut with an ellipsis, full title in the attribute
        ('<li><a href="/a.html" title="关于2026年浙江省中小企业特色产业集群（第二批）拟认定名单的公示">关于2026年浙江省中小企业特色产业集群（第二批）拟...</a><span>2026-11-20</span></li>',
         "关于2026年浙江省中小企业特色产业集群（第二批）拟认定名单的公示"),
        ('<li><a href="/a.html" title="关于组织开展2026年度浙江省中小企业特色产业集群申报工作的通知">关于组织开展2026年度浙江省中小企业特色产业集群申…</a></li>',
         "关于组织开展2026年度浙江省中小企业特色产业集群申报工作的通知"),
        ('<li><a href="/a.html" title="关于公布专精特新中小企业名单的通知">关于公布专精特新……</a></li>', "关于公布专精特新中小企业名单的通知"),
        ('<li><a href="/a.html" title="关于公布专精特新中小企业名单的通知">关于公布专精特新。。。</a></li>', "关于公布专精特新中小企业名单的通知"),
        # cut without an ellipsis: the attribute continues the visible text
        ('<li><a href="/a.html" title="关于公布2026年嘉兴市专精特新中小企业名单的通知">关于公布2026年嘉兴市专精特新</a></li>',
         "关于公布2026年嘉兴市专精特新中小企业名单的通知"),
        # the example from gov-sites.md: "招聘公示..." with the title attribute
        ('<li><a href="/a.html" title="招聘公示">招聘公示...</a></li>', "招聘公示"),
        # the title attribute is a tooltip, not the title: keep the visible text
        ('<li><a href="/a.html" title="在新窗口打开">关于公布2026年嘉兴市专精特新中小企业名单的通知</a></li>',
         "关于公布2026年嘉兴市专精特新中小企业名单的通知"),
        # no attribute; whitespace, nbsp and full-width spaces collapse
        ('<li><a href="/a.html">\n  关于公布&nbsp;名单\u3000的通知  </a></li>', "关于公布 名单 的通知"),
        # no visible text (an image link) but a title attribute
        ('<li><a href="/a.html" title="2026年工作要点"><img src="/i.png"></a></li>', "2026年工作要点"),
        # Yuhang: the title is in a span inside the link, the date in an <i>
        ('<li><a href="/a.html" target="_blank" title="余杭区关于组织申报2020年度区级工业企业技术改造项目的通知"><span>余杭区关于组织申报2020年度区级工业企...</span><i>2020-08-14</i></a></li>',
         "余杭区关于组织申报2020年度区级工业企业技术改造项目的通知"),
        ('<li><a href="/a.html"><span>余杭区2020年8月工业经济运行简况</span><i>2020-09-14</i></a></li>', "余杭区2020年8月工业经济运行简况"),
        ('<li><a href="/a.html">关于公布名单的通知<span class="date">[2026-01-02]</span></a></li>', "关于公布名单的通知"),
    ],
)
def test_title(li: str, title: str) -> None:
    items = _one(li)
    assert [i.title for i in items] == [title]


def test_title_selector_prefers_its_own_title_attribute() -> None:
    li = ('<li><a href="/a.html" title="链接提示"><span class="t" title="关于公布名单的通知">关于公布...</span></a>'
          '<span class="d">2026-01-02</span></li>')
    html = f"<ul class='list'>{li}</ul>"
    [item] = static.parse(html, "http://x.gov.cn/col/", Selectors(item="li", title="span.t", date="span.d")).items
    assert (item.title, item.date) == ("关于公布名单的通知", "2026-01-02")


def test_item_without_any_title_is_dropped() -> None:
    assert _one('<li><a href="/a.html"><img src="/i.png"></a><span>2026-01-02</span></li>') == []


# ---------------------------------------------------------------- links

PAGE = "http://jxj.jiaxing.gov.cn/col/col1229399350/index.html"


@pytest.mark.parametrize(
    ("page_url", "href", "url"),
    [
        (PAGE, "http://jxj.jiaxing.gov.cn/art/2022/8/31/art_1229399350_4982329.html",
         "http://jxj.jiaxing.gov.cn/art/2022/8/31/art_1229399350_4982329.html"),
        (PAGE, "/art/2026/11/20/art_1229399350_5511876.html",
         "http://jxj.jiaxing.gov.cn/art/2026/11/20/art_1229399350_5511876.html"),
        (PAGE, "../../art/2026/1/14/art_1229399350_5471903.html",
         "http://jxj.jiaxing.gov.cn/art/2026/1/14/art_1229399350_5471903.html"),
        (PAGE, "art_1229399350_1.html", "http://jxj.jiaxing.gov.cn/col/col1229399350/art_1229399350_1.html"),
        ("http://gxj.example.gov.cn/tzgg/index.html", "./202609/t20260911_4135560.html",
         "http://gxj.example.gov.cn/tzgg/202609/t20260911_4135560.html"),
        ("https://fzggw.zj.gov.cn/col/col1599544/index.html", "//fzggw.zj.gov.cn/art/2024/12/1/art_1599544_1.html",
         "https://fzggw.zj.gov.cn/art/2024/12/1/art_1599544_1.html"),
        (PAGE, "//www.yuhang.gov.cn/art/2020/8/14/art_1229179150_1872814.html",
         "http://www.yuhang.gov.cn/art/2020/8/14/art_1229179150_1872814.html"),
        (PAGE, "  /art/2026/1/1/a.html\n", "http://jxj.jiaxing.gov.cn/art/2026/1/1/a.html"),
        (PAGE, "/art/2026/1/1/a.html#content", "http://jxj.jiaxing.gov.cn/art/2026/1/1/a.html"),
        (PAGE, "/module/xxgk/view.jsp?id=5&cid=7", "http://jxj.jiaxing.gov.cn/module/xxgk/view.jsp?id=5&cid=7"),
        (PAGE, "https://jxt.zj.gov.cn/art/2025/1/6/art_1582899_27824.html",
         "https://jxt.zj.gov.cn/art/2025/1/6/art_1582899_27824.html"),
    ],
)
def test_links_resolve_against_the_page_url(page_url: str, href: str, url: str) -> None:
    items = _one(f'<li><a href="{href}" title="关于公布名单的通知">关于公布名单的通知</a><span>2026-01-02</span></li>', page_url)
    assert [i.url for i in items] == [url]
    assert resolve(page_url, href) == url


@pytest.mark.parametrize(
    "href",
    ["javascript:void(0);", "JavaScript:openWin('5490001')", " javascript:;", "java\tscript:void(0)", "#", "#top",
     "", "mailto:jxj@example.org", "tel:0573-82520000", "ftp://jxj.jiaxing.gov.cn/a.pdf", "data:text/html,x",
     "http://[::1/art/a.html", "http://jxj.jiaxing.gov.cn:99999/art/a.html"],
)
def test_non_http_links_are_skipped(href: str) -> None:
    li = f'<li><a href="{href}" title="关于公布名单的通知">关于公布名单的通知</a><span>2026-01-02</span></li>'
    ok = '<li><a href="/art/ok.html" title="正常条目">正常条目</a><span>2026-01-03</span></li>'
    assert [i.url for i in _one(li + ok)] == ["http://jxj.jiaxing.gov.cn/art/ok.html"]
    assert resolve(PAGE, href) is None


def test_duplicate_links_are_listed_once() -> None:
    li = '<li><a href="/art/a.html" title="甲">甲</a><span>2026-01-02</span></li>'
    assert [i.url for i in _one(li + li.replace("甲", "甲（重复）"))] == ["http://jxj.jiaxing.gov.cn/art/a.html"]


# ---------------------------------------------------------------- heuristic

def test_heuristic_ignores_navigation_and_sidebar_on_the_jiaxing_page() -> None:
    spec, text, _ = _html_of(STATIC / "jiaxing_list.expected.json")
    urls = [i.url for i in static.parse(text, spec["page_url"]).items]
    assert len(urls) == 9
    assert not [u for u in urls if "/col/" in u or u.rstrip("/").endswith("jiaxing.gov.cn")]  # nav, crumbs, menu
    assert not [u for u in urls if "art_1229399360_" in u]  # the smaller "热点关注" side list
    assert "beian.miit.gov.cn" not in " ".join(urls)


def test_heuristic_finds_the_table_rows_and_skips_the_header_row() -> None:
    spec, text, _ = _html_of(STATIC / "table_list.expected.json")
    items = static.parse(text, spec["page_url"]).items
    assert [i.title for i in items][0] == "关于2026年国家医师资格考试实践技能考试济南考点考生须知的通知"
    assert "标题" not in [i.title for i in items]
    assert all(i.date for i in items) and len(items) == 6
    assert not [i for i in items if "/col/col144" in i.url and "art_" not in i.url]


def test_heuristic_ignores_markup_inside_scripts() -> None:
    spec, text, _ = _html_of(STATIC / "jiaxing_list.expected.json")
    assert "{name}" in text  # the fixture has an <li><a>…<span>date</span> template inside a <script>
    assert not [i for i in static.parse(text, spec["page_url"]).items if "{" in i.url or "{" in i.title]


def test_heuristic_picks_the_largest_dated_group() -> None:
    side = "".join(f'<li><a href="/hot/{n}.html">热点{n}</a><em>2026-01-0{n}</em></li>' for n in range(1, 3))
    main = "".join(f'<li><a href="/art/{n}.html">通知{n}</a><span>2026-02-0{n}</span></li>' for n in range(1, 5))
    html = f"<div class='side'><ul>{side}</ul></div><div class='main'><ul>{main}</ul></div>"
    assert [i.url for i in static.parse(html, "http://x.gov.cn/col/").items] == [
        f"http://x.gov.cn/art/{n}.html" for n in range(1, 5)]


def test_heuristic_needs_at_least_two_dated_items() -> None:
    html = "<ul><li><a href='/a.html'>唯一的通知</a><span>2026-01-02</span></li><li><a href='/b.html'>无日期</a></li></ul>"
    assert static.parse(html, "http://x.gov.cn/").items == ()


# ---------------------------------------------------------------- dates

@pytest.mark.parametrize(
    ("record", "date"),
    [
        # Hanweb jpage record variants (gov-sites.md 2.1)
        ("<li><a href='{u}' title='{t}'>{t}</a><span>2026-09-11</span></li>", "2026-09-11"),
        ("<p class='lb-list'><a href='{u}' title='{t}'>{t}</a><span>2024-12-31</span></p>", "2024-12-31"),
        ("<li class='clearfix'><a href='{u}' title='{t}'>{t}</a><b>2023-08-17</b></li>", "2023-08-17"),
        ("<li><a href='{u}' title='{t}'><span>{t}</span><i>2020-08-14</i></a></li>", "2020-08-14"),
        ("<li><a href='{u}' title='{t}'>{t}</a><span class='time'>2025/03/05</span></li>", "2025-03-05"),
        ("<li><a href='{u}' title='{t}'>{t}</a>&nbsp;[2026-09-11]</li>", "2026-09-11"),
        ("<li><a href='{u}' title='{t}'>{t}</a><span>2023年8月17日</span></li>", "2023-08-17"),
        ("<li><a href='{u}' title='{t}'>{t}</a><span>2026.09.19</span></li>", "2026-09-19"),
        ("<li><span class='date'>2026-1-5</span><a href='{u}' title='{t}'>{t}</a></li>", "2026-01-05"),
        ("<li><a href='{u}' title='{t}'>{t}</a><span>2023-08-17 10:21</span></li>", "2023-08-17"),
        ("<li><a href='{u}' title='{t}'>{t}</a></li>", None),
    ],
)
def test_dates_in_list_records(record: str, date: str | None) -> None:
    rows = [record.format(u=f"/art/{n}.html", t=f"关于第{n}批名单的公示") for n in range(3)]
    sel = Selectors(item="#list > *")
    items = static.parse(f"<div id='list'>{''.join(rows)}</div>", "http://x.gov.cn/col/", sel).items
    assert [i.date for i in items] == [date] * 3
    if date:  # the heuristic finds the same rows and the same dates
        assert [i.date for i in static.parse(f"<div id='list'>{''.join(rows)}</div>", "http://x.gov.cn/col/").items] == [date] * 3


def test_date_in_a_table_cell() -> None:
    rows = "".join(
        f"<tr><td width='620'><a href='/art/{n}.html' title='通知{n}'>通知{n}</a></td><td width='100'>2026-03-1{n}</td></tr>"
        for n in range(3))
    html = f"<table>{rows}</table>"
    sel = Selectors(item="tr", link="td[width='620'] a", date="td[width='100']")
    assert [i.date for i in static.parse(html, "http://x.gov.cn/", sel).items] == ["2026-03-10", "2026-03-11", "2026-03-12"]


@pytest.mark.parametrize("sel", [None, Selectors(item="li")])
def test_a_date_inside_the_title_does_not_win(sel: Selectors | None) -> None:
    rows = ("<li><a href='/a.html' title='关于2026年7月1日起施行新办法的公告'>关于2026年7月1日起施行新办法的公告</a><span>2026-06-20</span></li>"
            "<li><a href='/b.html'>关于2023年8月17日召开推进会的通知</a>[2023-08-10]</li>")
    items = static.parse(f"<ul>{rows}</ul>", "http://x.gov.cn/", sel).items
    assert [i.date for i in items] == ["2026-06-20", "2023-08-10"]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2023-08-17", "2023-08-17"),
        ("2023-8-7", "2023-08-07"),
        ("2023-08-17 10:21", "2023-08-17"),
        ("2023-08-17 10:21:05", "2023-08-17"),
        ("2023/08/17", "2023-08-17"),
        ("2026.09.19", "2026-09-19"),
        ("2023年8月17日", "2023-08-17"),
        ("2023 年 8 月 17 日", "2023-08-17"),
        ("[2026-09-11]", "2026-09-11"),
        ("发布日期:2022-08-31 来源:市经信局", "2022-08-31"),
        ("公示时间：2023年5月1日至5月5日", "2023-05-01"),
        ("二〇二三年八月十七日", "2023-08-17"),
        ("二〇二四年十二月三十一日", "2024-12-31"),
        ("二〇二四年十月二十日", "2024-10-20"),
        ("2023-02-30 2023-03-01", "2023-03-01"),  # an impossible date is skipped, the next one taken
        ("2023-13-01", None),
        ("1899-01-01", None),
        ("art_1229399350_5511876", None),
        ("电话 0573-8252-0000", None),
        ("12023-08-17", None),
        ("", None),
        ("关于2026年度集群申报的通知", None),
    ],
)
def test_find_date(text: str, iso: str | None) -> None:
    assert find_date(text) == iso


# ---------------------------------------------------------------- failures

@pytest.mark.parametrize("bad", ["li[", "ul >", "li:nth-child(", "::"])
def test_bad_item_selector_raises_parse_error_naming_the_url(bad: str) -> None:
    url = "http://jxj.jiaxing.gov.cn/col/col1229399350/index.html"
    with pytest.raises(ParseError) as e:
        static.parse("<ul><li><a href='/a.html'>甲</a></li></ul>", url, Selectors(item=bad))
    assert url in str(e.value)
    assert repr(bad) in str(e.value)


@pytest.mark.parametrize(
    "sel",
    [Selectors(item="li", link="a["), Selectors(item="li", title="span:nth-child("), Selectors(item="li", date="b >")],
)
def test_bad_link_title_or_date_selector_raises_parse_error(sel: Selectors) -> None:
    url = "http://x.gov.cn/col/index.html"
    with pytest.raises(ParseError) as e:
        static.parse("<ul><li><a href='/a.html'>甲</a><span>2026-01-02</span></li></ul>", url, sel)
    assert url in str(e.value)


@pytest.mark.parametrize(
    ("html", "sel"),
    [
        # a soft-block or empty shell: the page parses but has no items
        ("<html><head><title>系统繁忙</title></head><body><p>请稍后再试</p></body></html>", None),
        ("<html><body><div class='nav'><ul><li><a href='/'>首页</a></li><li><a href='/col/1/'>通知公告</a></li></ul></div></body></html>", None),
        ("<html><body><ul class='news-list'></ul></body></html>", Selectors(item="ul.news-list > li")),
        ("", None),
    ],
)
def test_page_without_items_returns_zero_items(html: str, sel: Selectors | None) -> None:
    assert static.parse(html, "http://x.gov.cn/col/", sel).items == ()


def test_selectors_that_match_nothing_on_a_real_page_return_zero_items() -> None:
    spec, text, _ = _html_of(STATIC / "jiaxing_list.expected.json")
    assert static.parse(text, spec["page_url"], Selectors(item="div.list-box > table tr")).items == ()


@settings(max_examples=150, deadline=None, database=None)
@given(st.text(max_size=400), st.sampled_from([None, Selectors(item="li"), Selectors(item="tr", link="a", date="td")]))
def test_parse_returns_items_or_raises_parse_error(html: str, sel: Selectors | None) -> None:
    try:
        page = static.parse(html, "http://x.gov.cn/col/index.html", sel)
    except ParseError:
        return
    for item in page.items:
        assert item.url.startswith("http://") and item.title


# ---------------------------------------------------------------- text helpers

@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [(" a\u3000b\xa0c \n d ", "a b c d"), (None, ""), ("", ""), ("\t\r\n", ""), ("关于 \n\n 名单", "关于 名单")],
)
def test_clean(raw: str | None, cleaned: str) -> None:
    assert clean(raw) == cleaned


@pytest.mark.parametrize(
    ("visible", "attr", "title"),
    [
        ("招聘公示...", "招聘公示", "招聘公示"),
        ("关于公布…", "关于公布名单的通知", "关于公布名单的通知"),
        ("关于公布名单的通知", None, "关于公布名单的通知"),
        ("", "关于公布名单的通知", "关于公布名单的通知"),
        ("关于公布名单的通知", "点击查看", "关于公布名单的通知"),
        ("关于公布名单", "关于公布名单的通知", "关于公布名单的通知"),
        ("  ", "  ", ""),
    ],
)
def test_best_title(visible: str, attr: str | None, title: str) -> None:
    assert best_title(visible, attr) == title


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://JXJ.Jiaxing.GOV.cn/art/a.html#top", "http://jxj.jiaxing.gov.cn/art/a.html"),
        ("http://jxj.jiaxing.gov.cn:80/art/a.html", "http://jxj.jiaxing.gov.cn/art/a.html"),
        ("https://jxt.zj.gov.cn:443/art/a.html", "https://jxt.zj.gov.cn/art/a.html"),
        ("https://jxt.zj.gov.cn:8443/art/a.html", "https://jxt.zj.gov.cn:8443/art/a.html"),
        ("http://x.gov.cn/a.html?id=5&utm_source=wx&spm=1.2", "http://x.gov.cn/a.html?id=5"),
        ("http://x.gov.cn", "http://x.gov.cn/"),
        ("http://x.gov.cn/view.jsp?b=2&a=1", "http://x.gov.cn/view.jsp?b=2&a=1"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical
    assert canonical_url(canonical) == canonical  # idempotent
