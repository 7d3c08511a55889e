"""The title classifier: every labelled title in tests/corpus/titles.jsonl, then the rules one at a time."""

from __future__ import annotations

import doctest
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import config.programs
import scraper.classify
import scraper.cnnum
import scraper.titles
from config.programs import load_registry
from scraper.classify import classify, extract_core_areas, find_program, tokens
from scraper.cnnum import cn_to_int, cn_year, en_number, en_ordinal, to_int
from scraper.evaluate import FIELDS, Case, entity_report, evaluate_titles, load_corpus, main, print_entities, scores
from scraper.models import LEVELS, STAGES
from scraper.titles import normalise, normalise_title, places, strip_attachment

CORPUS = Path(__file__).with_name("corpus") / "titles.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
HEADLINE = ("The first batch of provincial small and medium-sized industrial clusters announced that "
            "3 industrial clusters in our city were selected")


# ---- the corpus, title by title ----

@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_corpus_title(row: dict) -> None:
    got = classify(row["title"], row.get("body")).as_dict()
    assert got == row["expected"], row["title"]


def test_corpus_shape() -> None:
    ids = [r["id"] for r in ROWS]
    assert len(ROWS) >= 150 and len(ids) == len(set(ids))
    assert {f"T{i}" for i in range(1, 16) if i != 14} | {"T14a", "T14b", "T14c", "T14d"} <= set(ids)
    assert sum(1 for r in ROWS if r["title"].isascii()) >= 10
    for r in ROWS:
        assert tuple(r["expected"]) == FIELDS, r["id"]
        assert r["expected"]["stage"] in STAGES and r["expected"]["level"] in LEVELS + (None,)
        assert r["expected"]["cohorts"], r["id"]


def test_evaluation_meets_target() -> None:
    report = evaluate_titles(load_corpus(CORPUS))
    assert report.total == len(ROWS)
    assert report.below() == [], [(m.case.id, m.fields) for m in report.misses]


# ---- numerals ----

@pytest.mark.parametrize("text, value", [
    ("一", 1), ("九", 9), ("十", 10), ("十一", 11), ("十九", 19), ("二十", 20), ("二十三", 23), ("两", 2),
    ("百", 100), ("一百", 100), ("一百零五", 105), ("一百一十", 110), ("两百", 200), ("〇", 0), ("零", 0),
])
def test_cn_to_int(text: str, value: int) -> None:
    assert cn_to_int(text) == value


@pytest.mark.parametrize("text", ["", "一二", "十a", "batch"])
def test_cn_to_int_rejects_non_numbers(text: str) -> None:
    with pytest.raises(ValueError):
        cn_to_int(text)


def test_to_int_and_years() -> None:
    assert (to_int("12"), to_int("１２"), to_int("首"), to_int("十一")) == (12, 12, 1, 11)
    assert (cn_year("二〇二三"), cn_year("二零二四"), cn_year("2025")) == (2023, 2024, 2025)
    with pytest.raises(ValueError):
        cn_year("二十三")


@pytest.mark.parametrize("word, value", [
    ("first", 1), ("second", 2), ("third", 3), ("ninth", 9), ("eleventh", 11), ("twelfth", 12), ("twentieth", 20),
    ("twenty-first", 21), ("Twenty second", 22), ("1st", 1), ("2nd", 2), ("3rd", 3), ("11th", 11), ("21st", 21),
])
def test_en_ordinal(word: str, value: int) -> None:
    assert en_ordinal(word) == value


def test_en_ordinal_and_number_reject_other_words() -> None:
    assert en_ordinal("batch") is None and en_ordinal("") is None
    assert (en_number("three"), en_number("twenty-one"), en_number("7"), en_number("many")) == (3, 21, 7, None)


@pytest.mark.parametrize("title, batch, year", [
    ("首批浙江省科技型中小企业", 1, None), ("第十一批", 11, None), ("第１２批", 12, None), ("(第一批)", 1, None),
    ("2023年度", None, 2023), ("二〇二三年", None, 2023), ("the first batch", 1, None), ("2nd batch of", 2, None),
    ("batch 3 of 2024", 3, 2024), ("首批次新材料", None, None), ("第一批次", 1, None),
])
def test_batch_and_year(title: str, batch: int | None, year: int | None) -> None:
    c = classify(title)
    assert (c.batch, c.year) == (batch, year)


def test_support_year_of_composite_batches() -> None:
    c = classify("关于2023年度第一批第三年、第二批第二年重点“小巨人”企业继续支持名单的公示")
    assert [(k.batch, k.year, k.support_year) for k in c.cohorts] == [(1, 2023, 3), (2, 2023, 2)]
    assert [t.kind for t in tokens(normalise("第二批第二年"))] == ["batch"]


def test_year_ranges_and_dates_are_not_cohort_years() -> None:
    assert classify("浙江省特色产业集群培育行动计划(2023-2025年)").year is None
    assert classify("公示时间:2024年7月1日至7月7日").year is None


# ---- normalisation ----

def test_normalise_quotes_brackets_spaces_and_traditional() -> None:
    assert normalise("專精特新「小巨人」企業（第一批）") == '专精特新"小巨人"企业(第一批)'
    assert normalise("复核　拟推荐名单 ， 第 二 批 2024 年度") == "复核拟推荐名单,第二批2024年度"
    assert normalise('the  "Made in Zhejiang"   core areas') == 'the "Made in Zhejiang" core areas'
    assert normalise("浙经信〔2023〕12号【附件】") == "浙经信[2023]12号[附件]"
    assert normalise("國家級‘小巨人’") == '国家级"小巨人"'


@pytest.mark.parametrize("raw, clean", [
    ("附件1：2024年度中小企业特色产业集群名单.pdf", "2024年度中小企业特色产业集群名单"),
    ("附件:2024年度名单.PDF", "2024年度名单"),
    ("附件一：名单.xlsx", "名单"),
    ("1.第七批名单.xls", "第七批名单"),
    ("2.2024年度名单_2.xlsx", "2024年度名单"),
    ("2022年评定结果_1 (1).docx", "2022年评定结果"),
    ("附件4：复核通过企业名单 (1).pdf", "复核通过企业名单"),
    ("关于公布名单的通知", "关于公布名单的通知"),
    ("2024年度名单(1)", "2024年度名单(1)"),  # no extension: not a download name, kept as written
])
def test_strip_attachment(raw: str, clean: str) -> None:
    assert normalise_title(raw) == clean


def test_strip_attachment_is_idempotent() -> None:
    once = strip_attachment("附件2. 2023年度绩效评价结果.pdf")
    assert once == "2023年度绩效评价结果" and strip_attachment(once) == once


# ---- stage: title first, body only when the title says nothing ----

def test_never_downgrade_a_final_list_for_its_body() -> None:
    body = "经企业申报、专家评审和网上公示，现将名单予以公示。公示时间：2024年11月1日至7日"
    assert classify("关于公布2024年度浙江省专精特新中小企业名单的通知", body).stage == "final"


def test_title_notice_is_not_upgraded_by_its_body() -> None:
    assert classify("关于2024年度专精特新中小企业拟认定名单的公示", "现予以公布。").stage == "notice"


@pytest.mark.parametrize("body, stage", [
    ("现予以公示，公示时间：2022年6月1日至6月7日。", "notice"),
    ("经网上公示等程序，现予以公布。", "final"),
    ("共21947家企业备案为2024年度浙江省科技型中小企业。同时，撤销一批企业。", "final"),
    ("拟认定以下企业为专精特新中小企业，现予以公示。", "notice"),
    ("这是一段无关的正文。", "other"),
    (None, "other"),
])
def test_body_decides_when_the_title_has_no_marker(body: str | None, stage: str) -> None:
    assert classify("江苏省2022年专精特新中小企业（第一批）名单", body).stage == stage


@pytest.mark.parametrize("title, stage", [
    ("关于印发《浙江省专精特新中小企业认定管理办法》的通知", "other"),
    ("关于拟撤销部分企业称号的公示", "revocation"),
    ("关于开展2022年度中小企业特色产业集群绩效评价工作的通知", "evaluation"),
    ("关于2024年度第一批浙江省科技型中小企业认定结果公示", "notice"),
    ("关于开展2024年度浙江省科技型中小企业认定工作的通知", "call"),
    ("关于报送2024年专精特新中小企业名单的通知", "call"),
    ("关于印发2024年专精特新中小企业培育工作要点的通知", "other"),
    ("关于同意认定嘉兴市小微企业园的批复", "final"),
])
def test_stage_rules(title: str, stage: str) -> None:
    assert classify(title).stage == stage


# ---- cohorts ----

def cohorts(title: str) -> list[tuple]:
    return [(c.batch, c.year, c.review, c.stage) for c in classify(title).cohorts]


def test_mixed_titles_split_into_cohorts() -> None:
    assert cohorts("关于公布2025年兵团专精特新中小企业认定和2022年兵团专精特新中小企业复核名单的通知") == [
        (None, 2025, False, "final"), (None, 2022, True, "final")]
    assert cohorts("2025年浙江省专精特新中小企业拟认定名单、2022年度拟复核通过名单") == [
        (None, 2025, False, "notice"), (None, 2022, True, "notice")]
    assert cohorts("关于第五批专精特新“小巨人”企业和第二批专精特新“小巨人”企业复核 拟推荐名单的公示") == [
        (5, None, False, "notice"), (2, None, True, "notice")]


def test_a_modifier_before_its_batch_belongs_to_that_batch() -> None:
    got = cohorts("关于公布第六批专精特新“小巨人”企业和通过复核的第三批专精特新“小巨人”企业名单的通知")
    assert got == [(6, None, False, "final"), (3, None, True, "final")]


def test_single_cohort_titles_have_one_cohort_matching_the_top_level() -> None:
    c = classify("关于杭州市2020年第二批浙江省科技型中小企业拟认定名单的公示")
    assert [(k.batch, k.year, k.review, k.stage) for k in c.cohorts] == [(c.batch, c.year, c.review, c.stage)]
    assert (c.batch, c.year) == (2, 2020)


def test_review_year_and_cohort_year() -> None:
    c = classify("关于2025年复核2022年度专精特新中小企业名单的公示")
    assert (c.year, c.review, len(c.cohorts)) == (2022, True, 1)


# ---- program, level, region ----

def test_priority_little_giant_over_specialized_and_core_area_over_cluster() -> None:
    assert classify("专精特新“小巨人”企业和专精特新中小企业名单").program == "little-giant"
    assert classify("中小企业特色产业集群核心区和协同区名单").program == "cluster-core-area"
    assert classify("中小企业特色产业集群名单").program == "sme-cluster"


def test_program_name_is_the_phrase_as_written() -> None:
    assert classify("关于2021年省级“专精特新”中小企业名单").program_name == '"专精特新"中小企业'
    assert classify("第二批专精特新“小巨人”复核通过企业").program_name == '专精特新"小巨人"'
    assert classify("首台（套）装备名单").program_name == "首台(套)装备"


@pytest.mark.parametrize("title, level", [
    ("工信部关于2024年专精特新中小企业的通知", "national"),
    ("中小企业局关于组织推荐的通知", "national"),
    ("浙江省经济和信息化厅关于公布名单的通知", "provincial"),
    ("省经信厅关于公布专精特新中小企业名单的通知", "provincial"),
    ("嘉兴市经济和信息化局关于公布专精特新中小企业名单的通知", "municipal"),
    ("平湖市经济和信息化局关于公布专精特新中小企业名单的通知", "county"),
    ("嘉善县关于公布专精特新中小企业名单的通知", "county"),
    ("桐乡市关于专精特新中小企业名单的公示", "county"),
    ("海宁市关于专精特新中小企业名单的公示", "county"),
    ("海盐县关于专精特新中小企业名单的公示", "county"),
    ("南湖区关于专精特新中小企业名单的公示", "county"),
    ("浙江省第七批专精特新“小巨人”企业名单", "national"),
    ("2024年省级专精特新“小巨人”企业名单", "provincial"),
    ("嘉兴市级专精特新“小巨人”企业名单", "municipal"),
    ("平湖市经济和信息化局关于转发浙江省经济和信息化厅关于公布浙江省特色产业集群名单的通知", "provincial"),
    ("关于公布名单的通知", None),
])
def test_level(title: str, level: str | None) -> None:
    assert classify(title).level == level


def test_region_from_title_then_body_signature() -> None:
    assert classify("杭州市滨江区关于专精特新名单的公示").region == "滨江区"
    assert classify("关于同意平湖市创建特色产业集群核心区的批复").region is None
    body = "现予以公布。\n附件：名单\n嘉兴市经济和信息化局\n2024年12月20日"
    c = classify("关于公布2024年度专精特新中小企业名单的通知", body)
    assert (c.region, c.level) == ("嘉兴市", "municipal")
    assert classify("关于公布2024年度专精特新中小企业名单的通知").region is None


def test_places_in_order_with_national_issuers() -> None:
    got = [(p.name, p.level) for p in places(normalise_title("工业和信息化部 浙江省经信厅 嘉兴市平湖市"))]
    assert got == [(None, "national"), ("浙江省", "provincial"), ("平湖市", "county")]  # 嘉兴市平湖市 -> 平湖市


# ---- English ----

def test_english_headline() -> None:
    c = classify(HEADLINE)
    assert (c.program, c.level, c.batch, c.stage, c.year) == ("sme-cluster", "provincial", 1, "final", None)
    assert c.program_name == "small and medium-sized industrial clusters"


def test_made_in_zhejiang_core_areas() -> None:
    c = classify('The first batch of "Made in Zhejiang" provincial characteristic industrial cluster core areas announced')
    assert (c.program, c.level, c.batch, c.stage) == ("cluster-core-area", "provincial", 1, "final")
    assert c.region is None  # "Made in Zhejiang" is a brand, not the issuer


def test_extract_core_areas() -> None:
    text = ("Jiashan County was selected as the core area for digital security and network communication industry "
            "clusters, while Pinghu City was chosen as the core area for robot and CNC machine tool industry clusters.")
    assert extract_core_areas(text) == [
        ("Jiashan County", "digital security and network communication industry clusters"),
        ("Pinghu City", "robot and CNC machine tool industry clusters"),
    ]


def test_extract_core_areas_plural_and_none() -> None:
    got = extract_core_areas("In addition, Tongxiang City and Haiyan County were chosen as core areas for the new "
                             "materials industry cluster; Haining City was named as the core area of the warp knitting cluster.")
    assert got == [("Tongxiang City", "new materials industry cluster"), ("Haiyan County", "new materials industry cluster"),
                   ("Haining City", "warp knitting cluster")]
    assert extract_core_areas("Three clusters in our city were selected.") == []
    assert extract_core_areas("") == []


# ---- registry in use ----

def test_user_defined_program_is_matched_first() -> None:
    reg = load_registry([{"key": "eagle", "name": "雄鹰行动企业", "name_en": "Eagle Action enterprises",
                          "level": "provincial", "aliases": ["雄鹰行动", "雄鷹行動"]}])
    c = classify("关于公布2024年度浙江省“雄鹰行动”培育企业名单的通知", registry=reg)
    assert (c.program, c.program_name, c.level, c.stage) == ("eagle", '"雄鹰行动"', "provincial", "final")
    assert classify("Eagle Action enterprises announced", registry=reg).program == "eagle"
    assert classify("关于公布2024年度浙江省“雄鹰行动”培育企业名单的通知").program is None


def test_wildcard_alias_bridges_a_short_gap_only() -> None:
    reg = load_registry()
    assert find_program('首批"浙江制造"省级特色产业集群核心区名单', reg).text == '"浙江制造"省级特色产业集群核心区'
    assert find_program("特色产业集群名单的通知附件核心区", reg).program.key == "sme-cluster"


# ---- robustness and documentation ----

@pytest.mark.parametrize("module", [scraper.classify, scraper.cnnum, scraper.titles, config.programs],
                         ids=lambda m: m.__name__)
def test_docstring_examples_hold(module: object) -> None:
    result = doctest.testmod(module)
    assert result.attempted and not result.failed


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("第首批一二十两〇零年度2024１批复核拟公示公布的通知和、省市县级小巨人专精特新 \"“”（）.pdf附件"))
               ) | st.text())
def test_classify_never_raises_and_keeps_its_vocabulary(title: str) -> None:
    c = classify(title, title)
    d = c.as_dict()
    assert c.stage in STAGES and c.level in LEVELS + (None,) and d["cohorts"]
    assert (d["batch"], d["year"], d["stage"]) == tuple(d["cohorts"][0][k] for k in ("batch", "year", "stage"))


# ---- the evaluator ----

def test_evaluator_counts_a_wrong_label_as_a_miss() -> None:
    row = next(r for r in ROWS if r["id"] == "T1")
    wrong = Case("bad", row["title"], {**row["expected"], "stage": "notice", "year": 1999})
    report = evaluate_titles([Case("T1", row["title"], row["expected"]), wrong])
    assert report.accuracy("stage") == 0.5 and report.accuracy("program") == 1.0
    assert [(m.case.id, m.fields) for m in report.misses] == [("bad", ("stage", "year"))]
    assert report.below() == ["stage", "year"]


def test_evaluate_main_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(ROWS[0], ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["--corpus", str(good)]) == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**ROWS[0], "expected": {**ROWS[0]["expected"], "program": "tech-sme"}},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["--corpus", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "program: expected \"tech-sme\"" in out and "FAIL" in out


def test_load_corpus_rejects_rows_with_other_keys(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    p.write_text(json.dumps({"id": "x", "title": "t", "expected": {"program": None}}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"c.jsonl:1: expected keys"):
        load_corpus(p)


def test_entity_report_when_the_module_is_missing_or_present() -> None:
    def missing(name: str) -> object:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    assert entity_report(missing) is None
    out = io.StringIO()
    print_entities(None, out)
    assert "entity corpus not available" in out.getvalue()

    class Fake:
        @staticmethod
        def evaluate_entities() -> dict:
            return {"tp": 8, "fp": 2, "fn": 0, "cases": [{"case": "a", "fp": 2, "extra": ["x|y"]}]}

    report = entity_report(lambda name: Fake)
    assert scores(report) == (0.8, 1.0, pytest.approx(0.8889, abs=1e-4))
    out = io.StringIO()
    print_entities(report, out)
    assert "F1 0.8889" in out.getvalue() and "extra   x|y" in out.getvalue()
