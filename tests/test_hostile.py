"""Hostile input, end to end: every fixture is served by a real server on 127.0.0.1 and goes through the
real pipeline (``scraper.runner.run_once``) or the real command line.

In every case clusterwatch keeps running, stores what is valid, records a clear error naming the URL or
attachment and the problem, and loses nothing: the announcement and its other attachments are stored,
events and deliveries are intact, and the next check still works.

The SSRF cases (a redirect to 127.0.0.1, a detail link to 10.0.0.1) live in tests/test_netguard.py.
"""

from __future__ import annotations

import asyncio
import gzip
import html
import importlib
import io
import json
import logging
import os
import re
import socket
import threading
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

import config
from db import Database, open_db
from db.store import counts
from scraper.runner import OnceReport, run_once
from tests.conftest import LOOPBACK_ALLOW
from tests.servers.http import FixtureServer, Resp

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "entities"
HOSTILE_FILES = CORPUS / "hostile"
GOOD_XLSX = (CORPUS / "new_firms.xlsx").read_bytes()  # six firms; the first is in 平湖市, 嘉兴市
GOOD_FIRM = "嘉兴博创智能传感科技有限公司"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

LIST = "/col/col1229399350/index.html"
OLD = ("/art/2026/9/16/art_1229399350_5503118.html", "关于印发《嘉兴市制造业数字化转型行动方案》的通知", "2026-09-16")
NEW = ("/art/2026/11/30/art_1229399350_5512001.html", "关于公布2026年浙江省专精特新中小企业名单的通知", "2026-11-30")
SECOND = ("/art/2026/11/29/art_1229399350_5512000.html", "关于公布2026年嘉兴市小微企业园名单的通知", "2026-11-29")


# --- pages and config ------------------------------------------------------------------------------------


def list_html(items: list[tuple[str, str, str]]) -> str:
    """A Hanweb-style list; titles go into a quoted attribute and the link text, escaped as HTML."""
    lis = "\n".join(f'<li><a href="{html.escape(href)}" title="{html.escape(title)}">{html.escape(title)}</a>'
                    f'<span class="date">{date}</span></li>' for href, title, date in items)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>通知公告</title></head><body>'
            f'<ul class="news-list">\n{lis}\n</ul><div class="page">共{len(items)}条</div></body></html>')


def detail_html(title: str, date: str, links: Sequence[tuple[str, str]] = ()) -> str:
    """A detail page with meta tags, a short body and ``links`` (href, link text) as attachments."""
    t = html.escape(title)
    anchors = "".join(f'<p><a href="{html.escape(href)}">{html.escape(text)}</a></p>' for href, text in links)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="ArticleTitle" content="{t}">'
            f'<meta name="PubDate" content="{date} 09:30"><meta name="ContentSource" content="浙江省经济和信息化厅">'
            f'<title>{t}</title></head><body><h1>{t}</h1><div id="zoom">'
            f'<p>各市、县（市、区）经信局：经企业申报、地方推荐、专家评审，现将名单予以公布。</p>'
            f'{anchors}</div></body></html>')


def settings_for(tmp_path: Path, sources: list[tuple[str, str]], *, politeness: str = "", attachments: str = "",
                 channels: str = "", top: str = "") -> config.Settings:
    """A config whose sources (name, list URL) alert on their first check (``baseline = "alert"``), so
    one ``run --once`` follows new items to their detail pages and attachments."""
    srcs = "".join(f'[[sources]]\nname = "{name}"\nurl = "{url}"\nbaseline = "alert"\n'
                   f'[sources.selectors]\nitem = "ul.news-list > li"\ndate = "span.date"\n' for name, url in sources)
    text = (f'database = "cw.db"\n{LOOPBACK_ALLOW}{top}\n[politeness]\ndelay = 0\nretries = 0\ntimeout = 5\n{politeness}\n'
            f'[attachments]\n{attachments}\n{srcs}'
            f'[[subscribers]]\nname = "desk"\n[[subscribers.channels]]\nkind = "console"\n{channels}')
    path = tmp_path / "cw.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, environ=dict(os.environ))


def once(settings: config.Settings, db: Database, **kw: Any) -> OnceReport:
    return asyncio.run(run_once(settings, db, force=True, **kw))


def announcement(db: Database, path: str) -> dict[str, Any]:
    row = db.execute("select key, title, detail_error, count_found from announcements where url like ?",
                     [f"%{path}"]).fetchone()
    assert row is not None, f"{path} was not stored"
    return dict(zip(("key", "title", "detail_error", "count_found"), row))


def files(db: Database, key: str) -> dict[str, dict[str, Any]]:
    """The attachments rows of one announcement, by link text."""
    cols = ("url", "text", "sha256", "bytes", "error", "parse_error", "entities")
    rows = db.execute(f"select {', '.join(cols)} from attachments where announcement_key = ?", [key]).fetchall()
    return {r[1]: dict(zip(cols, r)) for r in rows}


def news_delivered(db: Database) -> list[str]:
    """Titles of announcement.new events whose deliveries were all sent."""
    rows = db.execute("select json_extract(e.payload, '$.title'), min(d.status = 'sent') from events e "
                      "join deliveries d on d.event_key = e.key where e.type = 'announcement.new' "
                      "group by e.key").fetchall()
    return sorted(t for t, ok in rows if ok)


def still_works(settings: config.Settings, db: Database, site: FixtureServer, items: list[tuple[str, str, str]]) -> None:
    """The next check: nothing is lost or sent twice, and one more new item alerts exactly once."""
    before = counts(db)
    (r, *_) = once(settings, db, only=["jxj"]).results
    assert (r.outcome, r.new) == ("unchanged", 0), r
    assert counts(db)["deliveries"] == before["deliveries"]
    later = ("/art/2026/12/1/art_1229399350_5512999.html", "关于公布2026年嘉兴市数字工厂名单的通知", "2026-12-01")
    site.routes[LIST] = Resp(200, list_html([later, *items]))
    site.routes[later[0]] = Resp(200, detail_html(later[1], later[2]))
    report = once(settings, db, only=["jxj"])
    assert (report.results[0].outcome, report.results[0].new) == ("new", 1)
    assert later[1] in news_delivered(db)
    assert db.execute("select count(*) from deliveries where status != 'sent'").fetchone()[0] == 0


def warm(*modules: str) -> None:
    """Import what a check imports lazily, so that tracemalloc measures the check, not an import."""
    for m in modules:
        importlib.import_module(m)


def serve_items(site: FixtureServer, pages: dict[tuple[str, str, str], Resp | list[Resp]]) -> list[tuple[str, str, str]]:
    """List ``pages``' items (plus an old one) and serve each item's detail page."""
    items = [*pages, OLD]
    site.routes[LIST] = Resp(200, list_html(items))
    site.routes[OLD[0]] = Resp(200, detail_html(OLD[1], OLD[2]))
    for item, resp in pages.items():
        site.routes[item[0]] = resp
    return items


# --- 1. HTTP: bombs, odd encodings, header floods, redirects, slowloris -----------------------------------


def test_gzip_bombs_as_detail_page_and_attachment_stay_within_a_few_mb(tmp_path: Path, site: FixtureServer) -> None:
    bomb = gzip.compress(b"<html><body>" + b"\0" * 32 * 1024 * 1024, compresslevel=9)  # 32 MB in 32 KB
    assert len(bomb) < 50_000
    cap = 1_000_000
    site.routes["/files/bomb.xlsx"] = Resp(200, bomb, headers={"Content-Encoding": "gzip"}, content_type=XLSX_TYPE)
    site.routes["/files/good.xlsx"] = Resp(200, GOOD_XLSX, content_type=XLSX_TYPE)
    items = serve_items(site, {
        NEW: Resp(200, bomb, headers={"Content-Encoding": "gzip"}),
        SECOND: Resp(200, detail_html(SECOND[1], SECOND[2], [("/files/bomb.xlsx", "附件1：炸弹.xlsx"),
                                                             ("/files/good.xlsx", "附件2：名单.xlsx")])),
    })
    settings = settings_for(tmp_path, [("jxj", site.url(LIST))], politeness=f"max_bytes = {cap}",
                            attachments=f"max_bytes = {cap}")
    db = open_db(settings.database)
    warm("openpyxl")
    tracemalloc.start()
    try:
        (r,) = once(settings, db).results
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a {len(bomb)}-byte bomb of 32 MB"
    assert (r.outcome, r.new) == ("baseline", 3)
    a = announcement(db, NEW[0])  # stored and alerted with its list entry
    assert a["title"] == NEW[1]
    assert a["detail_error"] == f"{site.url(NEW[0])}: body larger than {cap} bytes after decompression"
    b = announcement(db, SECOND[0])
    got = files(db, b["key"])
    assert got["附件1：炸弹.xlsx"]["error"] == \
        f"{site.url('/files/bomb.xlsx')}: body larger than {cap} bytes after decompression"
    assert got["附件1：炸弹.xlsx"]["sha256"] is None
    assert got["附件2：名单.xlsx"]["sha256"] and got["附件2：名单.xlsx"]["entities"] == 6
    assert news_delivered(db) == sorted([NEW[1], SECOND[1], OLD[1]])
    still_works(settings, db, site, items)


ODD_ENCODINGS = {  # Content-Encoding -> a body in it; we only ever ask for gzip
    "br": b"\x8b\x7f\x80" + b"\x00" * 64,  # what a brotli stream could look like: never decoded
    "deflate": zlib.compress(b"<html>" + b"\0" * 10_000_000),
    "zstd": b"\x28\xb5\x2f\xfd" + b"\x00" * 64,
    "gzip, br": gzip.compress(b"<html>x</html>"),
}


def test_an_encoding_we_did_not_ask_for_is_a_clear_error_never_decoded(tmp_path: Path, site: FixtureServer) -> None:
    pages: dict[tuple[str, str, str], Resp | list[Resp]] = {}
    links = [("/files/good.xlsx", "附件0.xlsx")]
    site.routes["/files/good.xlsx"] = Resp(200, GOOD_XLSX, content_type=XLSX_TYPE)
    for i, (encoding, body) in enumerate(ODD_ENCODINGS.items(), 1):
        item = (f"/art/2026/11/30/art_1229399350_551210{i}.html", f"关于公布2026年第{i}批嘉兴市数字工厂名单的通知", "2026-11-30")
        pages[item] = Resp(200, body, headers={"Content-Encoding": encoding})
        site.routes[f"/files/{i}.xlsx"] = Resp(200, body, headers={"Content-Encoding": encoding}, content_type=XLSX_TYPE)
        links.append((f"/files/{i}.xlsx", f"附件{i}.xlsx"))
    pages[SECOND] = Resp(200, detail_html(SECOND[1], SECOND[2], links))
    items = serve_items(site, pages)
    settings = settings_for(tmp_path, [("jxj", site.url(LIST))])
    db = open_db(settings.database)
    (r,) = once(settings, db).results
    assert (r.outcome, r.new) == ("baseline", 6)
    assert all(h.headers["accept-encoding"] == "gzip" for h in site.requests)  # all we ever ask for
    got = files(db, announcement(db, SECOND[0])["key"])
    for i, encoding in enumerate(ODD_ENCODINGS, 1):
        item = items[i - 1]
        problem = f"unsupported content-encoding {encoding!r}"
        assert announcement(db, item[0])["detail_error"] == f"{site.url(item[0])}: {problem}"
        assert got[f"附件{i}.xlsx"]["error"] == f"{site.url(f'/files/{i}.xlsx')}: {problem}"
    assert got["附件0.xlsx"]["entities"] == 6
    assert news_delivered(db) == sorted(t for _, t, _ in items)
    still_works(settings, db, site, items)


def test_header_floods_are_refused_by_size_and_bounded_by_count(tmp_path: Path, site: FixtureServer) -> None:
    huge = {"X-Padding": "a" * 200_000}  # one 200 KB header line
    many_small = {f"X-H{i:05d}": "v" for i in range(20_000)}  # 20,000 headers, ~260 KB
    many_ok = {f"X-H{i:04d}": "v" for i in range(2_000)}  # 2,000 headers, ~26 KB: within h11's cap, read as usual
    site.routes["/files/flood.xlsx"] = Resp(200, GOOD_XLSX, headers=huge, content_type=XLSX_TYPE)
    site.routes["/files/good.xlsx"] = Resp(200, GOOD_XLSX, headers=many_ok, content_type=XLSX_TYPE)
    third = ("/art/2026/11/28/art_1229399350_5511999.html", "关于公布2026年嘉兴市工业设计中心名单的通知", "2026-11-28")
    items = serve_items(site, {
        NEW: Resp(200, detail_html(NEW[1], NEW[2]), headers=huge),
        SECOND: Resp(200, detail_html(SECOND[1], SECOND[2], [("/files/flood.xlsx", "附件1.xlsx"),
                                                             ("/files/good.xlsx", "附件2.xlsx")]), headers=many_ok),
        third: Resp(200, detail_html(third[1], third[2]), headers=many_small),
    })
    settings = settings_for(tmp_path, [("jxj", site.url(LIST))])
    db = open_db(settings.database)
    t0 = time.monotonic()
    (r,) = once(settings, db).results
    assert time.monotonic() - t0 < 10
    assert (r.outcome, r.new) == ("baseline", 4)
    for item in (NEW, third):
        # h11 refuses a header block over httpcore's 100 KB, at once and for good (no retry)
        assert announcement(db, item[0])["detail_error"] == \
            f"{site.url(item[0])}: response headers larger than 100 KB"
    b = announcement(db, SECOND[0])
    assert b["detail_error"] is None and b["title"] == SECOND[1]  # 2,000 headers: an ordinary page
    got = files(db, b["key"])
    assert got["附件1.xlsx"]["error"] == f"{site.url('/files/flood.xlsx')}: response headers larger than 100 KB"
    assert got["附件2.xlsx"]["entities"] == 6
    assert news_delivered(db) == sorted([NEW[1], SECOND[1], third[1], OLD[1]])
    still_works(settings, db, site, items)


def test_too_many_redirects_and_a_redirect_loop_are_errors_for_that_page_only(tmp_path: Path, site: FixtureServer) -> None:
    for i in range(8):  # /hop/0 -> /hop/1 -> ... -> /hop/7 -> the page: 8 redirects
        site.routes[f"/hop/{i}"] = Resp(302, "", headers={"Location": f"/hop/{i + 1}" if i < 7 else NEW[0] + "?x"})
    site.routes["/loop/a.xlsx"] = Resp(301, "", headers={"Location": "/loop/b.xlsx"})
    site.routes["/loop/b.xlsx"] = Resp(301, "", headers={"Location": "/loop/a.xlsx"})
    site.routes["/files/good.xlsx"] = Resp(302, "", headers={"Location": "/files/real.xlsx"})  # one hop is fine
    site.routes["/files/real.xlsx"] = Resp(200, GOOD_XLSX, content_type=XLSX_TYPE)
    items = [("/hop/0", NEW[1], NEW[2]), SECOND, OLD]
    site.routes[LIST] = Resp(200, list_html(items))
    site.routes[NEW[0]] = Resp(200, detail_html(NEW[1], NEW[2]))
    site.routes[SECOND[0]] = Resp(200, detail_html(SECOND[1], SECOND[2], [("/loop/a.xlsx", "附件1.xlsx"),
                                                                          ("/files/good.xlsx", "附件2.xlsx")]))
    site.routes[OLD[0]] = Resp(200, detail_html(OLD[1], OLD[2]))
    settings = settings_for(tmp_path, [("jxj", site.url(LIST))])
    db = open_db(settings.database)
    (r,) = once(settings, db).results
    assert (r.outcome, r.new) == ("baseline", 3)
    assert announcement(db, "/hop/0")["detail_error"] == f"{site.url('/hop/0')}: more than 5 redirects"
    assert len(site.hits("/hop/5")) == 1 and site.hits("/hop/6") == []  # 6 requests, then it stopped
    got = files(db, announcement(db, SECOND[0])["key"])
    assert got["附件1.xlsx"]["error"] == f"{site.url('/loop/a.xlsx')}: more than 5 redirects"
    assert got["附件2.xlsx"]["entities"] == 6
    assert news_delivered(db) == sorted([NEW[1], SECOND[1], OLD[1]])
    still_works(settings, db, site, items)


class Slowloris:
    """A raw socket server on 127.0.0.1 that answers ``/robots.txt`` at once and every other request one
    byte every ``interval`` seconds: ``/headers/…`` trickles the status line and headers, ``/body/…``
    sends its headers at once, announcing a long body, and trickles the body."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.paths: list[str] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def url(self, path: str) -> str:
        return self.base + path

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
            except OSError:
                return
            path = head.split(b" ", 2)[1].decode()
            self.paths.append(path)
            if path == "/robots.txt":
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            if path.startswith("/headers/"):
                out = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Slow-%d: %s\r\n" % (i, b"z" * 40) for i in range(1000))
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
                out = b"<html><body>" + b"x" * 100_000
            for i in range(len(out)):
                if self.stop.wait(self.interval):
                    return
                try:
                    conn.sendall(out[i:i + 1])
                except OSError:  # the client hung up: what a deadline does
                    return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        for t in self.threads:
            t.join(timeout=2)


@pytest.fixture
def slowloris() -> Iterator[Slowloris]:
    server = Slowloris()
    yield server
    server.close()


def test_slowloris_is_cut_off_by_the_deadline_and_other_sources_go_on(
        tmp_path: Path, site: FixtureServer, slowloris: Slowloris) -> None:
    """A byte every 0.1 s never trips the 5 s read timeout; the 0.5 s per-fetch deadline cuts each fetch off:
    a list page trickling its headers, a detail page and an attachment trickling their bodies."""
    site.routes["/files/good.xlsx"] = Resp(200, GOOD_XLSX, content_type=XLSX_TYPE)
    items = serve_items(site, {
        NEW: Resp(200, detail_html(NEW[1], NEW[2], [(slowloris.url("/body/slow.xlsx"), "附件1.xlsx"),
                                                    ("/files/good.xlsx", "附件2.xlsx")])),
        ("/redirected", SECOND[1], SECOND[2]): Resp(302, "", headers={"Location": slowloris.url("/body/detail.html")}),
    })
    settings = settings_for(tmp_path, [("jxj", site.url(LIST)), ("slow", slowloris.url("/headers/list.html"))],
                            politeness="deadline = 0.5")
    db = open_db(settings.database)
    t0 = time.monotonic()
    report = once(settings, db)
    took = time.monotonic() - t0
    assert took < 4, f"the cycle took {took:.1f}s"
    results = {r.source: r for r in report.results}
    slow = results["slow"]
    assert slow.outcome == "error"
    assert slow.error == f"{slowloris.url('/headers/list.html')}: no complete answer within the 0.5s deadline"
    assert (results["jxj"].outcome, results["jxj"].new) == ("baseline", 3)
    a = announcement(db, NEW[0])
    assert a["detail_error"] is None
    got = files(db, a["key"])
    assert got["附件1.xlsx"]["error"] == f"{slowloris.url('/body/slow.xlsx')}: no complete answer within the 0.5s deadline"
    assert got["附件2.xlsx"]["entities"] == 6
    assert announcement(db, "/redirected")["detail_error"] == \
        f"{slowloris.url('/body/detail.html')}: no complete answer within the 0.5s deadline"  # the hop that stalled
    assert news_delivered(db) == sorted([NEW[1], SECOND[1], OLD[1]])
    state = db.execute("select consecutive_failures, last_error from sources where name = 'slow'").fetchone()
    assert state[0] == 1 and "deadline" in state[1]
    assert {"/headers/list.html", "/body/slow.xlsx", "/body/detail.html"} <= set(slowloris.paths)
    still_works(settings, db, site, items)


# --- 2. Office files and PDFs ----------------------------------------------------------------------------

SENTINEL = Path("/tmp/clusterwatch-xxe-sentinel.txt")  # the file hostile/xxe.docx pulls in
LAUGHS = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10))


def _docx(text: str = "PLACEHOLDER") -> bytes:
    from docx import Document

    buf = io.BytesIO()
    doc = Document()
    doc.add_paragraph(text)
    doc.save(buf)
    return buf.getvalue()


def _rezip(original: bytes, replace: dict[str, bytes], rename: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr((rename or {}).get(info.filename, info.filename), replace.get(info.filename, src.read(info.filename)))
    return out.getvalue()


def hostile_docx(dtd: str, body: str, *, encoding: str = "utf-8", main_part: str = "word/document.xml") -> bytes:
    """A .docx whose main part declares ``dtd`` and says ``body``, in ``encoding``, under ``main_part``
    (the package's relationships and content types follow it there)."""
    base = _docx()
    with zipfile.ZipFile(io.BytesIO(base)) as z:
        xml, rels, types = (z.read(n).decode() for n in ("word/document.xml", "_rels/.rels", "[Content_Types].xml"))
    head, rest = xml.split("?>", 1)
    xml = re.sub(r"encoding=['\"]UTF-8['\"]", f'encoding="{encoding.upper()}"', head) + \
        f"?>\n<!DOCTYPE w:document [{dtd}]>" + rest.replace("PLACEHOLDER", body)
    data = xml.encode(encoding)
    if encoding == "utf-7":  # "<!" written the other UTF-7 way, which libxml2 reads just the same
        data = data.replace(b"<!", b"+ADwAIQ-")
    moved = main_part != "word/document.xml"
    return _rezip(base, {"word/document.xml": data,
                         "_rels/.rels": rels.replace("word/document.xml", main_part).encode(),
                         "[Content_Types].xml": types.replace("/word/document.xml", "/" + main_part).encode()},
                  {"word/document.xml": main_part} if moved else None)


def many_member_zip(members: int, name_length: int = 0) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        for i in range(members):
            z.writestr(f"xl/m/{i}".ljust(name_length, "x"), b"")
    return buf.getvalue()


def pdf(pages: int = 1, *, text: bytes = b"1 Test Co", padding: int = 0, encoded: tuple[bytes, bytes] | None = None) -> bytes:
    """A valid PDF of ``pages`` pages sharing one Flate content stream (``padding`` spaces long), or
    ``encoded`` = (filter name, stream bytes)."""
    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET\n" + b" " * padding, 9)
    name, content = encoded or (b"/FlateDecode", content)
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(pages))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Length %d /Filter %s >>\nstream\n" % (len(content), name) + content + b"\nendstream"]
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
             b"/Resources << /Font << /F1 3 0 R >> >> >>"] * pages
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def all_text(db: Database) -> str:
    """Every text value in every table of the database."""
    tables = [r[0] for r in db.execute("select name from sqlite_master where type = 'table'")]
    return "\n".join(str(v) for t in tables for row in db.execute(f'select * from "{t}"') for v in row
                     if isinstance(v, str))


@pytest.fixture
def sentinel() -> Iterator[str]:
    secret = "SENTINEL-" + os.urandom(8).hex()
    SENTINEL.write_text(secret, encoding="utf-8")
    yield secret
    SENTINEL.unlink(missing_ok=True)


def test_hostile_office_files_each_get_their_own_error_beside_a_good_one(
        tmp_path: Path, site: FixtureServer, sentinel: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    xxe = f'<!ENTITY xxe SYSTEM "file://{SENTINEL}">'
    served = {
        "附件1：压缩炸弹.xlsx": (HOSTILE_FILES / "bomb.xlsx").read_bytes(),  # 200 MB of zeros in 200 KB
        "附件2：亿笑.docx": hostile_docx(LAUGHS, "&lol9;"),
        "附件3：亿笑UTF16.docx": hostile_docx(LAUGHS, "&lol9;", encoding="utf-16"),
        "附件4：外部实体.docx": (HOSTILE_FILES / "xxe.docx").read_bytes(),
        "附件5：改名.docx": hostile_docx(xxe, "1.&xxe;有限公司", main_part="word/body.bin"),
        "附件6：UTF7.docx": hostile_docx(LAUGHS, "&lol9;", encoding="utf-7"),
        "附件7：目录炸弹.xlsx": many_member_zip(5000),
        "附件8：名单.xlsx": GOOD_XLSX,
    }
    links = []
    for i, (text, data) in enumerate(served.items(), 1):
        site.routes[f"/files/{i}{Path(text).suffix}"] = Resp(200, data, content_type="application/octet-stream")
        links.append((f"/files/{i}{Path(text).suffix}", text))
    items = serve_items(site, {NEW: Resp(200, detail_html(NEW[1], NEW[2], links))})
    settings = settings_for(tmp_path, [("jxj", site.url(LIST))])
    db = open_db(settings.database)
    opened: list[int] = []  # zipfile.ZipFile is never built for a zip whose directory is over the caps
    real_zipfile = zipfile.ZipFile

    def spy(file: Any, *args: Any, **kwargs: Any) -> zipfile.ZipFile:
        opened.append(len(file.getbuffer()) if isinstance(file, io.BytesIO) else -1)
        return real_zipfile(file, *args, **kwargs)

    monkeypatch.setattr(zipfile, "ZipFile", spy)
    warm("docx", "openpyxl")
    tracemalloc.start()
    try:
        (r,) = once(settings, db).results
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert (r.outcome, r.new) == ("baseline", 2)
    a = announcement(db, NEW[0])
    assert a["detail_error"] is None and a["title"] == NEW[1]
    got = files(db, a["key"])
    assert set(got) == set(served)
    dtd = "declares a DTD or entities (refused: XXE / billion laughs)"
    expected = {
        "附件1：压缩炸弹.xlsx": "附件1：压缩炸弹.xlsx: zip unpacks to 209715504 bytes (cap 209715200)",
        "附件2：亿笑.docx": f"附件2：亿笑.docx: word/document.xml {dtd}",
        "附件3：亿笑UTF16.docx": f"附件3：亿笑UTF16.docx: word/document.xml {dtd}",
        "附件4：外部实体.docx": f"附件4：外部实体.docx: word/document.xml {dtd}",
        "附件5：改名.docx": f"附件5：改名.docx: word/body.bin {dtd}",
        "附件6：UTF7.docx": "附件6：UTF7.docx: word/document.xml declares the encoding 'utf-7' "
                          "(refused: its markup cannot be checked)",
        "附件7：目录炸弹.xlsx": "附件7：目录炸弹.xlsx: zip has 5001 members (cap 2000)",
    }
    for text, problem in expected.items():
        f = got[text]
        assert (f["parse_error"], f["error"], f["entities"]) == (problem, None, None), text
        assert f["sha256"] and f["bytes"] == len(served[text])  # downloaded and archived all the same
    assert len(served["附件7：目录炸弹.xlsx"]) not in opened
    good = got["附件8：名单.xlsx"]
    assert (good["parse_error"], good["entities"]) == (None, 6)
    assert db.execute("select count(*) from selections where announcement_key = ? and name = ?",
                      [a["key"], GOOD_FIRM]).fetchone()[0] == 1
    assert news_delivered(db) == sorted([NEW[1], OLD[1]])  # the announcement is alerted
    out = capsys.readouterr()
    assert sentinel not in all_text(db) + out.out + out.err  # no XXE read, anywhere
    still_works(settings, db, site, items)


def test_pdfs_are_read_within_their_page_and_inflate_caps(tmp_path: Path, site: FixtureServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import pdfplumber.page

    from scraper import attachments

    built: list[int] = []
    real_init = pdfplumber.page.Page.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(pdfplumber.page.Page, "__init__", counting_init)
    monkeypatch.setattr(attachments, "MAX_PAGES", 30)
    monkeypatch.setattr(attachments, "MAX_PDF_INFLATED", 4 * 1024 * 1024)
    many = pdf(5000)  # 5,000 pages of one line each, 0.8 MB
    bomb = pdf(text="嘉兴博创".encode("gbk").hex().encode(), padding=32 * 1024 * 1024)  # one page: 32 MB of spaces
    assert len(bomb) < 50_000
    for path, data in (("/files/many.pdf", many), ("/files/bomb.pdf", bomb), ("/files/good.xlsx", GOOD_XLSX)):
        site.routes[path] = Resp(200, data, content_type="application/octet-stream")
    items = serve_items(site, {NEW: Resp(200, detail_html(NEW[1], NEW[2], [
        ("/files/many.pdf", "附件1：五千页.pdf"), ("/files/bomb.pdf", "附件2：炸弹.pdf"), ("/files/good.xlsx", "附件3.xlsx")]))})
    settings = settings_for(tmp_path, [("jxj", site.url(LIST))])
    db = open_db(settings.database)
    warm("pdfplumber")
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        (r,) = once(settings, db).results
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - t0 < 15
    assert peak < 24 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert (r.outcome, r.new) == ("baseline", 2)
    got = files(db, announcement(db, NEW[0])["key"])
    assert got["附件1：五千页.pdf"]["parse_error"] is None
    assert len(built) == 30 + 1, f"{len(built)} pages built"  # 30 of the 5,000, and the bomb's one
    assert got["附件2：炸弹.pdf"]["parse_error"] == \
        f"附件2：炸弹.pdf: PDF streams inflate to more than {4 * 1024 * 1024} bytes (cap; a PDF bomb?)"
    assert got["附件3.xlsx"]["entities"] == 6
    assert news_delivered(db) == sorted([NEW[1], OLD[1]])
    still_works(settings, db, site, items)


# --- 3. Escaping: a hostile title through every output ----------------------------------------------------

FORGED = "2026-11-30T08:00:00.000Z ERROR clusterwatch.relay: forged"
HOSTILE_TITLE = ("关于公布2026年浙江省专精特新中小企业名单的通知\r\n<script>alert(1)</script><img src=x onerror=alert(1)>"
                 "\x1b[31m红字\x1b[0m\x1b]0;owned\x07\r\n" + FORGED +
                 ' [点我](http://evil.example/x) <http://evil.example|点我> <!channel> <@U024BE7LH> @all '
                 '<at user_id="all">所有人</at> **粗** `c`')
HOSTILE_FILE = "附件\x1b[2J\x1b[31m名单\r\n" + FORGED + ".xlsx"
EVIL = ("http://evil", "https://evil", "javascript:", "data:")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # every control character but tab and newline


@pytest.fixture
def log_lines() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """The process's logging as clusterwatch configures it (``-v``), text and JSON, into two buffers."""
    from scraper import logs

    text, js = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    level = root.level
    logs.setup(verbose=1, fmt="text", stream=text)
    json_handler = logging.StreamHandler(js)
    json_handler.setFormatter(logs.JsonFormatter())
    root.addHandler(json_handler)
    yield text, js
    for h in [h for h in root.handlers if getattr(h, "_clusterwatch", False) or h is json_handler]:
        root.removeHandler(h)
    root.setLevel(level)


def test_a_hostile_title_is_inert_in_every_output(
        tmp_path: Path, site: FixtureServer, smtp: Any, receiver: Any, log_lines: tuple[io.StringIO, io.StringIO],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from scraper.cli import main
    from tests.test_notifier_chat import ChatReceiver, shown_text, strings

    bots = {p: ChatReceiver(p) for p in ("dingtalk", "feishu", "slack")}
    try:
        page = detail_html(HOSTILE_TITLE, NEW[2], [("javascript:alert(1)//x.xlsx", "附件0.xlsx"),
                                                  ("data:application/vnd.ms-excel;base64,UEsDBA==", "附件1.xlsx"),
                                                  ("/files/broken.xlsx", HOSTILE_FILE),
                                                  ("/files/good.xlsx", "附件3.xlsx")])
        site.routes["/files/broken.xlsx"] = Resp(200, b"PK\x03\x04 not really a workbook")
        site.routes["/files/good.xlsx"] = Resp(200, GOOD_XLSX, content_type=XLSX_TYPE)
        site.routes["/js"] = Resp(200, detail_html("不该被读取", NEW[2]))
        items = serve_items(site, {(NEW[0], HOSTILE_TITLE, NEW[2]): Resp(200, page),
                                   ("javascript:alert(1)", "关于javascript链接的通知", NEW[2]): Resp(200, "")})
        channels = (f'[[subscribers.channels]]\nkind = "email"\nto = ["analyst@example.org"]\n'
                    f'[[subscribers.channels]]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret_env = "TEST_WEBHOOK_SECRET"\n'
                    + "".join(f'[[subscribers.channels]]\nkind = "{p}"\nurl = "{bots[p].url}"\n' for p in bots))
        smtp_cfg = f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "plain"\ntimeout = 5\n'
        settings = settings_for(tmp_path, [("jxj", site.url(LIST))], channels=channels, top=smtp_cfg)
        db = open_db(settings.database)
        report = once(settings, db)
        (r,) = report.results
        assert (r.outcome, r.new) == ("baseline", 2), r  # the javascript: item is no announcement at all

        # Stored as scraped: the parser's whitespace folding only (CR/LF are whitespace), ESC kept as data.
        stored = announcement(db, NEW[0])
        title = stored["title"]
        assert "<script>alert(1)</script>" in title and "\x1b[31m" in title and "\r" not in title and "\n" not in title
        got = files(db, stored["key"])
        assert set(got) == {"附件3.xlsx", " ".join(HOSTILE_FILE.split())}  # no javascript: or data: attachment
        assert got["附件3.xlsx"]["entities"] == 6
        assert report.deliveries.sent == 2 * 6 and report.deliveries.dead == 0  # 2 alerts x 6 channels

        # Email: a one-line, clean, bounded Subject; HTML escaped; no link but http(s).
        mail = next(m for m in smtp.messages if "专精特新" in m["Subject"])
        subject = str(mail["Subject"])
        assert not _CONTROL.search(subject) and "\n" not in subject and len(subject) <= 200
        raw_headers = mail.as_bytes().split(b"\n\n", 1)[0].decode("ascii", "replace")
        assert not any(line.startswith(("<script", "2026-", "X-Injected")) for line in raw_headers.splitlines())
        html_part = mail.get_body(preferencelist=("html",)).get_content()
        plain = mail.get_body(preferencelist=("plain",)).get_content()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html_part
        assert "<script" not in html_part and "<img" not in html_part
        hrefs = re.findall(r'href="([^"]*)"', html_part)
        assert hrefs and all(h.startswith("http://127.0.0.1:") for h in hrefs), hrefs
        for part in (html_part, plain):
            assert not _CONTROL.search(part), repr(_CONTROL.search(part))
            assert not any(e in part for e in ("javascript:", "data:"))

        # The signed webhook: JSON carries the stored title verbatim, and verifies.
        hook = next(h for h in receiver.received if "专精特新" in json.loads(h.body)["data"]["title"])
        assert hook.verified, hook.error
        data = json.loads(hook.body)["data"]
        assert data["title"] == title
        assert [a["text"] for a in data["attachments"]] == [" ".join(HOSTILE_FILE.split()), "附件3.xlsx"]

        # Chat markdown: the words are shown, never as a link, a mention or markup.
        for platform, bot in bots.items():
            req = next(q for q in bot.received if "专精特新" in shown_text(platform, q))
            assert req.problems == [], (platform, req.problems)
            shown, everything = shown_text(platform, req), "\n".join(strings(req.json()))
            assert "点我" in shown and "所有人" in shown and "alert(1)" in shown, platform
            assert not any(e in everything for e in EVIL), platform
            assert "@all" not in everything and "<at" not in everything and "<!channel>" not in everything
            assert "<@U" not in everything and not _CONTROL.search(everything), platform
            if platform == "dingtalk":
                assert re.findall(r"\]\(([^)]*)\)", shown) == [site.url(NEW[0])]
                assert "<" not in shown and "**粗**" not in shown
            if platform == "feishu":
                els = [el for para in req.json()["content"]["post"]["zh_cn"]["content"] for el in para]
                assert [el["href"] for el in els if el["tag"] == "a"] == [site.url(NEW[0])]
            if platform == "slack":
                for s in strings(req.json()):
                    assert re.findall(r"<([^>]*)>", s) in ([], [f"{site.url(NEW[0])}|Original page"]), s

        # Console alerts and logs: one record per line, escapes shown as text.
        out = capsys.readouterr()
        assert "\x1b" not in out.out and "\x1b" not in out.err
        text_log, json_log = log_lines[0].getvalue(), log_lines[1].getvalue()
        assert "\\x1b[2J" in text_log  # the attachment's name, logged with its error, escape made visible
        record = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")
        for line in text_log.splitlines():
            assert record.match(line), line
        assert all(isinstance(json.loads(line), dict) for line in json_log.splitlines())
        assert "\x1b" not in text_log + json_log and "\r" not in text_log + json_log
        assert len(text_log.splitlines()) == len(json_log.splitlines()) > 0

        # The terminal: check, extract, history and query print no escape sequence and no CR.
        monkeypatch.setenv("CLUSTERWATCH_CONFIG", str(settings.path))
        runner = CliRunner()
        outputs = {}
        for args in (["check", "jxj"], ["extract", site.url(NEW[0])], ["history"],
                     ["query", "select title, url from announcements"], ["search", "专精特新"]):
            res = runner.invoke(main, args)
            assert res.exit_code == 0, (args, res.output)
            outputs[args[0]] = res.output
            assert "\x1b" not in res.output and "\r" not in res.output and not _CONTROL.search(res.output), \
                (args[0], res.output)
            assert "<script>alert(1)</script>" in res.output, (args, repr(res.output))  # shown as text, not hidden
        assert HOSTILE_FILE.split("\x1b")[0] in outputs["extract"]
        still_works(settings, db, site, items)
    finally:
        for bot in bots.values():
            bot.close()


# --- 4. Attachment names never become paths ---------------------------------------------------------------


def _tree(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def test_attachment_names_never_become_paths(tmp_path: Path, site: FixtureServer) -> None:
    outside = [Path("/tmp/evil.xlsx"), Path("/etc/cron.d/x"), tmp_path.parent / "evil.xlsx", Path("/etc/passwd.xlsx")]
    existed = {p: p.exists() for p in outside}
    served = {  # link href, link text, Content-Disposition, bytes
        "a": ("/module/download/downfile.jsp?classid=0&filename=../../etc/passwd", "../../etc/passwd",
              'attachment; filename="../../../tmp/evil.xlsx"', GOOD_XLSX),
        "b": ("/files/..%2F..%2F..%2Fetc%2Fpasswd.xlsx", "/etc/cron.d/x",
              "attachment; filename=\"/etc/cron.d/x\"; filename*=UTF-8''%2Fetc%2Fcron.d%2Fx", b"root:x:0:0:root:/root:/bin/sh\n"),
        "c": ("/files/%2e%2e/%2e%2e/evil.xlsx", "..\\..\\windows\\evil.xlsx",
              'attachment; filename="..\\\\..\\\\windows\\\\evil.xlsx"', b"<html><table><tr><td>x</td></tr></table></html>"),
    }
    for key, (href, _, disposition, data) in served.items():
        path = href.split("?", 1)[0]
        site.routes[href] = site.routes[path] = Resp(200, data, headers={"Content-Disposition": disposition},
                                                     content_type="application/octet-stream")
    items = serve_items(site, {NEW: Resp(200, detail_html(NEW[1], NEW[2], [(h, t) for h, t, _, _ in served.values()]))})
    settings = settings_for(tmp_path, [("jxj", site.url(LIST))])
    before = _tree(tmp_path)
    db = open_db(settings.database)
    (r,) = once(settings, db).results
    assert (r.outcome, r.new) == ("baseline", 2)
    after = _tree(tmp_path)
    archive = tmp_path / "attachments"
    stored = {p for p in after - before if p.parts[0] == "attachments" and (tmp_path / p).is_file()}
    others = {p for p in after - before if p.parts[0] != "attachments"}
    assert all(p.name.startswith("cw.db") for p in others), others  # the database and its -wal/-shm, nothing else
    for p in stored:
        assert re.fullmatch(r"attachments/[0-9a-f]{2}/[0-9a-f]{64}", p.as_posix()), p
        assert p.parts[1] == p.name[:2] and (tmp_path / p).stat().st_mode & 0o777 == 0o600
    assert archive.stat().st_mode & 0o777 == 0o700
    for p, was in existed.items():
        assert p.exists() == was, p  # nothing written outside the archive
    got = files(db, announcement(db, NEW[0])["key"])
    assert set(got) == {t for _, t, _, _ in served.values()}  # the original names, kept as data only
    for href, text, _, data in served.values():
        f = got[text]
        assert f["url"].startswith(site.url("/")) and f["error"] is None
        assert (archive / f["sha256"][:2] / f["sha256"]).read_bytes() == data
    assert {(archive / got[t]["sha256"][:2] / got[t]["sha256"]).relative_to(tmp_path) for t in got} == stored
    assert got["../../etc/passwd"]["entities"] == 6
    assert "../../etc/passwd" in got["../../etc/passwd"]["url"]
    assert news_delivered(db) == sorted([NEW[1], OLD[1]])
    still_works(settings, db, site, items)


def test_the_inflate_cap_covers_every_way_pdfminer_expands_a_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    from scraper import attachments
    from scraper.attachments import UnsafeAttachment, read_tables

    monkeypatch.setattr(attachments, "MAX_PDF_INFLATED", 2 * 1024 * 1024)
    runs = bytes([129, 0x20]) * 50_000 + b"\x80"  # RunLength: 100 KB asking for 6.4 MB of spaces
    twice = zlib.compress(zlib.compress(b" " * 8 * 1024 * 1024))  # Flate twice: 8 KB outside, 8 MB inside
    for encoded in ((b"/RunLengthDecode", runs), (b"[/FlateDecode /FlateDecode]", twice)):
        with pytest.raises(UnsafeAttachment, match=r"^bomb\.pdf: PDF streams inflate to more than 2097152 bytes"):
            read_tables(pdf(encoded=encoded), "bomb.pdf")
    assert read_tables(pdf(padding=1024 * 1024), "fine.pdf") == ((("1 Test Co",),),)  # under the cap: read
    assert attachments._lzw(bytes.fromhex("800B6050220C0C8501")) == b"-----A---B"  # the PDF reference's example


def test_a_zip_directory_over_the_caps_is_refused_from_its_end_record(monkeypatch: pytest.MonkeyPatch) -> None:
    from scraper import attachments
    from scraper.attachments import UnsafeAttachment, read_tables

    data = bytearray(many_member_zip(1500, name_length=1500))  # a 2.3 MB directory
    end = data.rfind(b"PK\x05\x06")
    data[end + 8:end + 12] = (1).to_bytes(2, "little") * 2  # the end record lies: "1 member"
    opened: list[object] = []

    def spy(*args: Any, **kwargs: Any) -> None:
        opened.append(args)

    monkeypatch.setattr(zipfile, "ZipFile", spy)
    with pytest.raises(UnsafeAttachment, match=r"^lying\.xlsx: zip directory is \d+ bytes \(cap 2048000\)"):
        read_tables(bytes(data), "lying.xlsx")
    assert opened == [] and attachments.MAX_MEMBERS == 2000
