"""Median time to decode and parse the demo site's list and detail pages."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import Selectors  # noqa: E402
from scraper.decode import decode  # noqa: E402
from scraper.parse import parse_detail  # noqa: E402
from scraper.parse.static import parse as parse_static  # noqa: E402

SITE = Path(__file__).resolve().parent.parent / "scraper" / "demo_site"


def median_ms(fn, repeat: int = 7, number: int = 200) -> float:  # type: ignore[no-untyped-def]
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
    print(f"{'benchmark':50} {'median ms/page':>15} {'pages/s':>10}")
    for name, fn in rows:
        ms = median_ms(fn)
        print(f"{name:50} {ms:15.3f} {1000 / ms:10.0f}")


if __name__ == "__main__":
    main()
