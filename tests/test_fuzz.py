"""Hostile input, bounded: every parser, extractor and the classifier against arbitrary and mutated input.

Each target of tests/fuzz.py (the decoder, each list adapter, the detail reader, tables, entities,
the whole ``extract`` analysis, the classifier, the numeral and date helpers, the attachment
readers) gets Hypothesis input -- bytes, text with CJK and control characters, token soups, and
fixture pages with flipped bytes, truncations, deleted or duplicated slices and hostile snippets
(``<script>``, ``]]>``, ``<!ENTITY``, NUL, huge attributes, deep nesting) -- and must return a
result that keeps the models' invariants or raise its own typed error, within a CPU budget per call.
The examples are bounded and derandomized so CI is reproducible; ``CLUSTERWATCH_FUZZ_EXAMPLES``
raises the count, and ``python -m tests.fuzz`` runs long sessions.

Then the round trip: what the pipeline stores for a page is what ``extract --json`` printed for it.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import config
from db import open_db
from scraper import cnnum, entities
from scraper.classify import classify
from scraper.parse import parse_detail, trs
from scraper.titles import normalise, normalise_title
from scraper.understand import batch_key
from tests import fuzz
from tests.servers.http import FixtureServer, Resp

settings.register_profile(
    "clusterwatch-fuzz", max_examples=int(os.environ.get("CLUSTERWATCH_FUZZ_EXAMPLES", "80")), deadline=None,
    derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
FUZZ = settings.get_profile("clusterwatch-fuzz")
LIMIT = 5.0  # CPU seconds per call; the largest inputs here take milliseconds
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------- every target


@pytest.mark.parametrize("name", list(fuzz.targets()))
@FUZZ
@given(data=st.data())
def test_a_target_returns_a_valid_result_or_its_own_error(name: str, data: st.DataObject) -> None:
    payload = data.draw(fuzz.inputs(name), label="input")
    failure = fuzz.run_one(fuzz.targets()[name], payload, LIMIT)
    assert failure is None, f"{failure.signature}\n{failure.report}"


@pytest.mark.parametrize("name", list(fuzz.targets()))
def test_every_seed_of_a_target_passes_unmutated(name: str) -> None:
    target = fuzz.targets()[name]
    for data in fuzz.seed_inputs(name)[:60]:
        failure = fuzz.run_one(target, data, LIMIT)
        assert failure is None, f"{failure.signature}\n{failure.report}"


def test_each_adapter_and_family_has_a_target() -> None:
    from scraper.parse import ADAPTERS

    names = set(fuzz.targets())
    assert {f"list-{kind}" for kind in ADAPTERS} <= names
    assert {"decode", "detail", "tables", "entities", "analyse", "classify", "numbers", "attachments"} <= names
    assert all(fuzz.seed_inputs(n) for n in names)


# ---------------------------------------------------------------------- the classifier


_TITLE_CHARS = st.characters(exclude_categories=("Cs",)) | st.sampled_from(list("第批年度省市县级名单公示公布〇零一二十两 　“”「」（）《》"))


@FUZZ
@given(st.text(_TITLE_CHARS, max_size=80), st.none() | st.text(_TITLE_CHARS, max_size=200))
def test_the_classifier_is_total_and_normalising_is_idempotent(title: str, body: str | None) -> None:
    fuzz.check_classification(classify(title, body), frozenset(p.key for p in fuzz.knowledge().registry))
    for f in (normalise, normalise_title, entities.normalise_name):
        once = f(title)
        assert f(once) == once, (f.__name__, title, once)


# ---------------------------------------------------------------------- regressions found by fuzzing


def test_regression_a_long_word_run_does_not_make_trs_paging_quadratic() -> None:
    page = "<html><body><script>var countPage = 3;</script><p>" + "一" * 60_000 + "</p></body></html>"
    start = time.process_time()
    with fuzz.time_limit(LIMIT):
        paging = trs.find_paging(page, "http://www.example.gov.cn/xxgk/index.html")
    assert paging is not None and (paging.prefix, paging.count) == ("index", 3)
    assert time.process_time() - start < 1.0


def _cpu(f: Callable[..., object], *args: object, **kwargs: object) -> float:
    """CPU seconds one call takes (stopped at LIMIT)."""
    start = time.process_time()
    with fuzz.time_limit(LIMIT):
        f(*args, **kwargs)
    return time.process_time() - start


def test_regression_place_lines_do_not_backtrack_exponentially() -> None:
    """``嘉兴市市市…x`` after a numbered name: 40 市 took 12 s, 50 never ended."""
    regions = fuzz.knowledge().regions
    text = "1\n某某有限公司\n嘉兴市" + "市" * 60 + "x\n2\n嘉兴某某有限公司\n嘉兴市 平湖市\n"
    assert _cpu(entities.from_lines, text, regions=regions) < 1.0
    found = entities.from_lines(text, regions=regions)
    assert [(e.name, e.region) for e in found][-1] == ("嘉兴某某有限公司", "平湖市")
    assert entities._PLACE_LINE.match("石嘴山市 惠农区") and entities._PLACE_LINE.match("浙江省杭州市萧山区")


@pytest.mark.parametrize("raw", ["※" * 40_000 + "x", "x" + "(原名a)" * 20_000, "#；" * 40_000])
def test_regression_normalising_a_huge_name_is_linear(raw: str) -> None:
    assert _cpu(entities.normalise_name, raw) < 1.0  # these took 6-7 s each


def test_regression_a_numbered_line_of_many_words_is_split_in_linear_time() -> None:
    text = "1、某有限公司 " + "嘉兴市 " * 30_000
    assert _cpu(entities.from_lines, text, regions=fuzz.knowledge().regions) < 1.0


def test_regression_auto_detection_of_unclosed_script_tags_is_linear() -> None:
    from scraper.parse import auto

    assert _cpu(auto.detect, "<script " * 20_000) < 1.0  # took 14 s
    assert auto.detect('<script type="text/xml" id="x"><datastore><recordset>') == "hanweb-jpage"


def test_regression_deeply_nested_tables_are_read_without_recursion_or_quadratic_time() -> None:
    """500 nested tables raised RecursionError from parse_detail; 5000 took 4 s in tables()."""
    page = '<html><body><div id="zoom">x' + "<table><tr><td>a" * 5000 + "</div></body></html>"
    assert _cpu(parse_detail, page, "http://www.example.gov.cn/a.html") < 1.0
    detail = parse_detail(page, "http://www.example.gov.cn/a.html")
    assert len(detail.tables) == 5000 and detail.body.count("a") == 5000
    shallow = parse_detail('<div id="zoom"><table><tr><td>1</td><td><table><tr><td>甲</td><td>乙</td></tr></table></td>'
                           "</tr></table></div>", "http://www.example.gov.cn/a.html")
    assert shallow.tables == ((("1", ""),), (("甲", "乙"),)) and "1 | 甲 | 乙" in shallow.body


def test_regression_the_dated_links_heuristic_is_not_quadratic_in_nesting() -> None:
    """5000 nested <div>s, each with a dated link, took 6 s in static's heuristic (every container's subtree)."""
    from scraper.parse import static

    url = "http://www.example.gov.cn/col/index.html"
    page = "<html><body>" + '<div><a href="/a.html">t</a> 2026-01-01 <div>' * 5000 + "</body></html>"
    start = time.process_time()
    with fuzz.time_limit(LIMIT):
        static.parse(page, url)
    assert time.process_time() - start < 1.5  # most of it is the HTML parser's own
    flat = "<ul>" + "".join(f'<li><a href="/{i}.html">t{i}</a> 2026-01-0{i}</li>' for i in range(1, 4)) + "</ul>"
    assert len(static.parse("<div>" * 40 + flat, url).items) == 3  # a list 40 levels down is still found


def test_regression_nested_selected_items_are_read_in_linear_time() -> None:
    """6000 ``li`` items nested in each other (item = "li", or a JPaaS shape) read each one's whole text."""
    from config import Selectors
    from scraper.parse import static

    url = "http://www.example.gov.cn/col/index.html"
    page = "<ul>" + "".join(f'<li><a href="/a{i}.html">标题</a> 2026-01-{i % 28 + 1:02d} <ul>' for i in range(6000))
    start = time.process_time()
    with fuzz.time_limit(LIMIT):
        items = static.parse(page, url, Selectors(item="li")).items
    assert time.process_time() - start < 1.5
    assert len(items) == 6000 and [i.date for i in items[:3]] == ["2026-01-01", "2026-01-02", "2026-01-03"]


@pytest.mark.parametrize("stress", ["jpage-ajax-params", "regex-store-nextgroups", "download-suffixes",
                                    "unclosed-script-tags", "place-suffixes", "footnote-cell", "note-cell"])
def test_regression_stress_inputs_that_were_quadratic_are_fast_everywhere(stress: str) -> None:
    """Before their fixes each of these took 2-50 s in one of these targets; now a fraction of a second."""
    data = fuzz.STRESS[stress]
    for name in ("list-hanweb-jpage", "list-auto", "detail", "entities", "analyse"):
        start = time.process_time()
        failure = fuzz.run_one(fuzz.targets()[name], data, LIMIT)
        assert failure is None, f"{failure.signature}\n{failure.report}"
        assert time.process_time() - start < 2.0, (stress, name)


def test_regression_jpage_reads_options_and_nextgroup_as_before() -> None:
    from scraper.parse import jpage

    link = "<a href='/d.jsp?page=1'></a>"
    assert jpage._nextgroup(f"<nextgroup> <![CDATA[{link}]]> </nextgroup>") == link
    assert jpage._nextgroup("<nextgroup><a href='/x'></a>") is None
    page = ('<div id="u1"><script type="text/xml"><datastore><recordset></recordset></datastore></script></div>'
            "<script>$('#u1').jpage({proxyUrl:'/module/jpage/dataproxy.jsp', totalRecord:40, ajaxParam:{col:1,"
            " webid:'3', path:\"/\"}})</script>")
    init = jpage._jpage_init(jpage.parse_html(page), "u1")
    assert init.ajax == (("col", "1"), ("webid", "3"), ("path", "/")) and init.total == 40


@pytest.mark.parametrize("title, stripped", [("名单_1 (1).pdf", "名单"), ("名单_123 (1).xlsx", "名单_123"),
                                             ("名单(1)(2).pdf", "名单"), ("(1)" * 20_000 + "x.pdf", "(1)" * 20_000 + "x")])
def test_regression_download_suffixes_are_stripped_in_linear_time(title: str, stripped: str) -> None:
    from scraper.titles import strip_attachment

    assert _cpu(strip_attachment, title) < 1.0  # the long chain took 6 s
    assert strip_attachment(title) == stripped


_BIG = "9" * 5000  # int() refuses strings of more than 4300 digits


@pytest.mark.parametrize("kind, page", [
    ("trs", f"<html><body><ul><li><a href='/a.html'>t</a>2026-01-01</li><li><a href='/b.html'>u</a>2026-01-02</li>"
            f"</ul><script>var countPage = {_BIG};</script></body></html>"),
    ("trs", f"<html><body><script>createPageHTML({_BIG}, 0, 'index', 'html');</script></body></html>"),
    ("hanweb-jpage", f"<datastore><totalrecord>{_BIG}</totalrecord><recordset><record><![CDATA[<li><a href='/a.html'>"
                     "t</a><span>2026-01-01</span></li>]]></record></recordset></datastore>"),
])
def test_regression_a_count_too_long_for_int_is_no_count(kind: str, page: str) -> None:
    from config import Source
    from scraper.parse import ADAPTERS

    url = "http://www.example.gov.cn/col/col1/index.html"
    got = ADAPTERS[kind].parse(page, url, Source("s", url, kind))  # trs raised ValueError, jpage a ParseError
    assert got.total is None and got.next is None


@pytest.mark.parametrize("seq", [_BIG, "²"])
def test_regression_a_row_number_int_cannot_read_is_the_position(seq: str) -> None:
    """A 序号 cell of 5000 digits (or ², which isdigit() but int() refuses) raised ValueError."""
    table = (("序号", "企业名称"), (seq, "嘉兴某某有限公司"), ("2", "平湖某某有限公司"))
    found = entities.from_tables((table,), regions=fuzz.knowledge().regions)
    assert [(e.name, e.row) for e in found] == [("嘉兴某某有限公司", 1), ("平湖某某有限公司", 2)]
    assert entities.stated_count(f"共{_BIG}家") is None and entities.stated_count("共17家") == 17


def test_regression_an_epoch_past_any_float_is_no_date() -> None:
    from scraper.parse import miit

    assert miit.epoch_date("9" * 400) is None and miit.epoch_date(1764460800000) == "2025-11-30"
    reply = {"data": {"searchResult": {"totalCount": 1, "dataResults": [
        {"groupData": [{"data": {"title": "t", "url": "/a.html", "deploytime": int("9" * 400)}}]}]}}}
    page = miit.parse(json.dumps(reply), "https://www.miit.gov.cn/search-front-server/api/search/info?p=1&pg=20")
    assert [(i.url, i.date) for i in page.items] == [("https://www.miit.gov.cn/a.html", None)]


def test_regression_a_negative_search_count_is_no_count() -> None:
    from scraper.parse import miit

    reply = {"data": {"searchResult": {"totalCount": -1, "dataResults": [
        {"groupData": [{"data": {"title": "t", "url": "/a.html"}}]}]}}}
    page = miit.parse(json.dumps(reply), "https://www.miit.gov.cn/search-front-server/api/search/info?p=1&pg=20")
    assert page.total is None and [i.url for i in page.items] == ["https://www.miit.gov.cn/a.html"]


@pytest.mark.parametrize("title", ["〇〇〇〇年第二批名单", "九九九九年名单", "第〇批专精特新名单", "第二批第〇年名单"])
def test_regression_zero_batches_and_impossible_years_are_not_cohorts(title: str) -> None:
    c = classify(title)
    assert c.year is None and all(k.support_year is None for k in c.cohorts)
    assert c.batch in (None, 2)


@pytest.mark.parametrize("title", ["batch " + "7" * 5000, "9" * 5000 + "th batch", "第" + "9" * 5000 + "批"])
def test_regression_huge_numbers_in_a_title_are_no_batch(title: str) -> None:
    assert classify(title).batch is None


def test_regression_numeral_helpers_refuse_what_int_cannot_read() -> None:
    assert cnnum.en_number("²") is None and cnnum.en_number("9" * 5000) is None
    assert cnnum.en_ordinal("9" * 5000 + "th") is None
    assert cnnum.to_int("１２") == 12 and cnnum.to_int("²") == 2
    with pytest.raises(ValueError):
        cnnum.to_int("፩")
    with pytest.raises(ValueError):
        cnnum.cn_year("፩፪")


@pytest.mark.parametrize("when", ["0001-01-01T00+14", "9999-12-31T23:00:00-10:00", "7000000000 Dec 9 2:1"])
def test_regression_a_feed_date_out_of_datetime_range_is_no_date(when: str) -> None:
    from scraper.parse import feed

    assert feed.feed_date(when) is None
    rss = f"<rss><channel><item><title>t</title><link>/a.html</link><pubDate>{when}</pubDate></item></channel></rss>"
    page = feed.parse(rss, "http://www.example.gov.cn/rss.xml")
    assert [(i.url, i.date) for i in page.items] == [("http://www.example.gov.cn/a.html", None)]


@pytest.mark.parametrize("raw", ["Î¸", "K¸", "#;#,#;#,", "企业*；", "A\u00a8B", "有限公司（原名：X）*；"])
def test_regression_entity_names_normalise_idempotently(raw: str) -> None:
    once = entities.normalise_name(raw)
    assert entities.normalise_name(once) == once


# ---------------------------------------------------------------------- the harness itself


def test_the_timer_interrupts_a_runaway_call_and_restores_itself() -> None:
    start = time.process_time()
    with pytest.raises(fuzz.Hang):
        with fuzz.time_limit(0.2):
            while True:
                pass
    assert time.process_time() - start < 2.0
    with fuzz.time_limit(0.2):  # the timer is disarmed afterwards: a later call runs on
        sum(range(1000))


def test_run_one_tells_findings_from_allowed_errors() -> None:
    def boom(data: bytes) -> None:
        if b"X" in data:
            raise KeyError("x")
        if b"E" in data:
            raise ValueError("documented")
        fuzz.expect(b"B" not in data, "no B", data)

    target = fuzz.Target("planted", boom, (ValueError,), ())
    assert fuzz.run_one(target, b"aEa") is None and fuzz.run_one(target, b"ok") is None
    key = fuzz.run_one(target, b"..X..")
    assert key is not None and key.signature.startswith("planted: KeyError in ")
    broken = fuzz.run_one(target, b"B")
    assert broken is not None and broken.signature == "planted: broken invariant: no B"
    assert fuzz.shrink(target, b"abc" * 50 + b"X" + b"def" * 50, key.signature, seconds=5) == b"X"


def test_the_long_session_command_runs_and_summarises(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "tests.fuzz", "--minutes", "0.02", "--target", "numbers",
                          "--engine", "hypothesis", "--jobs", "1", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "numbers" in res.stdout and "0 findings (hypothesis)" in res.stdout
    stats = json.loads((tmp_path / "numbers" / "stats.json").read_text(encoding="utf-8"))
    assert stats["examples"] > 0 and stats["findings"] == {}


def test_a_native_crash_in_a_worker_is_a_finding_not_the_end(tmp_path: Path) -> None:
    env = dict(os.environ, CLUSTERWATCH_FUZZ_PLANTED="1")
    res = subprocess.run([sys.executable, "-m", "tests.fuzz", "--minutes", "0.02", "--target", "planted-crash",
                          "--engine", "hypothesis", "--jobs", "1", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "native crash: worker exited with -11" in res.stdout and "1 findings" in res.stdout
    assert (tmp_path / "planted-crash" / "native-0.bin").read_bytes() == next(iter(fuzz.STRESS.values()))


# ---------------------------------------------------------------------- round trip: stored == extract --json

DEMO_PAGES = sorted((ROOT / "scraper" / "demo_site" / "site").rglob("*.html"))
DETAIL_PAGES = sorted((ROOT / "tests" / "pages" / "detail").glob("*.html"))
XLSX = ROOT / "tests" / "corpus" / "entities" / "new_firms.xlsx"
XLS = ROOT / "tests" / "corpus" / "entities" / "review_passed.xls"
FOREIGN_HOSTS = ("http://jxj.jiaxing.gov.cn", "https://www.miit.gov.cn", "http://www.miit.gov.cn")


def _own_page() -> bytes:
    """A final list with a table on the page and its list as an .xlsx attachment."""
    rows = "".join(f"<tr><td>{i}</td><td>嘉兴市{p}</td><td>{n}</td></tr>" for i, (p, n) in enumerate(
        [("平湖市", "光机电（精密光学元件）"), ("海宁市", "经编（高端经编面料）"), ("桐乡市", "化纤（差别化纤维）")], 1))
    return f"""<html><head><meta name="ArticleTitle" content="关于公布2026年浙江省中小企业特色产业集群（第二批）名单的通知">
<meta name="PubDate" content="2026-11-30 09:00"><meta name="ContentSource" content="浙江省经济和信息化厅"></head>
<body><div id="zoom"><p>经专家评审，确定以下3个集群，现予以公布。</p>
<table><tr><td>序号</td><td>所在地</td><td>集群名称</td></tr>{rows}</table>
<p><a href="/files/new_firms.xlsx">附件1：2026年新认定企业名单.xlsx</a></p>
<p><a href="/files/review.xls">附件2：复核通过企业名单.xls</a></p></div></body></html>""".encode()


def _site(site: FixtureServer, pages: list[Path]) -> list[tuple[str, str]]:
    """Serve the pages and ours (foreign hosts rewritten to the fixture server) and a list of them; (path, title)."""
    items = []
    for i, body in enumerate([p.read_bytes() for p in pages] + [_own_page()]):
        for host in FOREIGN_HOSTS:
            body = body.replace(host.encode(), site.base.encode())
        path = f"/art/{i}.html"
        detail = parse_detail(fuzz.text_of(body), site.url(path))
        assert all(a.url.startswith(site.base) for a in detail.attachments), "only loopback traffic"
        site.routes[path] = Resp(200, body, content_type="text/html")
        items.append((path, detail.title or f"page {i}", detail.pub_date or ""))
    site.routes["/files/new_firms.xlsx"] = Resp(200, XLSX.read_bytes(), content_type="application/octet-stream")
    site.routes["/files/review.xls"] = Resp(200, XLS.read_bytes(), content_type="application/octet-stream")
    site.routes["/module/download/downfile.jsp"] = Resp(200, XLS.read_bytes(), content_type="application/octet-stream")
    lis = "".join(f'<li><a href="{p}" title="{html.escape(t)}">{html.escape(t)}</a><span class="date">{d}</span></li>'
                  for p, t, d in items)
    site.routes["/list.html"] = Resp(200, f"<html><body><ul class='list'>{lis}</ul></body></html>")
    return [(p, t) for p, t, _ in items]


def _config(tmp_path: Path, site: FixtureServer, extra: str = "") -> Path:
    network = '[network]\nallow = ["127.0.0.1"]\n' if hasattr(config, "Network") else ""
    path = tmp_path / "cw.toml"
    path.write_text(f'''database = "cw.db"
{network}{extra}[politeness]
delay = 0
retries = 0
timeout = 10
[[sources]]
name = "rt"
url = "{site.url('/list.html')}"
baseline = "alert"
max_new_details = 50
[sources.selectors]
item = "ul.list > li"
date = "span.date"
[[subscribers]]
name = "desk"
[[subscribers.channels]]
kind = "console"
''', encoding="utf-8")
    return path


def _stored(db: object, url: str) -> tuple[dict[str, object], list[dict[str, object]], list[tuple[str, str]]]:
    cols = ("key", "title", "pub_date", "issuer", "classification", "program", "program_name", "level", "stage",
            "review", "batch", "year", "region", "list_public", "count_stated", "count_found", "count_problem")
    sql = f"select {', '.join(cols)} from announcements where url = ?"
    row = db.execute(sql, [url]).fetchone()  # type: ignore[attr-defined]
    assert row is not None, f"{url} was not stored"
    a = dict(zip(cols, row))
    ecols = ("name", "raw_name", "region", "city", "category", "role", "row", "provenance")
    found = [dict(zip(ecols, r)) for r in db.execute(  # type: ignore[attr-defined]
        f"select {', '.join(ecols)} from selections where announcement_key = ? order by id", [a["key"]])]
    links = [tuple(r) for r in db.execute(  # type: ignore[attr-defined]
        "select batch_key, stage from batch_announcements where announcement_key = ?", [a["key"]])]
    return a, found, links


def _assert_same(report: dict, a: dict, found: list, links: list, *, page_only: bool = False) -> None:
    c = report["classification"]
    assert json.loads(a["classification"]) == c
    assert (a["program"], a["program_name"], a["level"], a["stage"], bool(a["review"]), a["batch"], a["year"],
            a["region"]) == (c["program"], c["program_name"], c["level"], c["stage"], c["review"], c["batch"],
                             c["year"], c["region"])
    key = batch_key(SimpleNamespace(**{k: c[k] for k in ("program", "level", "year", "batch", "review", "stage")}))
    assert links == ([(key, c["stage"])] if key else [])
    assert (a["title"], a["pub_date"], a["issuer"]) == (report["title"], report["pub_date"], report["issuer"])
    printed = report["entities"]
    if page_only:  # a saved file has no server to fetch its attachments from
        found = [e for e in found if e["provenance"] == "page"]
        assert [e for e in printed if e["provenance"] != "page"] == []
        return
    assert found == printed
    assert (bool(a["list_public"]), a["count_stated"], a["count_found"], a["count_problem"]) == (
        report["list_public"], report["count_stated"], len(printed) or None, report["count_problem"])


def _round_trip(tmp_path: Path, site: FixtureServer, pages: list[Path], extra: str = "") -> list[list[dict]]:
    """Store the pages with ``run --once``, extract each (URL and saved file), compare; the stored entities."""
    from scraper.cli import main
    from scraper.runner import run_once

    items = _site(site, pages)
    cfg = _config(tmp_path, site, extra)
    s = config.load(cfg, environ=dict(os.environ))
    db = open_db(s.database)
    asyncio.run(run_once(s, db, force=True))
    assert db.execute("select count(*) from announcements").fetchone()[0] == len(items)
    runner = CliRunner()
    out = []
    for path, _ in items:
        res = runner.invoke(main, ["extract", site.url(path), "--json", "--config", str(cfg)])
        assert res.exit_code == 0, res.output
        report = json.loads(res.output)
        a, found, links = _stored(db, site.url(path))
        _assert_same(report, a, found, links)
        out.append(found)
        saved = tmp_path / f"page{path.replace('/', '_')}"
        saved.write_bytes(site.routes[path].raw())  # type: ignore[union-attr]
        res = runner.invoke(main, ["extract", str(saved), "--json", "--config", str(cfg)])
        assert res.exit_code == 0, res.output
        _assert_same(json.loads(res.output), a, found, links, page_only=True)
    return out


def test_round_trip_what_is_stored_is_what_extract_printed(tmp_path: Path, site: FixtureServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUSTERWATCH_CONFIG", raising=False)
    stored = _round_trip(tmp_path, site, DETAIL_PAGES + DEMO_PAGES)
    assert sum(bool(found) for found in stored) >= 3  # the comparison is not vacuous
    assert {e["provenance"].split(":")[0] for e in stored[-1]} == {"page", "attachment"}


def test_regression_round_trip_holds_when_attachments_are_not_downloaded(
        tmp_path: Path, site: FixtureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """``[attachments] download = false``: extract used to read the attachments the pipeline never fetches."""
    monkeypatch.delenv("CLUSTERWATCH_CONFIG", raising=False)
    stored = _round_trip(tmp_path, site, [], "[attachments]\ndownload = false\n")
    assert {e["provenance"] for e in stored[-1]} == {"page"}
    assert not site.hits("/files/new_firms.xlsx")
