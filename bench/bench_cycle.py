"""Whole ``run --once`` cycles over N sources served from loopback.

Phases, each repeated with a fresh database and reported as the median:
cold (silent baseline), unchanged (same list again), and new (one new item per
source, so one detail page each). Servers bind 127.0.0.2.. so every source is its
own host and per-host politeness does not serialise the run (delay = 0 here).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from db import open_db  # noqa: E402
from scraper.runner import run_once  # noqa: E402

SITE = ROOT / "scraper" / "demo_site"
LIST = "/col/col1229399350/index.html"


class Site:
    def __init__(self, host: str) -> None:
        self.published = False
        site = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                if self.path == LIST:
                    body = (SITE / ("list_after.html" if site.published else "list_before.html")).read_bytes()
                else:
                    f = SITE / "site" / self.path.lstrip("/")
                    body = f.read_bytes() if f.is_file() else b"not found"
                self.send_response(200 if body != b"not found" else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}{LIST}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def write_config(workdir: Path, sites: list[Site]) -> config.Settings:
    parts = ['database = "bench.db"\n[politeness]\ndelay = 0\nconcurrency = 16\nretries = 0\n']
    for i, s in enumerate(sites):
        parts.append(f'[[sources]]\nname = "s{i}"\nurl = "{s.url}"\n[sources.selectors]\n'
                     'item = "ul.news-list > li"\ndate = "span.date"\n')
    (workdir / "cw.toml").write_text("".join(parts), encoding="utf-8")
    return config.load(workdir / "cw.toml", environ={})


def one_round(sites: list[Site]) -> dict[str, float]:
    for s in sites:
        s.published = False
    with tempfile.TemporaryDirectory() as d:
        settings = write_config(Path(d), sites)
        db = open_db(settings.database)
        out = {}
        for phase in ("cold", "unchanged", "new"):
            if phase == "new":
                for s in sites:
                    s.published = True
            t0 = time.perf_counter()
            report = asyncio.run(run_once(settings, db, force=True))
            out[phase] = time.perf_counter() - t0
            assert all(r.ok for r in report.results), [str(r) for r in report.results if not r.ok]
        db.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sites = [Site(f"127.0.0.{2 + i % 250}") for i in range(args.sources)]
    rounds = [one_round(sites) for _ in range(args.repeat)]
    print(f"{args.sources} sources, {args.repeat} rounds (median seconds per cycle)")
    cold = statistics.median(r["cold"] for r in rounds)
    for phase in ("cold", "unchanged", "new"):
        med = statistics.median(r[phase] for r in rounds)
        print(f"  {phase:10} {med:8.3f} s   {med / args.sources * 1000:7.2f} ms/source   {med / cold:5.2f}x cold")


if __name__ == "__main__":
    main()
