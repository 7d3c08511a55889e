"""Median time to decode and parse the demo site's pages and one list page of each corpus family.

    python bench/bench_parse.py

The corpus rows use bench/corpus.py's pages (20-40 KiB, like the real sites) and the adapter
each family is configured with in ``python -m bench.cycle``; the "floor" row is the bare
``LexborHTMLParser`` + CSS loop the cycle benchmark's floor uses, for comparison.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import re  # noqa: E402
import tempfile  # noqa: E402

from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from bench.corpus import generate  # noqa: E402
from config import Selectors, Source  # noqa: E402
from scraper import diff  # noqa: E402
from scraper.parse import ADAPTERS  # noqa: E402
from scraper.decode import decode  # noqa: E402
from scraper.parse import parse_detail  # noqa: E402
from scraper.parse.static import parse as parse_static  # noqa: E402

SITE = Path(__file__).resolve().parent.parent / "scraper" / "demo_site"


def median_ms(fn, repeat: int = 7, number: int = 100) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number * 1000)
    return statistics.median(runs)


def main() -> None:
    listing = (SITE / "list_after.html").read_bytes()
    detail = (SITE / "site/art/2026/11/30/art_1229399350_5512001.html").read_bytes()
    gbk = listing.decode("utf-8").replace('charset="utf-8"', 'charset="gb2312"').encode("gb18030")
    url = "http://127.0.0.1/col/col1229399350/index.html"
    sel = Selectors(item="ul.news-list > li", date="span.date")
    rows = [
        ("decode utf-8 list page", lambda: decode(listing, "text/html; charset=utf-8")),
        ("decode gb2312-labelled list page (meta sniff)", lambda: decode(gbk, "text/html")),
        ("static adapter, selectors", lambda: parse_static(decode(listing)[0], url, sel)),
        ("static adapter, heuristic", lambda: parse_static(decode(listing)[0], url, None)),
        ("detail page", lambda: parse_detail(decode(detail)[0], url)),
    ]
    rows += corpus_rows()
    print(f"{'benchmark':50} {'median ms/page':>15} {'pages/s':>10}")
    for name, fn in rows:
        ms = median_ms(fn)
        print(f"{name:50} {ms:15.3f} {1000 / ms:10.0f}")


def corpus_rows() -> list:
    with tempfile.TemporaryDirectory() as d:
        specs = generate(d, 20, details=0)
        pages = {}
        for s in specs:
            if s.family not in pages:
                pages[s.family] = (s, (Path(d) / "www" / s.path.lstrip("/")).read_bytes())
    rows = []
    for family, (spec, body) in sorted(pages.items()):
        url = f"http://{spec.host}{spec.path}"
        sel = Selectors(item=spec.item_selector, date=spec.date_selector) if spec.kind == "static" else None
        source = Source(name=spec.name, url=url, kind=spec.kind, selectors=sel)
        adapter = ADAPTERS.get(spec.kind)
        if adapter is None:
            continue
        label = f"corpus {family} ({len(body) / 1024:.0f} KiB): decode + {spec.kind}"
        rows.append((label, lambda b=body, u=url, a=adapter, src=source: a.parse(decode(b, "text/html")[0], u, src)))
        rows.append((f"corpus {family}: + diff.keyed (item keys)", lambda b=body, u=url, a=adapter, src=source:
                     diff.keyed(src.name, a.parse(decode(b, "text/html")[0], u, src).items)))
        rows.append((f"corpus {family}: floor (bare selectolax loop)", lambda b=body, sp=spec: _floor(b, sp)))
    return rows


_RECORD_RE = re.compile(r"<record><!\[CDATA\[(.*?)\]\]></record>", re.S)


def _floor(body: bytes, spec) -> int:  # type: ignore[no-untyped-def]
    m = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", body[:4096], re.I)
    label = m.group(1).decode().lower() if m else "utf-8"
    text = body.decode("gb18030" if label.startswith("gb") else label, "replace")
    if spec.family == "hanweb-jpage":
        text = "<div>" + "".join(_RECORD_RE.findall(text)) + "</div>"
    n = 0
    for node in LexborHTMLParser(text).css(spec.item_selector):
        a, d = node.css_first("a"), node.css_first(spec.date_selector)
        if a is not None and d is not None and a.attributes.get("href") and a.attributes.get("title") and d.text():
            n += 1
    return n


if __name__ == "__main__":
    main()
