"""Fuzz the parsers, the extractors and the classifier, in CI (tests/test_fuzz.py) and in long sessions.

    python -m tests.fuzz --minutes 10                     # every target, two workers, atheris if installed
    python -m tests.fuzz --target detail --minutes 2 --seed 7 --out /tmp/cw-fuzz
    python -m tests.fuzz --engine hypothesis --jobs 1     # without atheris
    python -m tests.fuzz --list                           # the targets

A *target* is one entry point called with bytes: the decoder, each list adapter, the detail page
reader, the table reader, the entity extractor, the whole ``extract`` analysis, the classifier,
the numeral and date helpers and the attachment readers. Each call must return a result that keeps
the models' invariants (:func:`check_list_page` and friends) or raise the typed error the entry
point documents (``ParseError``, ``AttachmentError``); anything else, a call running past its CPU
budget or a broken invariant is a *finding*.

Every target runs in a worker subprocess, so a native crash (a selectolax segfault) is a recorded
finding, not the end of the session. Workers use atheris (coverage-guided libFuzzer over the scraper
code, seeded with the fixture pages and a dictionary of hostile snippets) when it is installed, else
Hypothesis with a large example count; either way a worker first runs :data:`STRESS`, whole inputs
of 100-200 KB of repeated structure, on a tighter CPU budget. A finding's input is saved under ``--out`` (default: a new
temporary folder) as ``<target>/<signature hash>.bin`` with its traceback beside it, then shrunk to a
minimal reproducer (``….min.bin``). The summary lists the targets, the examples run and the findings.
The file is named so pytest never collects it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "pages"
CORPUS = ROOT / "tests" / "corpus"
DEMO = ROOT / "scraper" / "demo_site"
URL = "http://www.example.gov.cn/col/col1229399350/index.html"
ISO_DATE = re.compile(r"^(?:199\d|20\d\d|2100)-\d\d-\d\d$")

# Snippets a hostile or broken page might carry: inserted by the mutators, and libFuzzer's dictionary.
HOSTILE = (
    b"<script>", b"</script>", b"<style>", b"<![CDATA[", b"]]>", b"<!--", b"-->", b"\x00", b"\r\n", b"\xef\xbb\xbf",
    b"\xff\xfe", b"\xfe\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"&#0;", b"&#x110000;", b"&amp;", b"&nbsp;",
    b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>', b'<!ENTITY x SYSTEM "file:///etc/passwd">',
    b"&b;", b'<?xml version="1.0" encoding="utf-16"?>', b'<?xml version="1.0" encoding="idna"?>',
    b'<meta charset="gb2312">', b'<meta charset="utf-7">', b'<meta http-equiv="Content-Type" content="text/html; charset=big5">',
    b"<datastore>", b"</datastore>", b"<recordset>", b"<record><![CDATA[", b"]]></record>", b"<nextgroup>",
    b"<totalrecord>99999999999999999999</totalrecord>", b'<script type="text/xml">',
    b"$('#u1').jpage({totalRecord:12, proxyUrl:'/module/jpage/dataproxy.jsp', ajaxParam:{col:1,webid:'x'}})",
    b'<script src="/AuthorizedRead/unitbuild.js" parseType="bulidstatic" url="/api/unit" queryData="{\'tagId\':\'\xe5\x88\x97\xe8\xa1\xa8\'}">',
    b'<div count="386" rows="0" pageNo="-1">', b"oLayPageRender(1, {rows:\"20\", count:\"585\"})",
    b'{"success":true,"data":{"html":"<ul><li><a href=\\"/a.html\\">t</a>2026-01-01</li></ul>"}}',
    b'{"data":{"searchResult":{"totalCount":-1,"dataResults":[{"groupData":[{"data":{"title":"<em>t</em>","url":"/x","deploytime":99999999999999999}}]}]}}}',
    b'createPageHTML(99, 98, "index", "html");', b"var countPage = 99999999999999999999;",
    b'<rss version="2.0"><channel><item><title>t</title><link>/a</link><pubDate>Fri, 31 Dec 9999 23:59:59 -1200</pubDate></item>',
    b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="html">&lt;b&gt;t</title><link href="/a"/>'
    b"<updated>0001-01-01T00:00:00+14:00</updated></entry>",
    b'<a href="javascript:alert(1)">', b'<a href="http://[::1/x">', b'<a href="http://h:99999/">', b'<a href="//">',
    b'<a href="/viewer.html?file=/cms_files/filemanager/a.pdf">', b'<a href="/module/download/downfile.jsp?f=1">',
    b'<td rowspan="99999999" colspan="99999999">', b'<td colspan="-3">', b'<td rowspan="\xef\xbc\x99">',
    b"<table><tr><td>", b"</td></tr></table>", b"<tr>", b"<td>", b"<th>", b"<br>", b"<p>", b"</p>", b"<li>",
    b'<meta name="ArticleTitle" content="', b'<meta name="PubDate" content="0000-00-00">', b'<div id="zoom">',
    "关于公布2026年浙江省中小企业特色产业集群（第二批）名单的通知".encode(), "第〇批".encode(), "〇〇〇〇年".encode(),
    "序号".encode(), "企业名称".encode(), "集群名称".encode(), "所在地".encode(), "嘉兴市（6家）".encode(), "核心区".encode(),
    "有限公司".encode(), "（原名：".encode(), "共计17家".encode(), "复核未通过".encode(), "　".encode(), "\u200b".encode(),
    "\u202e".encode(), b"\x1b[31m", "was selected as the core area for ".encode(),
)
# Inputs that stress size and depth rather than content.
HUGE = (b"<div>" * 3000, b"<span>" * 4000, b"<table><tr><td>" * 500, b'<a href="/' + b"x" * 100_000 + b'">t</a>',
        b'<p title="' + b"\xe5\x90\x8d" * 30_000 + b'">', b"<![CDATA[" * 2000, "一".encode() * 20_000, b"1." * 20_000,
        b"9" * 5000, "第".encode() + b"9" * 5000 + "批".encode(), b"batch " + b"7" * 5000)
# Whole inputs of ~100-200 KB that every long-session worker runs first, under a tighter CPU budget:
# quadratic and exponential paths show on them, while random mutation rarely grows inputs this large.
STRESS = {
    "unclosed-script-tags": b"<script " * 20000, "script-tags": b"<script>" * 20000,
    "nextgroups": b"<datastore><nextgroup>" + b"<nextgroup>" * 20000,
    "ajax-params": b"<script>" + b"ajaxParam:{" * 20000 + b"</script>", "unclosed-hrefs": b'<a href="' * 20000,
    "cjk-run": "一".encode() * 60000, "cdata-records": b"<datastore><recordset>" + b"<record><![CDATA[" * 20000,
    "place-suffixes": ("1\n某某有限公司\n嘉兴市" + "市" * 45 + "x\n").encode(),
    "long-title": ('<meta name="ArticleTitle" content="' + "专精特新中小企业" * 12000 + '">').encode(),
    "footnote-cell": ("<table><tr><td>序号</td><td>企业名称</td></tr><tr><td>1</td><td>" + "※" * 40000
                      + "x</td></tr></table>").encode(),
    "note-cell": ("<table><tr><td>序号</td><td>企业名称</td></tr><tr><td>1</td><td>x" + "(原名a)" * 20000
                  + "</td></tr></table>").encode(),
    "numbered-spaces": ("1、某有限公司 " + "嘉兴市 " * 30000 + "\n").encode(),
    "numbered-lines": ("1、某有限公司\n" * 20000).encode(), "tier-lines": ("核心区\n" + "嘉兴市某某产业集群\n" * 20000).encode(),
    "tab-rows": ("序号\t企业名称\t所在地\n" + "1\t某有限公司\t嘉兴市\n" * 20000).encode(),
    "lt": b"<" * 200000, "amp": b"&" * 200000, "quotes": b'"' * 200000, "dates": b"2026-" * 40000,
    "years": "2026年".encode() * 30000, "batches": "第二批".encode() * 30000, "rows": b"<tr>" * 50000,
    "spans": b"<table><tr>" + b"<td rowspan=2000 colspan=64>" * 5000,
    "jpage-ajax-params": b'<div id="u1"><script type="text/xml"><datastore><recordset></recordset></datastore></script>'
                         b"</div><script>$('#u1').jpage({ajaxParam:{" + "名".encode() * 30000 + b"}" + b"ajaxParam:{" * 20000
                         + b"})</script>",
    "regex-store-nextgroups": b"<datastore><recordset><record><![CDATA[<li><a href='/a.html'>t</a></li>]]></record>"
                              b"</recordset>" + b"<nextgroup>" * 20000 + b"<unclosed",
    "download-suffixes": ('<meta name="ArticleTitle" content="' + "(1)" * 20000 + 'x.pdf"><div id="zoom">正文</div>').encode(),
    "nested-tables": b'<html><body><div id="zoom">' + b"<table><tr><td>a" * 10000 + b"</div></body></html>",
    "nested-divs": b"<html><body>" + b'<div><a href="/a.html">t</a> 2026-01-01 <div>' * 6000 + b"</body></html>",
    "nested-lis": b"<html><body><ul>" + '<li><a href="/a.html">标题</a> 2026-01-01 <ul>'.encode() * 6000 + b"</body></html>",
    "huge-epoch": b'{"data":{"searchResult":{"totalCount":1,"dataResults":[{"groupData":[{"data":{"title":"t","url":"/a",'
                  b'"deploytime":' + b"9" * 400 + b"}}]}]}}}",
    "huge-numbers": b"<datastore><totalrecord>" + b"9" * 5000 + b"</totalrecord><recordset></recordset></datastore>"
                    b"<script>var countPage = " + b"9" * 5000 + b"; createPageHTML(" + b"9" * 5000 + b", 0, 'i', 'h')"
                    b'</script><div count="' + b"9" * 5000 + b'" rows="15"></div>',
}
STRESS_LIMIT = 3.0  # CPU seconds for one stress input


class Broken(AssertionError):
    """A result that breaks an invariant. ``args[0]`` is the rule (it names the finding), ``args[1]`` the detail."""


class Hang(BaseException):
    """Raised by :func:`time_limit`; a BaseException so that no ``except Exception`` in the code under test eats it."""


def expect(ok: object, rule: str, detail: object = "") -> None:
    if not ok:
        raise Broken(rule, detail)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` of CPU time (SIGVTALRM: SIGALRM stays pytest-timeout's)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds:g} s of CPU time")

    old = signal.signal(signal.SIGVTALRM, fire)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, old)


# ---------------------------------------------------------------------- invariants


def _http(url: object) -> bool:
    """An absolute http(s) URL with a host, as ``scraper.text.resolve`` promises."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_list_page(page: Any) -> None:
    """What the pipeline relies on in an adapter's answer."""
    from scraper.models import ListItem, ListPage, Request
    from scraper.text import clean

    expect(isinstance(page, ListPage), "adapter returned something other than a ListPage", type(page))
    expect(isinstance(page.adapter, str) and page.adapter, "ListPage.adapter is empty")
    total = page.total
    expect(total is None or (isinstance(total, int) and total >= 0), "ListPage.total is negative", total)
    urls = [i.url for i in page.items]
    expect(len(urls) == len(set(urls)), "ListPage repeats an item URL", urls)
    for item in page.items:
        expect(isinstance(item, ListItem), "ListPage.items holds a non-ListItem", item)
        expect(_http(item.url), "ListItem.url is not an absolute http(s) URL", item.url)
        expect(isinstance(item.title, str) and item.title and clean(item.title) == item.title,
               "ListItem.title is empty or not cleaned", item.title)
        expect(item.date is None or ISO_DATE.match(item.date), "ListItem.date is not ISO 1990-2100", item.date)
    if page.next is not None:
        expect(isinstance(page.next, Request) and _http(page.next.url), "ListPage.next has no http(s) URL", page.next)
        expect(all(isinstance(k, str) and isinstance(v, str) for k, v in page.next.headers.items()),
               "ListPage.next headers are not strings", page.next.headers)


def check_table(table: Any) -> None:
    from scraper.parse.tables import MAX_WIDTH

    expect(isinstance(table, tuple) and table, "a table is empty or not a tuple", table)
    width = len(table[0])
    expect(0 < width <= MAX_WIDTH, "a table is wider than MAX_WIDTH", width)
    for row in table:
        expect(isinstance(row, tuple) and len(row) == width, "a table is not rectangular", row)
        expect(all(isinstance(c, str) for c in row), "a table cell is not a string", row)
        expect(any(row), "a table keeps an empty row", row)


def check_detail(d: Any, url: str) -> None:
    from scraper.models import Attachment, Detail
    from scraper.text import clean

    expect(isinstance(d, Detail) and d.url == url, "parse_detail returned no Detail for the page", d)
    for name in ("title", "source", "column"):
        value = getattr(d, name)
        expect(value is None or (value and clean(value) == value), f"Detail.{name} is empty or not cleaned", value)
    expect(d.pub_date is None or ISO_DATE.match(d.pub_date), "Detail.pub_date is not ISO 1990-2100", d.pub_date)
    expect(isinstance(d.body, str), "Detail.body is not a string", d.body)
    urls = [a.url for a in d.attachments]
    expect(len(urls) == len(set(urls)), "Detail.attachments repeats a URL", urls)
    for a in d.attachments:
        expect(isinstance(a, Attachment) and _http(a.url), "an attachment URL is not absolute http(s)", a)
    for t in d.tables:
        check_table(t)


def check_entities(found: Sequence[Any]) -> None:
    from scraper.models import ROLES, Entity

    for e in found:
        expect(isinstance(e, Entity), "an extractor returned a non-Entity", e)
        expect(isinstance(e.name, str) and e.name.strip(), "an entity has an empty name", e)
        expect(e.role in ROLES, "an entity's role is not in ROLES", e)
        expect(e.row is None or isinstance(e.row, int), "an entity's row is not an int", e)
        for name in ("region", "city", "category"):
            value = getattr(e, name)
            expect(value is None or (isinstance(value, str) and value.strip()), f"an entity's {name} is empty", e)
        expect(isinstance(e.provenance, str) and e.provenance, "an entity has no provenance", e)


def check_classification(c: Any, program_keys: frozenset[str]) -> None:
    from config.subscribers import LEVELS, STAGES  # what subscriber filters accept
    from scraper.models import Classification
    from scraper.understand import batch_key

    expect(isinstance(c, Classification), "classify returned no Classification", c)
    expect(c.program is None or c.program in program_keys, "program is not a registry key", c.program)
    expect((c.program is None) == (c.program_name is None), "program and program_name disagree", c)
    expect(c.program_name is None or c.program_name.strip(), "program_name is empty", c)
    expect(c.level is None or c.level in LEVELS, "level is not in LEVELS", c.level)
    expect(c.stage in STAGES, "stage is not in STAGES", c.stage)
    expect(isinstance(c.review, bool), "review is not a bool", c.review)
    expect(c.region is None or (isinstance(c.region, str) and c.region.strip()), "region is empty", c.region)
    expect(c.cohorts and (c.stage, c.batch, c.year) == (c.cohorts[0].stage, c.cohorts[0].batch, c.cohorts[0].year),
           "the classification is not its first cohort", c)
    for k in c.cohorts:
        expect(k.stage in STAGES, "a cohort's stage is not in STAGES", k)
        expect(k.batch is None or (isinstance(k.batch, int) and k.batch >= 1), "a batch is not a positive number", k)
        expect(k.year is None or (isinstance(k.year, int) and 1000 <= k.year <= 9999), "a year is not four digits", k)
    d = c.as_dict()
    expect(set(d) == {"program", "program_name", "level", "stage", "review", "batch", "year", "cohorts", "region"},
           "as_dict() keys changed", d)
    json.dumps(d, ensure_ascii=False)
    batch_key(c)


def idempotent(f: Callable[[str], str], text: str, name: str) -> None:
    once = f(text)
    expect(f(once) == once, f"{name} is not idempotent", (text, once, f(once)))


# ---------------------------------------------------------------------- targets


@dataclasses.dataclass(frozen=True)
class Target:
    """One entry point: ``call(data)`` returns or raises one of ``allowed``; ``seeds`` are fixture files."""

    name: str
    call: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...]
    seeds: tuple[Path, ...]


def _files(*globs: tuple[Path, str]) -> tuple[Path, ...]:
    out: dict[Path, None] = {}
    for base, pattern in globs:
        for p in sorted(base.glob(pattern)):
            if p.is_file() and not p.name.endswith((".expected.json", ".md", ".py")):
                out[p] = None
    return tuple(out)


def text_of(data: bytes) -> str:
    """A page's text as the fetcher decodes it."""
    from scraper.decode import decode

    return decode(data, "text/html")[0]


def _lists(kind: str) -> Target:
    from config import Selectors, Source
    from scraper.errors import ParseError
    from scraper.parse import ADAPTERS

    adapter = ADAPTERS[kind]
    family = {"static": "static", "hanweb-jpage": "jpage", "hanweb-jpaas": "jpaas", "miit-search": "miit", "trs": "trs",
              "feed": "feed", "auto": "auto"}[kind]
    urls = {
        "hanweb-jpage": (URL, "http://www.example.gov.cn/module/jpage/dataproxy.jsp?startrecord=16&endrecord=30&perpage=15"
                              "&page=2&col=1&appid=1&webid=1&columnid=1&unitid=4891275&webname=%25E5%2598%2589&permissiontype=0"),
        "hanweb-jpaas": (URL, "http://www.example.gov.cn/api-gateway/jpaas-publish-server/front/page/build/unit?webId=1"
                              "&tagId=%E5%88%97%E8%A1%A8&paramJson=%7B%22pageNo%22%3A2%2C%22pageSize%22%3A%2215%22%7D"),
        "miit-search": ("https://www.miit.gov.cn/search-front-server/api/search/info?websiteid=110000000000000&q=&p=2&pg=20",),
        "trs": ("http://www.example.gov.cn/xxgk/index_3.html",),
    }.get(kind, (URL,))
    sources = (Source("fuzz", URL + "?uid=4891275", kind),
               Source("fuzz", URL, kind, selectors=Selectors(item="li", date="span"), params={"per_page": "20"}))

    def call(data: bytes) -> None:
        text = text_of(data)
        for url in urls:
            for source in sources:
                try:
                    page = adapter.parse(text, url, source)
                except ParseError:
                    continue
                check_list_page(page)

    seeds = _files((PAGES / family, "*"), (PAGES, "*/*"), (DEMO, "*.html"))  # its own family's pages first
    return Target(f"list-{kind}", call, (ParseError,), seeds)


def _detail_seeds() -> tuple[Path, ...]:
    return _files((PAGES / "detail", "*.html"), (DEMO, "site/**/*.html"), (CORPUS / "entities", "*.html"),
                  (PAGES / "static", "*.html"))


@lru_cache(maxsize=1)
def knowledge() -> Any:
    from config.programs import default_registry
    from config.regions import load_regions
    from scraper.analyse import Knowledge

    return Knowledge(default_registry(), load_regions())


def _program_keys() -> frozenset[str]:
    return frozenset(p.key for p in knowledge().registry)


def call_decode(data: bytes) -> None:
    from scraper.decode import decode

    for content_type in (None, "text/html; charset=gb2312", "text/html; charset=ISO-8859-1", "text/xml; charset=utf-16",
                         "text/html; charset=idna", "text/html; charset=x-unknown"):
        text, codec = decode(data, content_type)
        expect(isinstance(text, str) and isinstance(codec, str), "decode returned no (str, str)", (text, codec))
        expect(not re.search("[\ud800-\udfff]", text), "decode returned lone surrogates", codec)


def call_detail(data: bytes) -> None:
    from scraper.parse import parse_detail

    check_detail(parse_detail(text_of(data), URL), URL)


def call_tables(data: bytes) -> None:
    from scraper.parse.tables import tables

    for t in tables(text_of(data)):
        check_table(t)


def call_entities(data: bytes) -> None:
    """The text as body lines, as ``|``/tab separated rows, and as HTML tables."""
    from scraper import entities
    from scraper.parse.tables import tables

    text, regions = text_of(data), knowledge().regions
    rows = [tuple(re.split(r"\t| \| ", line)) for line in text.splitlines()[:400]]
    width = max((len(r) for r in rows), default=0)
    grid = tuple(r + ("",) * (width - len(r)) for r in rows)
    for role in ("new", "review_passed"):
        check_entities(entities.from_lines(text, regions=regions, role=role))
        check_entities(entities.from_tables((grid,), regions=regions, role=role))
        check_entities(entities.from_tables(tables(text), regions=regions, role=role))
    entities.stated_count(text)


def call_analyse(data: bytes) -> None:
    """The ``extract`` path without the network: detail page -> announcement -> analysis -> events -> JSON."""
    from scraper import analyse, diff, extractor, understand
    from scraper.archive import Archive
    from scraper.models import ListItem
    from scraper.parse import parse_detail

    text, k = text_of(data), knowledge()
    detail = parse_detail(text, URL)
    a = diff.announcement("fuzz", "k", ListItem(URL, detail.title or "fuzz"), detail)
    u, _ = analyse.analyse(a, detail, [], Archive(Path(tempfile.gettempdir()) / "clusterwatch-fuzz-unused"), k)
    check_classification(u.classification, _program_keys())
    check_entities(u.entities)
    names = [(e.name, e.role) for e in u.entities]
    expect(len(names) == len(set(names)), "analyse repeats an entity", names)
    for event in understand.events_for(a, u, None):
        json.dumps(event.payload, ensure_ascii=False)
    json.dumps(extractor._report(URL, text, [], None, k), ensure_ascii=False)


def call_classify(data: bytes) -> None:
    from scraper import entities
    from scraper.classify import classify, extract_core_areas
    from scraper.text import clean
    from scraper.titles import normalise, normalise_title, places

    text, keys, registry = data.decode("utf-8", "replace"), _program_keys(), knowledge().registry
    title, _, body = text.partition("\n")
    for t, b in ((text, None), (title, body or None), (title[:200], text)):
        check_classification(classify(t, b, registry), keys)
    for f, name in ((normalise, "normalise"), (normalise_title, "normalise_title"), (clean, "clean"),
                    (entities.normalise_name, "entities.normalise_name")):
        idempotent(f, text, name)
    places(normalise(text))
    extract_core_areas(text)
    expect(entities.role_of(text) in ("new", "review_passed", "renamed", "review_failed", "removed"), "role_of")


def call_numbers(data: bytes) -> None:
    from scraper import cnnum
    from scraper.parse.dates import find_date
    from scraper.parse.feed import feed_date
    from scraper.parse.miit import epoch_date

    text = data.decode("utf-8", "replace")
    for f in (cnnum.cn_to_int, cnnum.to_int, cnnum.cn_year):  # documented: ValueError for what is no number
        try:
            expect(isinstance(f(text), int), f"{f.__name__} returned a non-int")
        except ValueError:
            pass
    for g in (cnnum.en_number, cnnum.en_ordinal):
        value = g(text)
        expect(value is None or isinstance(value, int), f"{g.__name__} returned a non-int")
    for h in (find_date, feed_date, epoch_date):
        iso = h(text)
        expect(iso is None or ISO_DATE.match(iso), f"{h.__name__} returned a non-ISO date", iso)


def call_attachments(data: bytes) -> None:
    from scraper.attachments import read_tables

    for name in ("file.xlsx", "file.xls"):
        for t in read_tables(data, name):
            check_table(t)


@lru_cache(maxsize=1)
def targets() -> dict[str, Target]:
    """Every target by name (imports the scraper on first use, so atheris can instrument it)."""
    from scraper.attachments import AttachmentError
    from scraper.errors import ParseError
    from scraper.parse import ADAPTERS

    pages = _files((PAGES, "*/*"), (DEMO, "*.html"))
    out = [Target("decode", call_decode, (), pages)]
    out += [_lists(kind) for kind in sorted(ADAPTERS)]
    out += [Target("detail", call_detail, (ParseError,), _detail_seeds()),
            Target("tables", call_tables, (), _detail_seeds()),
            Target("entities", call_entities, (), _detail_seeds()),
            Target("analyse", call_analyse, (ParseError,), _detail_seeds()),
            Target("classify", call_classify, (), ()),  # seeds: titles (seed_inputs)
            Target("numbers", call_numbers, (), ()),
            Target("attachments", call_attachments, (AttachmentError,),
                   _files((CORPUS / "entities", "*.*"), (CORPUS / "entities" / "hostile", "*")))]
    if os.environ.get("CLUSTERWATCH_FUZZ_PLANTED"):  # tests/test_fuzz.py: proves a native crash is recorded
        out.append(Target("planted-crash", _planted_crash, (), ()))
    return {t.name: t for t in out}


def _planted_crash(data: bytes) -> None:
    if len(data) > 2:
        os.kill(os.getpid(), signal.SIGSEGV)


@lru_cache(maxsize=None)
def seed_inputs(name: str) -> tuple[bytes, ...]:
    """The seed inputs of a target: its fixture files, or titles from the classifier corpus."""
    t = targets()[name]
    if name in ("classify", "numbers"):
        lines = (CORPUS / "titles.jsonl").read_text(encoding="utf-8").splitlines()
        titles = [json.loads(line)["title"] for line in lines if line.strip()]
        extra = ["第二〇二三批", "十一", "一百零五", "二〇二三", "twenty-first", "2026年11月30日", "二〇二六年十一月三十日",
                 "Fri, 31 Dec 9999 23:59:59 -1200", "0001-01-01T00:00:00+14:00", "1700000000000"]
        return tuple(title.encode() for title in titles + extra)
    return tuple(p.read_bytes() for p in t.seeds)


# ---------------------------------------------------------------------- one call, shrinking


@dataclasses.dataclass(frozen=True)
class Failure:
    signature: str  # what went wrong and where: one per distinct bug
    report: str  # the traceback or broken rule, for the reproducer's .txt

    @property
    def id(self) -> str:
        return hashlib.sha256(self.signature.encode()).hexdigest()[:12]


def _where(tb: Any) -> str:
    """The innermost frame in our own code (else the innermost frame) as ``path:line``."""
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if f.filename.startswith(str(ROOT)) and "/tests/" not in f.filename]
    if not frames:
        return "?"
    f = (ours or frames)[-1]
    name = Path(f.filename).relative_to(ROOT) if f.filename.startswith(str(ROOT)) else f.filename
    return f"{name}:{f.lineno}"


def run_one(target: Target, data: bytes, limit: float = 5.0) -> Failure | None:
    """Call the target once; a Failure for anything but a result or an allowed error within ``limit``."""
    start = time.perf_counter()
    try:
        with time_limit(limit):
            target.call(data)
    except KeyboardInterrupt:
        raise
    except Hang as e:
        return Failure(f"{target.name}: hang in {_where(e.__traceback__)}", "".join(traceback.format_exception(e)))
    except Broken as e:
        return Failure(f"{target.name}: broken invariant: {e.args[0]}", f"{e.args[0]}\n{e.args[1:]!r}\n"
                       + "".join(traceback.format_exception(e)))
    except target.allowed:
        pass
    except BaseException as e:  # noqa: BLE001 -- every other exception is the finding
        return Failure(f"{target.name}: {type(e).__name__} in {_where(e.__traceback__)}",
                       "".join(traceback.format_exception(e)))
    wall = time.perf_counter() - start
    if wall > 3 * limit:
        return Failure(f"{target.name}: slow ({wall:.0f} s wall clock)", f"{wall:.1f} s for {len(data)} bytes")
    return None


def shrink(target: Target, data: bytes, signature: str, seconds: float = 30.0, limit: float = 5.0) -> bytes:
    """Delete chunks (halving their size) while the same failure still happens."""
    stop = time.monotonic() + seconds
    chunk = max(len(data) // 2, 1)
    while time.monotonic() < stop:
        i, shrunk = 0, False
        while i < len(data) and time.monotonic() < stop:
            candidate = data[:i] + data[i + chunk:]
            failure = run_one(target, candidate, limit)
            if failure is not None and failure.signature == signature:
                data, shrunk = candidate, True
            else:
                i += chunk
        if chunk == 1 and not shrunk:
            break
        chunk = max(chunk // 2, 1) if not shrunk else chunk
    return data


# ---------------------------------------------------------------------- Hypothesis strategies

_CJK = "第批年度省市县区级名单公示公布关于的通知复核专精特新小巨人集群企业公司序号所在地（）：、一二三四五六七八九十〇零两首《》“”"
_WORDS = ("<html>", "<body>", "<table>", "<tr>", "<td>", "</td>", "</tr>", "</table>", "<p>", "</p>", "<br>", "\n",
          '<a href="/art/1.html">', "</a>", "<li>", "</li>", '<span class="date">', "</span>", "2026-11-30", "2026年",
          "二〇二三年", "第二批", "第十一批", "第〇批", "首批", "国家级", "省级", "关于", "公布", "公示", "拟认定", "名单",
          "的通知", "专精特新", "中小企业", "特色产业集群", "小巨人", "复核", "撤销", "绩效评价", "嘉兴市", "平湖市",
          "浙江省", "工业和信息化部", "序号", "企业名称", "集群名称", "所在地", "|", "\t", "1、", "2.", "（3）", "有限公司",
          "核心区", "协同区", "（共5家）", "等4个", "共计", "附件1：", ".pdf", "_1 (1)", " ", "　", "\xa0", '"', "“", "”",
          "2024 first batch", "was selected as the core area for", "Pinghu City", " and ", "MIIT", "batch No. 3")


def _mutate(data: bytes, edits: list[tuple[str, float, int, bytes]]) -> bytes:
    for op, at, size, blob in edits:
        i = int(at * (len(data) + 1))
        if op == "flip" and data:
            i %= len(data)
            data = data[:i] + bytes([data[i] ^ (size % 255 + 1)]) + data[i + 1:]
        elif op == "truncate":
            data = data[:i]
        elif op == "delete":
            data = data[:i] + data[i + size:]
        elif op == "duplicate":
            data = data[:i] + data[i:i + size] * 2 + data[i + size:]
        elif op == "insert":
            data = data[:i] + blob + data[i:]
    return data


def inputs(name: str, size: int = 2048) -> Any:
    """Hypothesis strategy of inputs for a target: bytes, text (CJK, controls, no surrogates), token soups
    and mutated seeds (byte flips, truncation, deleted and duplicated slices, hostile snippets)."""
    from hypothesis import strategies as st

    chars = st.characters(exclude_categories=("Cs",)) | st.sampled_from(_CJK + "\x00\x1b\t\r\n\u3000\u200b\ufeff")
    texts = st.text(chars, max_size=size // 4).map(lambda s: s.encode("utf-8"))
    soups = st.lists(st.sampled_from(_WORDS) | st.sampled_from(HOSTILE).map(lambda b: b.decode("utf-8", "replace")),
                     max_size=60).map(lambda xs: "".join(xs).encode("utf-8"))
    blob = st.sampled_from(HOSTILE) | st.sampled_from(HUGE) | st.binary(max_size=64) | texts
    edit = st.tuples(st.sampled_from(("flip", "flip", "truncate", "delete", "duplicate", "insert", "insert", "insert")),
                     st.floats(0, 1, exclude_max=True), st.integers(1, 4096), blob)
    parts = [st.binary(max_size=size), texts, soups]
    seeds = seed_inputs(name)
    if seeds:
        mutated = st.builds(_mutate, st.sampled_from(seeds), st.lists(edit, min_size=1, max_size=4))
        parts += [mutated, mutated]
    return st.one_of(*parts)


# ---------------------------------------------------------------------- long sessions: workers


class _Recorder:
    """A worker's findings and counts, written as it goes (a native crash loses nothing recorded)."""

    def __init__(self, folder: Path, target: str, engine: str) -> None:
        self.folder, self.target, self.engine = folder, target, engine
        folder.mkdir(parents=True, exist_ok=True)
        self.examples, self.started, self.saved = 0, time.monotonic(), 0.0
        self.findings: dict[str, dict[str, Any]] = {}
        self._current = os.open(folder / "current.bin", os.O_RDWR | os.O_CREAT, 0o600)

    def current(self, data: bytes) -> None:
        """The input about to run, so the parent can save it if the worker dies natively."""
        os.ftruncate(self._current, 0)
        os.pwrite(self._current, data, 0)

    def count(self, data: bytes, failure: Failure | None) -> None:
        self.examples += 1
        if failure is not None:
            seen = self.findings.setdefault(failure.id, {"signature": failure.signature, "count": 0, "size": None})
            seen["count"] += 1
            if seen["size"] is None or len(data) < seen["size"]:
                seen["size"] = len(data)
                (self.folder / f"{failure.id}.bin").write_bytes(data)
                report = f"{failure.signature}\n\n{failure.report}"
                (self.folder / f"{failure.id}.txt").write_text(report, encoding="utf-8")
        if failure is not None or time.monotonic() - self.saved > 2:
            self.save()

    def save(self) -> None:
        self.saved = time.monotonic()
        stats = {"target": self.target, "engine": self.engine, "examples": self.examples,
                 "seconds": round(self.saved - self.started, 1), "findings": self.findings}
        tmp = self.folder / "stats.json.tmp"
        tmp.write_text(json.dumps(stats, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.folder / "stats.json")


def _worker_hypothesis(target: Target, seconds: float, seed: int, rec: _Recorder, limit: float, size: int) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    stop = time.monotonic() + seconds
    strategy = inputs(target.name, size)
    batch = 0
    while time.monotonic() < stop:
        @hseed(seed * 1_000_003 + batch)
        @settings(max_examples=500, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def run(data: bytes) -> None:
            if time.monotonic() < stop:
                rec.current(data)
                rec.count(data, run_one(target, data, limit))

        run()
        batch += 1


def _worker_atheris(target: Target, seconds: float, seed: int, rec: _Recorder, limit: float, size: int) -> None:
    import atheris

    corpus = rec.folder / "corpus"
    if not corpus.exists():
        corpus.mkdir()
        for i, data in enumerate(seed_inputs(target.name)):
            (corpus / f"seed-{i}").write_bytes(data[:size])
    tokens = rec.folder / "tokens.dict"
    tokens.write_text("".join('"' + "".join(f"\\x{b:02x}" for b in t[:120]) + '"\n' for t in HOSTILE), encoding="ascii")

    def one(data: bytes) -> None:
        rec.count(data, run_one(target, data, limit))

    args = [sys.argv[0], str(corpus), f"-max_total_time={max(int(seconds), 1)}", f"-seed={seed}", f"-max_len={size}",
            f"-timeout={int(limit * 4) + 1}", "-rss_limit_mb=3072", f"-dict={tokens}",
            f"-artifact_prefix={rec.folder}/", "-print_final_stats=1"]
    atheris.Setup(args, one)
    atheris.Fuzz()


def worker(args: argparse.Namespace) -> None:
    """One target in this process: the stress inputs, then the engine until ``--seconds`` are used."""
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    rec = _Recorder(Path(args.out) / args.target, args.target, args.engine)
    if args.engine == "atheris":
        import atheris

        with atheris.instrument_imports(include=["scraper", "config", "defusedxml"]):
            target = targets()[args.target]
    else:
        target = targets()[args.target]
    started = time.monotonic()
    try:
        for data in STRESS.values():
            rec.current(data)
            rec.count(data, run_one(target, data, min(args.limit, STRESS_LIMIT)))
        left = args.seconds - (time.monotonic() - started)
        engine = _worker_atheris if args.engine == "atheris" else _worker_hypothesis
        engine(target, left, args.seed, rec, args.limit, args.max_len)
    finally:
        rec.save()


# ---------------------------------------------------------------------- long sessions: the parent


@dataclasses.dataclass
class _Job:
    target: str
    seconds: float
    restarts: int = 0
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    used: float = 0.0
    examples: int = 0
    crashes: list[str] = dataclasses.field(default_factory=list)


def _start(job: _Job, args: argparse.Namespace, engine: str) -> None:
    folder = Path(args.out) / job.target
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "tests.fuzz", "--worker", "--target", job.target, "--engine", engine,
           "--seconds", f"{job.seconds - job.used:.0f}", "--seed", str(args.seed + job.restarts), "--out", args.out,
           "--limit", str(args.limit), "--max-len", str(args.max_len)]
    log = open(folder / f"worker-{job.restarts}.log", "wb")  # noqa: SIM115 -- closed with the process
    job.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    job.started = time.monotonic()


def _finished(job: _Job, args: argparse.Namespace) -> bool:
    """Collect a worker that exited; True when the job is done (else it is restarted after a crash)."""
    assert job.proc is not None
    code = job.proc.returncode
    folder = Path(args.out) / job.target
    job.used += time.monotonic() - job.started
    stats = _stats(folder)
    log = (folder / f"worker-{job.restarts}.log").read_text(encoding="utf-8", errors="replace")
    ran = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    job.examples += max(int(ran[-1]) if ran else 0, stats.get("examples", 0))
    if code not in (0, None):
        crash = sorted(folder.glob("crash-*")) + sorted(folder.glob("timeout-*")) + sorted(folder.glob("oom-*"))
        saved = folder / f"native-{job.restarts}.bin"
        source = crash[-1] if crash else folder / "current.bin"
        if source.exists():
            saved.write_bytes(source.read_bytes())
        job.crashes.append(f"worker exited with {code} ({_cause(log)}); input {saved}")
        job.restarts += 1
        return job.seconds - job.used < 5 or job.restarts > 3
    return True


def _cause(log: str) -> str:
    m = re.search(r"==\d+== ERROR: libFuzzer: ([^\n]+)|(Fatal Python error: [^\n]+)|(Segmentation fault)", log)
    return next((g for g in m.groups() if g), "") if m else "see the worker log"


def _stats(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def session(args: argparse.Namespace) -> int:
    """Run the workers (``--jobs`` at a time), shrink what they found, print the summary; 1 if anything was found."""
    names = [args.target] if args.target else list(targets())
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if importlib.util.find_spec("atheris") else "hypothesis"
    total = args.minutes * 60
    jobs = [_Job(n, max(total * args.jobs / len(names), 1)) for n in names]
    print(f"fuzzing {len(names)} targets with {engine}, {args.jobs} at a time, {total / 60:g} min; "
          f"findings in {args.out}")
    waiting, running = list(jobs), []
    while waiting or running:
        while waiting and len(running) < args.jobs:
            job = waiting.pop(0)
            _start(job, args, engine)
            running.append(job)
        time.sleep(0.5)
        for job in [j for j in running if j.proc is not None and j.proc.poll() is not None]:
            running.remove(job)
            if not _finished(job, args):
                waiting.insert(0, job)
    return _summary(jobs, args, engine)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Send file descriptors 1 and 2 to /dev/null (libraries that print bypass sys.stdout)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def _summary(jobs: list[_Job], args: argparse.Namespace, engine: str) -> int:
    found = 0
    print(f"\n{'target':<22} {'examples':>10} {'seconds':>8}  findings")
    for job in jobs:
        folder = Path(args.out) / job.target
        stats = _stats(folder)
        findings = stats.get("findings", {})
        print(f"{job.target:<22} {job.examples:>10} {job.used:>8.0f}  {len(findings) + len(job.crashes)}")
        for fid, f in findings.items():
            found += 1
            path = folder / f"{fid}.bin"
            with _quiet():  # xlrd and pdfminer print their complaints about broken files
                small = shrink(targets()[job.target], path.read_bytes(), f["signature"], args.shrink, args.limit)
            (folder / f"{fid}.min.bin").write_bytes(small)
            print(f"    {f['signature']}  x{f['count']}\n"
                  f"        reproducer ({len(small)} bytes): {folder / f'{fid}.min.bin'}\n        {small[:160]!r}")
        for crash in job.crashes:
            found += 1
            print(f"    native crash: {crash}")
    print(f"\n{sum(j.examples for j in jobs)} examples, {found} findings ({engine})")
    return 1 if found else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock length of the whole session")
    p.add_argument("--target", help="only this target (see --list)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for findings and worker logs (default: a new temporary folder)")
    p.add_argument("--engine", choices=("auto", "atheris", "hypothesis"), default="auto")
    p.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 2), help="workers at a time")
    p.add_argument("--limit", type=float, default=10.0, help="CPU seconds one call may take")
    p.add_argument("--max-len", type=int, default=65536, help="largest input, in bytes")
    p.add_argument("--shrink", type=float, default=30.0, help="seconds spent shrinking each finding")
    p.add_argument("--list", action="store_true", help="list the targets and exit")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.list:
        for t in targets().values():
            allowed = ", ".join(e.__name__ for e in t.allowed) or "-"
            print(f"{t.name:<22} {len(seed_inputs(t.name)):>4} seeds  allowed: {allowed}")
        return 0
    if args.worker:  # before anything imports the scraper: atheris instruments it on import
        worker(args)
        return 0
    if args.target and args.target not in targets():
        p.error(f"unknown target {args.target!r} (known: {', '.join(targets())})")
    args.out = args.out or tempfile.mkdtemp(prefix="clusterwatch-fuzz-")
    return session(args)


if __name__ == "__main__":
    sys.exit(main())
