"""scraper.parse.tables: HTML tables as text rows, and Detail.tables from detail pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.decode import decode
from scraper.parse.common import parse_html
from scraper.parse.detail import parse
from scraper.parse.tables import MAX_COLSPAN, MAX_WIDTH, tables

CORPUS = Path(__file__).with_name("corpus") / "entities"
PAGES = sorted(p for p in CORPUS.glob("*.expected.json") if json.loads(p.read_text(encoding="utf-8"))["kind"] == "page")


def test_word_paste_cells_join_inline_spans_and_lines_inside_chinese_names() -> None:
    html = """<table><tr>
      <td><p class="MsoNormal"><span lang="EN-US">1<o:p></o:p></span></p></td>
      <td><p><span>新丰镇</span><span>“两创”中心</span></p></td>
      <td><p><span>姚庄镇</span></p><p><span>小微企业园</span></p></td>
      <td><p>Smart</p><p>Park</p></td>
      <td>经编&nbsp;家纺<br>面料</td></tr></table>"""
    assert tables(html) == ((("1", "新丰镇“两创”中心", "姚庄镇小微企业园", "Smart Park", "经编 家纺面料"),),)


def test_merged_header_cells_are_expanded() -> None:
    html = """<table>
      <tr><td colspan="4">2025年名单</td></tr>
      <tr><td rowspan="2">序号</td><td rowspan="2">集群名称</td><td colspan="2">所在地区</td></tr>
      <tr><td>设区市</td><td>县（市、区）</td></tr>
      <tr><td>1</td><td>南湖区微电子产业集群</td><td rowspan="2">嘉兴市</td><td>南湖区</td></tr>
      <tr><td>2</td><td>海宁市经编产业集群</td><td>海宁市</td></tr></table>"""
    assert tables(html) == ((
        ("2025年名单",) * 4,
        ("序号", "集群名称", "所在地区", "所在地区"),
        ("序号", "集群名称", "设区市", "县（市、区）"),
        ("1", "南湖区微电子产业集群", "嘉兴市", "南湖区"),
        ("2", "海宁市经编产业集群", "嘉兴市", "海宁市"),
    ),)


def test_spacer_rows_are_dropped_and_short_rows_padded() -> None:
    html = """<table><tr><td>序号</td><td>企业名称</td><td>地区</td></tr>
      <tr><td>&nbsp;</td><td><p><span><o:p>&nbsp;</o:p></span></p></td><td></td></tr>
      <tr><td>1</td><td>甲公司</td></tr><tr></tr></table>"""
    assert tables(html) == ((("序号", "企业名称", "地区"), ("1", "甲公司", "")),)


def test_several_tables_in_document_order() -> None:
    html = "<div><table><tr><td>甲</td></tr></table><p>x</p><table><tr><td>乙</td></tr></table></div>"
    assert tables(html) == ((("甲",),), (("乙",),))


def test_nested_table_is_its_own_table_and_not_repeated_in_the_outer_cell() -> None:
    html = """<table><tr><td>外层<table><tr><td>甲</td><td>乙</td></tr></table></td><td>丙</td></tr></table>"""
    assert tables(html) == ((("外层", "丙"),), (("甲", "乙"),))


def test_a_layout_table_that_only_wraps_a_data_table_yields_nothing_itself() -> None:
    html = """<table class="layout"><tr><td><table><tr><td>序号</td><td>企业名称</td></tr>
      <tr><td>1</td><td>甲公司</td></tr></table></td></tr></table>"""
    assert tables(html) == ((("序号", "企业名称"), ("1", "甲公司")),)


def test_a_node_or_a_table_node_can_be_passed() -> None:
    tree = parse_html("<div id='zoom'><table><tr><td>a</td></tr></table></div>")
    assert tables(tree.css_first("#zoom")) == ((("a",),),)
    assert tables(tree.css_first("table")) == ((("a",),),)
    assert tables("<p>no table</p>") == ()
    assert tables("") == ()


def test_scripts_styles_and_comments_in_cells_are_not_text() -> None:
    html = "<table><tr><td><script>var x=1;</script><style>p{}</style><!-- c -->甲</td></tr></table>"
    assert tables(html) == ((("甲",),),)


def test_hostile_spans_stay_small() -> None:
    html = "<table>" + "<tr>" + '<td colspan="100000" rowspan="99999">x</td>' * 50 + "</tr>" * 300 + "</table>"
    (table,) = tables(html)
    assert len(table) == 1 and len(table[0]) <= MAX_WIDTH
    html = '<table><tr><td colspan="9999999999">x</td><td colspan="-3">y</td><td colspan="abc">z</td></tr></table>'
    (table,) = tables(html)
    assert table == (("x",) * MAX_COLSPAN + ("y", "z"),)


def test_deep_word_paste_nesting_does_not_recurse() -> None:
    html = "<table><tr><td>" + "<span>" * 5000 + "深" + "</span>" * 5000 + "</td></tr></table>"
    assert tables(html) == ((("深",),),)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_detail_parse_fills_tables_from_the_body(path: Path) -> None:
    spec = json.loads(path.read_text(encoding="utf-8"))
    html, _ = decode((CORPUS / spec["file"]).read_bytes(), "text/html")
    d = parse(html, spec["url"])
    assert len(d.tables) == spec["tables"]
    for table in d.tables:
        assert len({len(r) for r in table}) == 1 and all(any(r) for r in table)


def test_detail_tables_for_the_jiaxing_parks_page() -> None:
    html = (CORPUS / "jiaxing_small_micro_parks.html").read_text(encoding="utf-8")
    (table,) = parse(html, "http://jxj.jiaxing.gov.cn/a.html").tables
    assert table[1] == ("序号", "县市区", "园区名称", "拟评定结果")
    assert table[2] == ("1", "南湖区", "新丰镇“两创”中心", "三星级")
    assert table[3] == ("2", "南湖区", "大桥镇小微企业园", "二星级")  # rowspan carried the district down
    assert table[5] == ("4", "嘉善县", "姚庄镇小微企业园", "二星级")
    assert len(table) == 10  # title + header + 8 rows; the two spacer rows are gone


def test_detail_without_tables_has_none() -> None:
    d = parse("<html><body><div id='zoom'><p>正文。</p></div></body></html>", "http://x.gov.cn/a.html")
    assert d.tables == ()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([
    "<table>", "</table>", "<tr>", "</tr>", "<td>", "</td>", "<th>", '<td rowspan="3">', '<td colspan="2">',
    '<td rowspan="0" colspan="0">', "<p>", "</p>", "<span>", "甲", "乙", " ", "&nbsp;", "<br>", "<tbody>", "<thead>",
]), max_size=60))
def test_any_markup_gives_rectangular_rows_without_empty_ones(parts: list[str]) -> None:
    for table in tables("".join(parts)):
        assert table and len({len(r) for r in table}) == 1
        assert all(any(c for c in r) for r in table)
