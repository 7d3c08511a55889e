"""Where a clusterwatch cycle spends its CPU, from a py-spy ``--format raw`` profile.

    python -m bench.stages PROFILE.txt [--top 15]

Each sample's stack is walked from the leaf up; the first frame that matches one of
``STAGES`` names the stage the sample is charged to (so time inside sqlite3 under
``record_fetch`` counts as ``db.store.record_fetch``, httpx under the fetcher as the HTTP
client, and so on). asyncio frames count as the event loop only when nothing else
matches (``asyncio.current_task()`` called by anyio/sniffio is HTTP-client cost). Shares are of all samples, which py-spy takes only while the
process is on the CPU (idle waits are not sampled).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

STAGES: list[tuple[str, str]] = [
    (r"^(RobotsCache|Robots)\.|/scraper/robots\.py|/protego", "robots.txt (fetch + parse)"),
    (r"^record_fetch \(|^reclassify_fetches \(", "db.store.record_fetch (one transaction per fetch)"),
    (r"^commit_check \(", "db.store.commit_check"),
    (r"^record_unchanged \(", "db.store.record_unchanged"),
    (r"^source_state \(", "db.store.source_state"),
    (r"^known_keys \(", "db.store.known_keys"),
    (r"^sync_sources \(", "db.store.sync_sources"),
    (r"^open_db \(|/db/migrations\.py", "db open + migrations"),
    (r"/scraper/decode\.py", "scraper.decode"),
    (r"/scraper/blocked\.py", "scraper.blocked (challenge / broken-page checks)"),
    (r"^read_capped \(", "scraper.fetch.read_capped (body + gunzip)"),
    (r"/scraper/parse/jpage\.py", "parse: hanweb-jpage (own code)"),
    (r"/scraper/parse/trs\.py", "parse: trs (own code)"),
    (r"/scraper/parse/(static|common|dates)\.py", "parse: static adapter + helpers (selectolax)"),
    (r"/scraper/parse/", "parse: other"),
    (r"/scraper/diff\.py", "scraper.diff (keys, hashes, announcements)"),
    (r"/scraper/text\.py", "scraper.text (resolve, canonical_url, clean)"),
    (r"/notifier/", "notifier (routing, relay)"),
    (r"/httpx/|/httpcore/|/h11/|/anyio/|/sniffio/", "HTTP client (httpx, httpcore, h11, anyio)"),
    (r"/scraper/fetch\.py", "scraper.fetch (own code)"),
    (r"/scraper/listing\.py", "scraper.listing"),
    (r"/scraper/pipeline\.py", "scraper.pipeline (own code)"),
    (r"/config/", "config load"),
    (r"_find_and_load|<frozen importlib", "imports"),
    (r"^_worker_floor\.<locals>\.parse ", "floor: decode + selectolax (bench worker)"),
]
# charged only when no frame above matches anything else: anyio/sniffio call asyncio.current_task()
# on every I/O step, which is HTTP-client cost, not event-loop cost
_LOOP = (re.compile(r"asyncio/|selectors\.py"), "asyncio event loop (select, callbacks, tasks)")
_COMPILED = [(re.compile(p), name) for p, name in STAGES]


def analyse(path: str | Path) -> tuple[int, Counter, Counter]:
    """(samples, samples per stage, samples per leaf function)."""
    stages: Counter = Counter()
    leaves: Counter = Counter()
    total = 0
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        total += count
        frames = stack.split(";")
        stage = "other"
        for frame in reversed(frames):
            hit = next((name for rx, name in _COMPILED if rx.search(frame)), None)
            if hit:
                stage = hit
                break
        else:
            if any(_LOOP[0].search(f) for f in frames):
                stage = _LOOP[1]
        stages[stage] += count
        leaf = frames[-1]
        func, _, where = leaf.partition(" (")
        leaves[f"{func} ({where.rsplit('/', 1)[-1].rstrip(')')})"] += count
    return total, stages, leaves


def report(path: str | Path, top: int = 12, rate: int | None = None) -> str:
    total, stages, leaves = analyse(path)
    if not total:
        return f"{path}: no samples"
    secs = f", ~{total / rate:.2f} s CPU at {rate} Hz (py-spy slows the process a little)" if rate else ""
    out = [f"{path}: {total} samples{secs}"]
    out += [f"  {v / total * 100:5.1f}%  {k}" for k, v in stages.most_common()]
    out.append("  top leaf functions:")
    out += [f"  {v / total * 100:5.1f}%  {k}" for k, v in leaves.most_common(top)]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("profiles", nargs="+")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--rate", type=int, help="py-spy sampling rate, to print seconds")
    a = ap.parse_args()
    for p in a.profiles:
        print(report(p, a.top, a.rate))


if __name__ == "__main__":
    main()
