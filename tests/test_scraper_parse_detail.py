"""Detail pages: meta tags first, visible fallbacks, body text, attachments.

Fixture pages under tests/pages/detail copy the real shapes (gov-sites.md
section 4): a Hanweb page with the national meta tags and a Word-pasted table
in #zoom, a MIIT page (h1#con_title, span#con_time, div.cinfo, #con_con,
cms_files links), and a page with no meta tags at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.decode import decode
from scraper.errors import ParseError
from scraper.models import Attachment
from scraper.parse import parse_detail
from scraper.parse.detail import is_attachment, parse
from tests.conftest import PAGES

DETAIL = PAGES / "detail"
CASES = sorted(DETAIL.glob("*.expected.json"))
URL = "http://jxj.jiaxing.gov.cn/art/2026/11/20/art_1229399350_5511876.html"


def test_fixture_folder_is_complete() -> None:
    assert {p.name.removesuffix(".expected.json") for p in CASES} >= {"hanweb_detail", "miit_detail", "visible_only"}


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_fixture_pages(path: Path) -> None:
    spec = json.loads(path.read_text(encoding="utf-8"))
    html, _ = decode(path.with_name(path.name.replace(".expected.json", ".html")).read_bytes(), "text/html")
    d = parse_detail(html, spec["url"])
    assert d.url == spec["url"]
    assert (d.title, d.pub_date, d.source, d.column) == (spec["title"], spec["pub_date"], spec["source"], spec["column"])
    assert d.body.split("\n") == spec["body"]
    assert [vars(a) for a in d.attachments] == spec["attachments"]


def _fixture(name: str) -> str:
    return (DETAIL / f"{name}.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------- meta first

META = """<meta name="ColumnName" content="通知公告">
<meta name="ArticleTitle" content="关于公布2024年度中小企业特色产业集群名单的通知">
<meta name="PubDate" content="2024-12-01 09:00">
<meta name="ContentSource" content="价格处">"""
VISIBLE = """<h1>关于公布2024年度中小企业特色产业集群名单的通知（更正）</h1>
<div class="info">发布日期：2024-12-02 来源：省发展改革委 浏览次数：</div>
<div id="zoom"><p>正文。</p></div>"""


def test_meta_tags_win_over_the_visible_page() -> None:
    d = parse(f"<html><head><title>页面标题</title>{META}</head><body>{VISIBLE}</body></html>", URL)
    assert (d.title, d.pub_date, d.source, d.column) == (
        "关于公布2024年度中小企业特色产业集群名单的通知", "2024-12-01", "价格处", "通知公告")


def test_without_meta_tags_the_visible_page_is_used() -> None:
    d = parse(f"<html><head><title>页面标题</title></head><body>{VISIBLE}</body></html>", URL)
    assert (d.title, d.pub_date, d.source, d.column) == (
        "关于公布2024年度中小企业特色产业集群名单的通知（更正）", "2024-12-02", "省发展改革委", None)


def test_hanweb_fixture_meta_differs_from_its_visible_line() -> None:
    """The fixture's visible line says 来源:市经信局; ContentSource says 中小企业处 and wins."""
    html = _fixture("hanweb_detail")
    assert "来源:市经信局" in html
    d = parse(html, URL)
    assert d.source == "中小企业处"
    assert d.pub_date == "2026-11-20"
    stripped = html.replace('<meta name="ContentSource" content="中小企业处">', "").replace(
        '<meta name="PubDate" content="2026-11-20 16:35">', "")
    assert (parse(stripped, URL).source, parse(stripped, URL).pub_date) == ("市经信局", "2026-11-20")


@pytest.mark.parametrize(
    ("metas", "field", "value"),
    [
        ('<meta name="pubdate" content="2024-12-01 09:00:00">', "pub_date", "2024-12-01"),
        ('<META NAME="PubDate" CONTENT="2024-12-01">', "pub_date", "2024-12-01"),
        ('<meta name="publishdate" content="2023-08-17">', "pub_date", "2023-08-17"),
        ('<meta name="PubDate" content="">', "pub_date", "2024-12-02"),  # empty meta: visible line
        ('<meta name="PubDate" content="待定">', "pub_date", "2024-12-02"),  # unreadable meta: visible line
        ('<meta name="source" content="生态环境部">', "source", "生态环境部"),
        ('<meta name="ContentSource" content="  中小企业局 ">', "source", "中小企业局"),
        ('<meta name="ArticleTitle" content=" 关于  名单的\u3000通知 ">', "title", "关于 名单的 通知"),
        ('<meta name="ArticleTitle" content="">', "title", "关于公布2024年度中小企业特色产业集群名单的通知（更正）"),
    ],
)
def test_meta_variants(metas: str, field: str, value: str) -> None:
    d = parse(f"<html><head>{metas}</head><body>{VISIBLE}</body></html>", URL)
    assert getattr(d, field) == value


# ---------------------------------------------------------------- visible fallbacks

@pytest.mark.parametrize(
    ("header", "pub_date", "source"),
    [
        ("<div>发布日期:2022-08-31 来源:市经信局 浏览次数: 字号:[ ]</div>", "2022-08-31", "市经信局"),
        ("<div>发布日期：2023-02-03 来源：读嘉新闻</div>", "2023-02-03", "读嘉新闻"),
        ("<div class='cinfo center'><span id='con_time'>发布时间：2024-09-20 10:00</span> 来源：中小企业局</div>",
         "2024-09-20", "中小企业局"),
        ("<div><span>发布时间：2023/8/17</span><span>信息来源：省经信厅</span></div>", "2023-08-17", "省经信厅"),
        ("<div>发布日期：2023年8月17日 发布机构：嘉兴市经济和信息化局</div>", "2023-08-17", "嘉兴市经济和信息化局"),
        ("<table><tr><td>发布日期：</td><td>2026-01-05</td></tr><tr><td>来源：</td><td>平湖市经信局</td></tr></table>",
         "2026-01-05", "平湖市经信局"),
        # a blank 来源 must not capture the next label
        ("<div>发布日期:2022-08-31 来源: 浏览次数: 字号:[ ]</div>", "2022-08-31", None),
        ("<div><span>来源：</span><span>浏览次数：12</span></div>", None, None),
        ("<div>浏览次数：12</div>", None, None),
    ],
)
def test_visible_date_and_source_line(header: str, pub_date: str | None, source: str | None) -> None:
    d = parse(f"<html><body><h1>标题</h1>{header}<div id='zoom'><p>正文</p></div></body></html>", URL)
    assert (d.pub_date, d.source) == (pub_date, source)


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ("<h1 class='logo'>中华人民共和国工业和信息化部</h1><h1 id='con_title'>关于公布名单的通知</h1>", "关于公布名单的通知"),
        ("<h1>关于公布名单的通知</h1><h2>相关文件</h2>", "关于公布名单的通知"),
        ("<h2>关于公布名单的通知</h2>", "关于公布名单的通知"),
        ("<h1> </h1><p>无标题</p>", "页面标题"),  # an empty h1 is skipped; <title> is the last resort
        ("<p>无标题</p>", "页面标题"),
    ],
)
def test_visible_title(body: str, title: str) -> None:
    assert parse(f"<html><head><title>页面标题</title></head><body>{body}</body></html>", URL).title == title


def test_no_title_at_all_is_none() -> None:
    d = parse("<html><body><p>只有正文</p></body></html>", URL)
    assert d.title is None and d.pub_date is None and d.source is None


def test_miit_fixture_uses_its_visible_fields() -> None:
    html = _fixture("miit_detail")
    assert 'name="ArticleTitle"' not in html and 'name="PubDate"' not in html
    d = parse(html, "https://www.miit.gov.cn/jgsj/qyj/wjfb/art/2024/art_5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a.html")
    assert d.title == "工业和信息化部关于公布2024年度中小企业特色产业集群名单的通知"  # h1#con_title, not the logo h1
    assert d.pub_date == "2024-09-20"  # the web date, not the signature date 2024-09-19
    assert d.source == "中小企业局"


# ---------------------------------------------------------------- body

def _body(inner: str, container: str = "div id='zoom'") -> str:
    tag = container.split()[0]
    return parse(f"<html><body><h1>标题</h1><{container}>{inner}</{tag}></body></html>", URL).body


def test_body_keeps_table_rows_as_cells_joined_with_bars() -> None:
    inner = """<p>名单如下：</p>
    <table border="1"><thead><tr><th>序号</th><th>集群名称</th><th>所在地</th></tr></thead>
    <tbody><tr><td><p class="MsoNormal"><span>1</span></p></td><td><p><span>南湖区</span><span>微电子产业集群</span></p></td><td>南湖区</td></tr>
    <tr><td>2</td><td></td><td>海宁市</td></tr>
    <tr><td> </td><td></td><td></td></tr></tbody></table>
    <p>特此公示。</p>"""
    assert _body(inner).split("\n") == [
        "名单如下：", "序号 | 集群名称 | 所在地", "1 | 南湖区微电子产业集群 | 南湖区", "2 |  | 海宁市", "特此公示。"]


def test_body_drops_script_style_and_comments() -> None:
    inner = """<style>p{color:red}</style><p>第一段</p><script>var secret = "不应出现";</script>
    <!-- 注释不应出现 --><noscript>请启用脚本</noscript><p>第二段<script>document.write("x")</script></p>"""
    body = _body(inner)
    assert body.split("\n") == ["第一段", "第二段"]
    for junk in ("color:red", "secret", "不应出现", "注释", "请启用脚本", "document.write"):
        assert junk not in body


def test_body_keeps_text_in_bare_divs_and_between_brs() -> None:
    inner = """<div>各有关单位：</div><div style="text-indent:2em">现将名单公示如下。<br>公示期：5个工作日。<br/>联系电话：0573-82520000</div>
    散落的文字<p>段落</p>结尾文字"""
    assert _body(inner).split("\n") == [
        "各有关单位：", "现将名单公示如下。", "公示期：5个工作日。", "联系电话：0573-82520000", "散落的文字", "段落", "结尾文字"]


def test_body_joins_word_paste_spans_without_spaces() -> None:
    inner = """<p class="MsoNormal"><span style="font-family:仿宋">关于</span><span lang="EN-US">2024</span><span>年度中小企业特色产业集群<o:p></o:p></span></p>
    <p><b>附件</b>：<a href="/a.pdf">名单.pdf</a></p><ul><li>第一项</li><li>第二项</li></ul>"""
    assert _body(inner).split("\n") == ["关于2024年度中小企业特色产业集群", "附件：名单.pdf", "第一项", "第二项"]


def test_nested_table_cells_are_not_repeated() -> None:
    inner = """<table><tr><td>外层<table><tr><td>甲</td><td>乙</td></tr></table></td><td>丙</td></tr></table>"""
    body = _body(inner)
    assert body.count("丙") == 1 and body.count("甲") == 1
    assert body.split("\n")[-1].endswith("| 丙")


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ("div id='zoom'", "正文"),
        ("div class='zoom'", "正文"),
        ("div id='zoomcon'", "正文"),
        ("div class='TRS_Editor'", "正文"),
        ("div id='UCAP-CONTENT'", "正文"),
        ("div class='ccontent center' id='con_con'", "正文"),
        ("div class='ccontent'", "正文"),
        ("div class='article-content'", "正文"),
        ("div class='wrapper_detail_text'", "正文"),
        ("div class='art_con'", "正文"),
        ("div class='nr'", "正文"),
        ("div class='content'", "正文"),
        ("article", "正文"),
        ("div class='unknown'", ""),
    ],
)
def test_body_containers(container: str, expected: str) -> None:
    assert _body("<p>正文</p>", container) == expected


def test_zoom_wins_over_an_outer_content_wrapper_and_empty_containers_are_skipped() -> None:
    html = """<html><body><div class="content"><h1>标题</h1><div class="info">发布日期:2022-08-31</div>
    <div class="zoom"> </div><div id="zoom"><p>真正的正文</p></div></div></body></html>"""
    assert parse(html, URL).body == "真正的正文"


def test_hanweb_fixture_body_has_no_script_or_style() -> None:
    html = _fixture("hanweb_detail")
    assert "zoomFontSize" in html and "p.MsoNormal{" in html  # the fixture does have them inside #zoom
    body = parse(html, URL).body
    assert "zoomFontSize" not in body and "MsoNormal" not in body and "信息内容" not in body


# ---------------------------------------------------------------- attachments

@pytest.mark.parametrize(
    ("href", "url"),
    [
        ("/module/download/downfile.jsp?classid=0&filename=ac148016a52b408aadb917bf912d2690.pdf",
         "http://jxj.jiaxing.gov.cn/module/download/downfile.jsp?classid=0&filename=ac148016a52b408aadb917bf912d2690.pdf"),
        ("/module/download/downfile.jsp?classid=0&filename=0123456789abcdef0123456789abcdef.xlsx&showname=%E5%90%8D%E5%8D%95.xlsx",
         "http://jxj.jiaxing.gov.cn/module/download/downfile.jsp?classid=0&filename=0123456789abcdef0123456789abcdef.xlsx&showname=%E5%90%8D%E5%8D%95.xlsx"),
        ("https://www.miit.gov.cn/cms_files/filemanager/1226211233/attach/20249/9b2d4c1e7f3a4b5c8d6e0f1a2b3c4d5e.pdf",
         "https://www.miit.gov.cn/cms_files/filemanager/1226211233/attach/20249/9b2d4c1e7f3a4b5c8d6e0f1a2b3c4d5e.pdf"),
        ("/cms_files/filemanager/1226211233/attach/20249/abc", "http://jxj.jiaxing.gov.cn/cms_files/filemanager/1226211233/attach/20249/abc"),
        ("/cms_files/demo/pdfjs/web/viewer.html?file=/cms_files/filemanager/1226211233/attach/20249/x.pdf",
         "http://jxj.jiaxing.gov.cn/cms_files/filemanager/1226211233/attach/20249/x.pdf"),
        ("https://www.miit.gov.cn/cms_files/demo/pdfjs/web/viewer.html?file=https://www.miit.gov.cn/cms_files/filemanager/1/attach/20249/y.pdf",
         "https://www.miit.gov.cn/cms_files/filemanager/1/attach/20249/y.pdf"),
        ("./P020240920.pdf", "http://jxj.jiaxing.gov.cn/art/2026/11/20/P020240920.pdf"),
        ("../files/名单.PDF", "http://jxj.jiaxing.gov.cn/art/2026/11/files/名单.PDF"),
        ("/attach/名单.docx", "http://jxj.jiaxing.gov.cn/attach/名单.docx"),
        ("/attach/名单.doc?v=2", "http://jxj.jiaxing.gov.cn/attach/名单.doc?v=2"),
        ("/attach/名单.xls", "http://jxj.jiaxing.gov.cn/attach/名单.xls"),
        ("/attach/名单.xlsx", "http://jxj.jiaxing.gov.cn/attach/名单.xlsx"),
        ("/attach/名单.wps", "http://jxj.jiaxing.gov.cn/attach/名单.wps"),
        ("/attach/名单.ofd", "http://jxj.jiaxing.gov.cn/attach/名单.ofd"),
        ("/attach/材料.zip", "http://jxj.jiaxing.gov.cn/attach/材料.zip"),
        ("/attach/名单.pdf#page=2", "http://jxj.jiaxing.gov.cn/attach/名单.pdf"),
        # not attachments
        ("/art/2026/7/3/art_1229399350_5496620.html", None),
        ("/col/col1229399350/index.html", None),
        ("/attach/名单.pdf.html", None),
        ("/pdf/index.html", None),
        ("/module/jslib/icons/acrobat.png", None),
        ("https://www.miit.gov.cn/cms_files/demo/pdfjs/web/viewer.html", None),
        ("/search.jsp?q=名单.pdf", None),
        ("javascript:window.print()", None),
        ("mailto:jxj@example.org", None),
        ("#top", None),
        ("http://[::1/a.pdf", None),
        ("http://jxj.jiaxing.gov.cn:99999/a.pdf", None),
    ],
)
def test_attachment_links(href: str, url: str | None) -> None:
    html = f'<html><body><h1>标题</h1><div id="zoom"><p>附件：<a href="{href}">附件1.名单.pdf</a></p></div></body></html>'
    attachments = parse(html, URL).attachments
    assert attachments == ((Attachment(url=url, text="附件1.名单.pdf"),) if url else ())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://jxt.zj.gov.cn/module/download/downfile.jsp?classid=0&filename=ac148016a52b408aadb917bf912d2690.pdf", True),
        ("https://www.miit.gov.cn/cms_files/filemanager/1226211233/attach/20249/a.doc", True),
        ("http://x.gov.cn/a.PDF", True),
        ("http://x.gov.cn/a.et", True),
        ("http://x.gov.cn/a.7z", True),
        ("http://x.gov.cn/a.html", False),
        ("http://x.gov.cn/a.pdfx", False),
        ("http://x.gov.cn/download.jsp?name=a.pdf", False),
        ("http://x.gov.cn/", False),
    ],
)
def test_is_attachment(url: str, expected: bool) -> None:
    assert is_attachment(url) is expected


def test_attachment_text_falls_back_to_the_title_attribute() -> None:
    html = ('<div id="zoom"><p><a href="/a.xls" title="评定汇总表.xls"><img src="/i.png"></a></p>'
            '<p><a href="/b.pdf"><img src="/module/jslib/icons/acrobat.png"/> 附件2.名单.pdf </a></p></div>')
    assert parse(f"<html><body>{html}</body></html>", URL).attachments == (
        Attachment("http://jxj.jiaxing.gov.cn/a.xls", "评定汇总表.xls"),
        Attachment("http://jxj.jiaxing.gov.cn/b.pdf", "附件2.名单.pdf"),
    )


def test_viewer_link_and_direct_link_to_the_same_file_count_once() -> None:
    f = "/cms_files/filemanager/1226211233/attach/20249/9b2d.pdf"
    html = (f'<div id="con_con"><p>附件：<a href="{f}">名单.pdf</a></p>'
            f'<p><a href="/cms_files/demo/pdfjs/web/viewer.html?file={f}">在线预览</a></p></div>')
    assert parse(f"<html><body>{html}</body></html>", "https://www.miit.gov.cn/a.html").attachments == (
        Attachment("https://www.miit.gov.cn" + f, "名单.pdf"),)


def test_attachments_outside_a_body_container_are_found_in_the_whole_page() -> None:
    html = '<html><body><h1>标题</h1><p>附件：<a href="/a.pdf">名单.pdf</a> <a href="/art/1.html">上一篇</a></p></body></html>'
    d = parse(html, URL)
    assert d.body == ""
    assert d.attachments == (Attachment("http://jxj.jiaxing.gov.cn/a.pdf", "名单.pdf"),)


def test_hanweb_fixture_ignores_links_that_are_not_attachments() -> None:
    html = _fixture("hanweb_detail")
    assert "/art/2026/7/3/art_1229399350_5496620.html" in html and "javascript:window.print()" in html
    urls = [a.url for a in parse(html, URL).attachments]
    assert len(urls) == 2 and all("downfile.jsp" in u for u in urls)


# ---------------------------------------------------------------- robustness

@settings(max_examples=150, deadline=None, database=None)
@given(st.text(max_size=500))
def test_parse_never_fails_with_anything_but_parse_error(html: str) -> None:
    try:
        d = parse(html, URL)
    except ParseError:
        return
    assert d.url == URL and isinstance(d.body, str)
    assert all(a.url.startswith("http") for a in d.attachments)


def test_deeply_nested_inline_markup_does_not_exhaust_the_stack() -> None:
    deep = "<span>" * 5000 + "深层文字" + "</span>" * 5000
    d = parse(f"<html><body><div id='zoom'><p>{deep}</p><p>下一段</p></div></body></html>", URL)
    assert d.body == "深层文字\n下一段"
