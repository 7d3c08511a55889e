"""scraper.entities over the labelled corpus (tests/corpus/entities) and focused cases.

Every ``*.expected.json`` was written by hand from the page or the generator's source
rows; the extractor's output is compared with it field by field.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.regions import load_regions
from scraper.entities import check_count, from_lines, from_tables, normalise_name, role_of, stated_count
from scraper.entity_corpus import CORPUS, as_label, cases, evaluate_entities, extract, score_case, skip_reason
from scraper.decode import decode
from scraper.parse.detail import parse

R = load_regions()
CASES = cases()


def _ids(case: tuple[str, dict]) -> str:
    return case[0]


def test_corpus_is_complete() -> None:
    names = {n for n, _ in CASES}
    assert {"jiaxing_small_micro_parks", "zhejiang_cluster_tiers", "little_giant_share", "grouped_review_list",
            "hangzhou_two_tables", "merged_header", "new_firms", "review_passed", "renamed", "national_list",
            "review_failed"} <= names
    assert {s["file"].rsplit(".", 1)[1] for _, s in CASES} >= {"html", "xlsx", "xls", "docx", "pdf", "doc", "wps"}
    assert sum(len(s["entities"]) for _, s in CASES) >= 100


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_corpus_case_exactly(case: tuple[str, dict]) -> None:
    name, spec = case
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    found = [as_label(e) for e in extract(spec, regions=R)]
    assert found == spec["entities"]


@pytest.mark.parametrize("case", [c for c in CASES if c[1]["kind"] == "page"], ids=_ids)
def test_stated_counts_of_the_corpus_pages(case: tuple[str, dict]) -> None:
    _, spec = case
    html, _ = decode((CORPUS / spec["file"]).read_bytes(), "text/html")
    body = parse(html, spec["url"]).body
    assert stated_count(body) == spec["stated_count"]
    if spec["stated_count"] is not None:
        assert check_count(stated_count(body), len(spec["entities"])) is None


def test_evaluation_meets_the_target() -> None:
    report = evaluate_entities()
    assert report["f1"] >= 0.98, [c for c in report["cases"] if c.get("fn") or c.get("fp") or c.get("error")]
    assert report["tp"] >= 90
    assert set(report) >= {"tp", "fp", "fn", "precision", "recall", "f1", "cases"}


def test_evaluation_notices_a_wrong_label(tmp_path: Path) -> None:
    for name in ("merged_header", "jiangxi_tiers"):
        shutil.copy(CORPUS / f"{name}.html", tmp_path)
        spec = json.loads((CORPUS / f"{name}.expected.json").read_text(encoding="utf-8"))
        if name == "merged_header":
            spec["entities"][0]["region"] = "秀洲区"  # a wrong label: the row says 南湖区
            spec["entities"].pop()  # and a missing one: the extractor finds it, so it is a false positive
        (tmp_path / f"{name}.expected.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    report = evaluate_entities(tmp_path)
    assert (report["tp"], report["fp"], report["fn"]) == (9, 2, 1)
    assert report["f1"] < 0.98


def test_evaluation_skips_a_case_whose_tool_is_missing(tmp_path: Path) -> None:
    spec = {"kind": "attachment", "file": "x.doc", "title": "附件", "requires": ["no-such-tool-xyz"], "entities": []}
    (tmp_path / "x.doc").write_bytes(b"")
    (tmp_path / "x.expected.json").write_text(json.dumps(spec), encoding="utf-8")
    (case,) = evaluate_entities(tmp_path)["cases"]
    assert "no-such-tool-xyz" in case["skipped"]


def test_score_case_counts_duplicates() -> None:
    e = {"name": "甲公司", "region": None, "city": None, "role": "new"}
    assert score_case([e, e], [e])["fn"] == 1
    assert score_case([e], [e, e])["fp"] == 1


# ---------------------------------------------------------------------- roles, counts, names


@pytest.mark.parametrize("title, role", [
    ("附件1 新认定企业名单", "new"),
    ("附件2 复核通过名单", "review_passed"),
    ("附件3 简单更名名单", "renamed"),
    ("附件4 复核未通过名单", "review_failed"),
    ("附件4：复核 未通过企业名单.pdf", "review_failed"),
    ("复核不通过名单", "review_failed"),
    ("撤销认定企业名单", "removed"),
    ("取消“小巨人”称号企业名单", "removed"),
    ("2022年度拟复核通过名单", "review_passed"),
    ("2025年浙江省专精特新中小企业拟认定名单", "new"),
    ("附件：2024年度中小企业特色产业集群名单.pdf", "new"),
    ("", "new"),
    (None, "new"),
])
def test_role_of(title: str | None, role: str) -> None:
    assert role_of(title) == role


@pytest.mark.parametrize("body, count", [
    ("确定杭州市萧山区汽车智能底盘等17个产业集群为…", 17),
    ("复核通过企业共75家，现予公示。", 75),
    ("拟认定97家企业为2021年省级“专精特新”中小企业", 97),
    ("认定浙江某某公司等21947家企业为2024年度浙江省科技型中小企业", 21947),
    ("确定等十七个产业集群", 17),
    ("共计１２家", 12),
    ("公示期为5个工作日。", None),
    ("公示期共5个工作日，共3家", 3),
    ("关于第二批专精特新“小巨人”企业", None),
    ("", None),
    (None, None),
])
def test_stated_count(body: str | None, count: int | None) -> None:
    assert stated_count(body) == count


def test_check_count() -> None:
    assert check_count(None, 3) is None
    assert check_count(3, 3) is None
    assert check_count(17, 15) == "the body states 17 entities, 15 were found (2 missing)"
    assert check_count(5, 6) == "the body states 5 entities, 6 were found (1 extra)"


@pytest.mark.parametrize("raw, name", [
    ("浙江 春晖 智能控制股份有限公司", "浙江春晖智能控制股份有限公司"),
    ("长兴金鹰电机有限公司*", "长兴金鹰电机有限公司"),
    ("长兴金鹰电机有限公司①", "长兴金鹰电机有限公司"),
    ("长兴金鹰电机有限公司※", "长兴金鹰电机有限公司"),
    ("浙江（绍兴）华宇纺织科技有限公司", "浙江(绍兴)华宇纺织科技有限公司"),
    ("浙江〔绍兴〕华宇纺织科技有限公司", "浙江(绍兴)华宇纺织科技有限公司"),
    ("丽水经济技术开发区集成电路（关键材料）", "丽水经济技术开发区集成电路(关键材料)"),
    ("浙江东方电缆科技股份有限公司（原名：温州东方电缆有限公司）", "浙江东方电缆科技股份有限公司"),
    ("杭州金鱼电器集团有限公司（已更名）", "杭州金鱼电器集团有限公司"),
    ("杭州某某有限公司(更名为杭州新某某有限公司)", "杭州某某有限公司"),
    ("新丰镇\"两创\"中心", "新丰镇“两创”中心"),
    ("新丰镇「两创」中心", "新丰镇“两创”中心"),
    ("新丰镇“两创”中心", "新丰镇“两创”中心"),
    ("ＡＢＣ科技有限公司１", "ABC科技有限公司1"),
    ("抚州市临川区有色金属产业集群；", "抚州市临川区有色金属产业集群"),
])
def test_normalise_name(raw: str, name: str) -> None:
    assert normalise_name(raw) == name


def test_raw_name_keeps_what_was_written() -> None:
    table = (("序号", "企业名称"), ("1", "浙江东方电缆科技股份有限公司（原名：温州东方电缆有限公司）"))
    (e,) = from_tables([table], regions=R)
    assert e.name == "浙江东方电缆科技股份有限公司"
    assert e.raw_name == "浙江东方电缆科技股份有限公司（原名：温州东方电缆有限公司）"


# ---------------------------------------------------------------------- tables


def _names(found) -> list[tuple]:
    return [(e.name, e.region, e.city, e.category, e.row) for e in found]


@pytest.mark.parametrize("header", [
    ("序号", "企业名称", "县（市、区）"),
    ("序 号", "企 业 名 称", "县(市、区)"),
    ("序号", "单位名称", "县市区"),
    ("No", "名称", "所在地"),
    ("序号", "企业名称", "区、县（市）"),
])
def test_header_variants(header: tuple[str, ...]) -> None:
    table = (header, ("1", "海宁市金潮实业有限公司", "海宁市"))
    assert _names(from_tables([table], regions=R)) == [("海宁市金潮实业有限公司", "海宁市", "嘉兴市", None, 1)]


def test_no_header_no_entities() -> None:
    table = (("项目", "内容"), ("申报条件", "具有独立法人资格"), ("1", "某某有限公司"))
    assert from_tables([table], regions=R) == []


def test_totals_notes_and_title_rows_are_skipped() -> None:
    table = (("2025年名单",) * 3, ("序号", "企业名称", "地区"), ("1", "嘉兴甲有限公司", "南湖区"),
             ("合计", "1家", ""), ("注：排名不分先后", "注：排名不分先后", "注：排名不分先后"), ("备注", "无", ""))
    assert _names(from_tables([table], regions=R)) == [("嘉兴甲有限公司", "南湖区", "嘉兴市", None, 1)]


def test_group_headings_set_region_and_tier() -> None:
    table = (("序号", "名称", "所在地"),
             ("核心区（2个）",) * 3,
             ("1", "嘉善县数字安全与网络通信", ""),
             ("2", "平湖市机器人与数控机床", ""),
             ("协同区",) * 3,
             ("1", "乐清通信连接器", ""),
             ("台州市（1家）", "", ""),
             ("2", "某某模具有限公司", ""))
    assert _names(from_tables([table], regions=R)) == [
        ("嘉善县数字安全与网络通信", "嘉善县", "嘉兴市", "核心区", 1),
        ("平湖市机器人与数控机床", "平湖市", "嘉兴市", "核心区", 2),
        ("乐清通信连接器", "乐清市", "温州市", "协同区", 1),
        ("某某模具有限公司", "台州市", "台州市", "协同区", 2),
    ]


def test_a_row_with_only_a_name_is_an_entity_not_a_heading() -> None:
    table = (("序号", "企业名称", "地区"), ("", "温岭市东海泵业有限公司", ""))
    assert _names(from_tables([table], regions=R)) == [("温岭市东海泵业有限公司", "温岭市", "台州市", None, 1)]


def test_a_headerless_table_as_wide_as_the_last_header_continues_it() -> None:
    page1 = (("序号", "企业名称", "地区"), ("嘉兴市（2家）",) * 3, ("1", "甲有限公司", ""))
    page2 = (("2", "乙有限公司", ""),)
    page3 = (("序号", "企业名称", "地区"), ("3", "丙有限公司", ""))  # the header repeated on each page
    other = (("1", "丁有限公司"),)  # a different width: not a continuation
    assert _names(from_tables([page1, page2, page3, other], regions=R)) == [
        ("甲有限公司", "嘉兴市", "嘉兴市", None, 1), ("乙有限公司", "嘉兴市", "嘉兴市", None, 2),
        ("丙有限公司", "嘉兴市", "嘉兴市", None, 3)]


def test_place_column_rules() -> None:
    table = (("序号", "省(区、市）", "企业名称"),
             ("1", "浙江省", "宁波甬强科技有限公司"),  # the name refines the province
             ("2", "上海市", "上海普陀精工有限公司"),  # never refined into Zhejiang's 普陀区
             ("3", "石嘴山市 惠农区", "石嘴山市塑料厂"),  # unknown place: kept as written
             ("4", "", "平湖市华达精密机械有限公司"))  # no place: the name prefix
    assert _names(from_tables([table], regions=R)) == [
        ("宁波甬强科技有限公司", "宁波市", "宁波市", None, 1),
        ("上海普陀精工有限公司", "上海市", None, None, 2),
        ("石嘴山市塑料厂", "石嘴山市惠农区", None, None, 3),
        ("平湖市华达精密机械有限公司", "平湖市", "嘉兴市", None, 4)]


def test_renamed_list_takes_the_new_name() -> None:
    table = (("序号", "原企业名称", "现企业名称"), ("1", "温州市瓯江阀门厂", "浙江瓯江阀门股份有限公司"))
    (e,) = from_tables([table], regions=R, role="renamed", provenance="attachment:ab12")
    assert (e.name, e.role, e.provenance) == ("浙江瓯江阀门股份有限公司", "renamed", "attachment:ab12")


def test_product_lists_take_the_firm_not_the_product() -> None:
    table = (("序号", "产品名称", "企业名称", "所在地"), ("1", "五轴数控机床", "浙江日发精密机械股份有限公司", "新昌县"))
    assert _names(from_tables([table], regions=R)) == [("浙江日发精密机械股份有限公司", "新昌县", "绍兴市", None, 1)]


def test_extra_regions_from_config_apply() -> None:
    regions = load_regions({"石嘴山市": ["惠农区"]})
    (e,) = from_tables([(("序号", "企业名称", "所在地"), ("1", "石嘴山市塑料厂", "石嘴山市 惠农区"))], regions=regions)
    assert (e.region, e.city) == ("惠农区", "石嘴山市")


def test_cluster_names_take_their_place_when_the_cell_has_none() -> None:
    table = (("序号", "所在地", "集群名称"), ("1", "杭州市萧山区", "汽车零部件（智能底盘）"),
             ("2", "嘉兴市", "海宁市经编（高端经编面料）"))
    found = from_tables([table], regions=R)
    assert _names(found) == [("杭州市萧山区汽车零部件(智能底盘)", "萧山区", "杭州市", None, 1),
                             ("海宁市经编(高端经编面料)", "海宁市", "嘉兴市", None, 2)]
    assert found[0].raw_name == "汽车零部件（智能底盘）"
    firms = (("序号", "所在地", "企业名称"), ("1", "杭州市萧山区", "万向钱潮股份有限公司"))
    assert from_tables([firms], regions=R)[0].name == "万向钱潮股份有限公司"  # firms keep their own name


@pytest.mark.parametrize("title, role", [
    ("2025年专精特新“小巨人”复核通过企业名单", "review_passed"),
    ("浙江省第七批专精特新“小巨人”企业名单", "new"),
    ("2025年度新认定企业名单", "new"),
    ("2022年度浙江省专精特新中小企业名单", "review_failed"),  # no role in the title: the caller's stands
    ("2022年度拟评定结果", "review_failed"),  # not a 名单 title
])
def test_a_table_title_row_names_its_role(title: str, role: str) -> None:
    table = ((title,) * 2, ("序号", "企业名称"), ("1", "甲有限公司"))
    assert [e.role for e in from_tables([table], regions=R, role="review_failed")] == [role]


def test_a_table_with_its_own_title_starts_a_new_list() -> None:
    first = (("序号", "企业名称", "地区"), ("核心区",) * 3, ("1", "嘉善甲有限公司", ""))
    second = (("复核通过名单",) * 3, ("序号", "企业名称", "地区"), ("1", "乙有限公司", ""))
    assert _names(from_tables([first, second], regions=R)) == [("嘉善甲有限公司", "嘉善县", "嘉兴市", "核心区", 1),
                                                               ("乙有限公司", None, None, None, 1)]


# ---------------------------------------------------------------------- lines


def test_lines_under_tier_headings_with_every_numbering() -> None:
    text = "\n".join(["省级产业集群（2个）", "1.上饶高铁经济试验区数字经济产业集群", "2、南昌航空装备产业集群",
                      "“新星”产业群", "（1）松阳县高端新材料（先进金属材料）；", "(2) 嘉善县数字安全"])
    assert _names(from_lines(text, regions=R)) == [
        ("上饶高铁经济试验区数字经济产业集群", None, None, "省级产业集群", 1),
        ("南昌航空装备产业集群", None, None, "省级产业集群", 2),
        ("松阳县高端新材料(先进金属材料)", "松阳县", "丽水市", "“新星”产业群", 1),
        ("嘉善县数字安全", "嘉善县", "嘉兴市", "“新星”产业群", 2)]


def test_pdf_shape_number_name_place_on_separate_lines() -> None:
    text = "序号\n企业名称\n所在地\n120\n石嘴山市塑料厂\n石嘴山市 惠农区\n121\n嘉兴光电研究院\n122\n海宁市经编厂\n嘉兴市 海宁市\n- 3 -"
    assert _names(from_lines(text, regions=R)) == [
        ("石嘴山市塑料厂", "石嘴山市惠农区", None, None, 120),
        ("嘉兴光电研究院", "嘉兴市", "嘉兴市", None, 121),
        ("海宁市经编厂", "海宁市", "嘉兴市", None, 122)]


def test_number_name_place_on_one_line() -> None:
    assert _names(from_lines("7 平湖市华达机械厂 嘉兴市 平湖市", regions=R)) == [("平湖市华达机械厂", "平湖市", "嘉兴市", None, 7)]


def test_procedural_numbered_lines_issuers_and_table_rows_are_not_entities() -> None:
    text = "\n".join(["一、申报条件", "1.在浙江省内注册的企业；", "2.联系人：产业集群处", "3.嘉兴市经济和信息化局",
                      "序号 | 企业名称 | 所在地", "1 | 嘉兴甲有限公司 | 南湖区", "核心区", "嘉兴市经济和信息化局",
                      "2026年4月9日"])
    assert from_lines(text, regions=R) == []


def test_a_tier_block_ends_at_a_sentence() -> None:
    text = "\n".join(["核心区", "嘉善县数字安全与网络通信", "各地要加强统筹协调，落实支持政策。", "平湖市机器人与数控机床"])
    assert [e.name for e in from_lines(text, regions=R)] == ["嘉善县数字安全与网络通信"]


def test_city_headings_in_lines() -> None:
    text = "一、杭州市（1家）\n1.浙江正泰仪器仪表有限公司\n二、宁波市（1家）\n2.浙江海天塑机股份有限公司"
    assert _names(from_lines(text, regions=R)) == [("浙江正泰仪器仪表有限公司", "杭州市", "杭州市", None, 1),
                                                   ("浙江海天塑机股份有限公司", "宁波市", "宁波市", None, 2)]


def test_one_column_tables_are_read_as_lines() -> None:
    table = (("附件2",), ("复核通过名单",), ("1.永康市铭达工贸有限公司",))
    assert _names(from_tables([table], regions=R)) == [("永康市铭达工贸有限公司", "永康市", "金华市", None, 1)]


# ---------------------------------------------------------------------- robustness

_CELLS = st.sampled_from(["", "序号", "企业名称", "所在地", "嘉兴市（6家）", "核心区", "1", "12", "合计", "甲有限公司",
                          "平湖市", "石嘴山市 惠农区", "（1）", "“", "）", "省(区、市）", "原企业名称", "x" * 90])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.lists(_CELLS, min_size=1, max_size=4), max_size=8), max_size=3))
def test_from_tables_never_fails(raw: list[list[list[str]]]) -> None:
    tables = [tuple(tuple(r + [""] * (4 - len(r))) for r in t) for t in raw]
    for e in from_tables(tables, regions=R):
        assert e.name and e.role == "new" and e.provenance == "page"


@settings(max_examples=200, deadline=None)
@given(st.lists(_CELLS | st.text(max_size=30), max_size=20))
def test_from_lines_never_fails(lines: list[str]) -> None:
    for e in from_lines("\n".join(lines), regions=R):
        assert e.name and e.row is not None
