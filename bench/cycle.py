"""Whole list cycles over N sources served by nginx on 127.0.0.2-51: clusterwatch vs a floor vs urlwatch.

    python -m bench.cycle --sources 1000            # medians of 5 runs per scenario
    python -m bench.cycle --sources 100 --runs 3    # a quick check

Scenarios, each run K times in a fresh subprocess (so peak RSS is that run's own) and
reported as medians; the runs are interleaved round by round so drift hits all alike:

1. ``cw cold``       clusterwatch ``run_once(force=True)`` on a fresh database: silent baseline,
                     list pages only (``follow_details = false``);
2. ``cw unchanged``  the same on a copy of a seeded database: every list answers 304;
3. ``floor cold``    one ``httpx.AsyncClient`` + ``LexborHTMLParser``: fetch, decode (meta sniff),
                     select items, set diff — same concurrency, one request per host at a time;
   ``floor unchanged`` the same with the ETags of a seeding run (reference only);
4. ``urlwatch cold`` / ``urlwatch unchanged``: urlwatch 2.29 from its own virtualenv
                     (``bench/.venv-urlwatch``, created on first use) over the same list pages,
                     raw jobs (no filter), reporters off, cache in the work dir;
   ``urlwatch-css …`` the same with a ``css``/``xpath`` + ``html2text`` filter per job.

Per run: wall time and CPU time (user+sys, from ``os.wait4`` on that child), peak RSS (the
child's own VmHWM), HTTP requests and their statuses (counted in nginx's access log), items
parsed, nginx's own CPU, and for clusterwatch and the floor the cycle alone, timed inside. The politeness check reads the access log
(``$msec $request_time $host …``): per host, no two requests may overlap. On loopback a
static file is served in well under a millisecond, so the timed runs can only show gross
overlaps; a separate untimed *politeness probe* therefore repeats the clusterwatch cold
cycle against a second port whose every response is held 10 ms (nginx echo module), where any
concurrent fetch of one host shows up, next to a positive control (the floor loop without its
per-host lock) that must show overlaps.

Targets (issue 3, for 1000 sources) are checked and printed as PASS/FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
URLWATCH_VENV = BENCH / ".venv-urlwatch"
URLWATCH_VERSION = "2.29"
ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
PY_SPY_RATE = 500  # samples per second for --profile
PROBE_DELAY = 0.010  # seconds each response is held on the politeness-probe port
LOG_FORMAT = '$msec $request_time $host $server_port $status $body_bytes_sent "$request" "$http_user_agent"'
_LOG_RE = re.compile(r'^(\d+\.\d+) (\d+\.\d+) (\S+) (\d+) (\d+) (\d+) "(\S+) (\S+) [^"]*" "([^"]*)"$')
_RECORD_RE = re.compile(r"<record><!\[CDATA\[(.*?)\]\]></record>", re.S)


def _vm_hwm_mb() -> float | None:
    """This process's peak RSS (VmHWM). Unlike a child's ru_maxrss it does not include the
    RSS its parent had when it forked (Linux carries that over through exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# =============================================================================================== workers
# Run as ``python -m bench.cycle _worker ROLE ...`` in a fresh process; print one JSON line.


def _worker_cw(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("db")
    ap.add_argument("--standin-jpage", action="store_true")
    ap.add_argument("--profile")
    a = ap.parse_args(argv)
    t_imp = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    import config  # noqa: PLC0415
    from db import open_db  # noqa: PLC0415
    from scraper.runner import run_once  # noqa: PLC0415

    if a.standin_jpage:
        _register_jpage_standin()
    t0 = time.perf_counter()
    settings = config.load(a.config, environ={})
    db = open_db(a.db)
    prof = None
    if a.profile:
        import cProfile  # noqa: PLC0415

        prof = cProfile.Profile(time.process_time)  # CPU, not wall (fsync waits excluded)
        prof.enable()
    t1, c1 = time.perf_counter(), time.process_time()
    report = asyncio.run(run_once(settings, db, force=True))
    t2, c2 = time.perf_counter(), time.process_time()
    if prof:
        prof.disable()
        prof.dump_stats(a.profile)
    db.close()
    outcomes = Counter(r.outcome for r in report.results)
    bad = [str(r) for r in report.results if not r.ok][:3]
    print(json.dumps({"cycle_s": t2 - t1, "cycle_cpu": c2 - c1, "setup_s": t1 - t0, "import_s": t0 - t_imp,
                      "hwm_mb": _vm_hwm_mb(),
                      "items": sum(r.items for r in report.results), "outcomes": dict(outcomes), "bad": bad}))


def _register_jpage_standin() -> None:
    """Stand-in for the hanweb-jpage adapter while scraper/parse/jpage.py is a placeholder.

    Reads the inline ``<record><![CDATA[…]]>`` payloads with a regex and hands them to the
    real ``static`` adapter as one fragment. Registered in the worker process only.
    """
    from dataclasses import replace  # noqa: PLC0415

    from config import Selectors  # noqa: PLC0415
    from scraper.parse import ADAPTERS, static  # noqa: PLC0415
    from scraper.parse.base import Adapter  # noqa: PLC0415

    if "hanweb-jpage" in ADAPTERS:
        return
    sel = Selectors(item="p.lb-list, li", date="span")

    class _JpageStandIn(Adapter):
        kind = "hanweb-jpage"

        def parse(self, text, url, source):  # type: ignore[no-untyped-def]
            frag = "<html><body><div>" + "".join(_RECORD_RE.findall(text)) + "</div></body></html>"
            return replace(static.parse(frag, url, sel), adapter="hanweb-jpage (bench stand-in)")


def _worker_floor(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("jobs")
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--etags-in")
    ap.add_argument("--etags-out")
    ap.add_argument("--no-host-lock", action="store_true")
    ap.add_argument("--keepalive", type=int, default=0, help="max keep-alive connections (0: = concurrency)")
    a = ap.parse_args(argv)
    from urllib.parse import urljoin  # noqa: PLC0415

    import httpx  # noqa: PLC0415
    from selectolax.lexbor import LexborHTMLParser  # noqa: PLC0415

    jobs = json.loads(Path(a.jobs).read_text(encoding="utf-8"))
    if a.no_host_lock:  # the positive control: one host's pages side by side, so they do overlap
        jobs.sort(key=lambda j: j[1])
    etags = json.loads(Path(a.etags_in).read_text()) if a.etags_in else {}
    new_etags: dict[str, str] = {}
    meta = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.I)
    gb = {"gb2312", "gbk", "gb18030", "x-gbk"}
    known: dict[str, set[str]] = {}

    def parse(url: str, body: bytes, family: str, item_sel: str, date_sel: str) -> int:
        m = meta.search(body, 0, 4096)
        label = m.group(1).decode().lower() if m else "utf-8"
        text = body.decode("gb18030" if label in gb else label, "replace")
        if family == "hanweb-jpage":
            text = "<div>" + "".join(_RECORD_RE.findall(text)) + "</div>"
        tree = LexborHTMLParser(text)
        urls = set()
        for node in tree.css(item_sel):
            a_ = node.css_first("a")
            d = node.css_first(date_sel)
            if a_ is None or d is None:
                continue
            href, title, date = a_.attributes.get("href"), a_.attributes.get("title"), d.text().strip()
            if href and title and date:
                urls.add(urljoin(url, href))
        known[url] = urls - known.get(url, set())  # the set diff a watcher needs (all new when cold)
        return len(urls)

    async def main() -> dict:
        conc = a.concurrency
        limits = httpx.Limits(max_connections=conc, max_keepalive_connections=a.keepalive or conc)
        sem = asyncio.Semaphore(conc)
        locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        statuses: Counter = Counter()
        async with httpx.AsyncClient(limits=limits, timeout=20, trust_env=False,
                                     headers={"Accept-Encoding": "gzip", "User-Agent": "bench-floor"}) as client:
            async def one(job: list) -> int:
                url, host, family, item_sel, date_sel = job
                headers = {"If-None-Match": etags[url]} if url in etags else {}
                if a.no_host_lock:
                    async with sem:
                        r = await client.get(url, headers=headers)
                else:
                    async with locks[host]:
                        async with sem:
                            r = await client.get(url, headers=headers)
                statuses[r.status_code] += 1
                if r.status_code == 304:
                    return 0
                if "etag" in r.headers:
                    new_etags[url] = r.headers["etag"]
                return parse(url, r.content, family, item_sel, date_sel)

            t, c = time.perf_counter(), time.process_time()
            counts = await asyncio.gather(*(one(j) for j in jobs))
            return {"cycle_s": time.perf_counter() - t, "cycle_cpu": time.process_time() - c, "items": sum(counts),
                    "statuses": dict(statuses)}

    out = asyncio.run(main())
    out["hwm_mb"] = _vm_hwm_mb()
    if a.etags_out:
        Path(a.etags_out).write_text(json.dumps(new_etags))
    print(json.dumps(out))


# =============================================================================================== servers


def free_port(hosts: list[str]) -> int:
    """A port free on every one of ``hosts`` (tried from a random start)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 1 > 65535:
            continue
        ok = True
        for h in hosts:
            for p in (port, port + 1):
                with socket.socket() as t:
                    try:
                        t.bind((h, p))
                    except OSError:
                        ok = False
                        break
            if not ok:
                break
        if ok:
            return port
    raise RuntimeError("no free port pair on the loopback addresses")


class Nginx:
    """Debian's nginx as a non-daemon child: fast port and a politeness-probe port (+1) per address."""

    def __init__(self, workdir: Path, www: Path, hosts: list[str], port: int):
        self.dir = workdir / "nginx"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "access.log"
        self.port, self.probe_port = port, port + 1
        self.has_probe = ECHO_MODULE.exists()
        fast = "\n".join(f"    listen {h}:{port};" for h in hosts)
        slow = "\n".join(f"    listen {h}:{port + 1};" for h in hosts)
        d = self.dir
        probe = f"""
  server {{
{slow}
    root {www};
    location / {{ echo_sleep {PROBE_DELAY}; echo_exec @file; }}
    location @file {{ }}
  }}""" if self.has_probe else ""
        conf = f"""{f"load_module {ECHO_MODULE};" if self.has_probe else ""}
daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 8192; multi_accept on; }}
http {{
  types {{ text/html html; text/plain txt; text/xml xml; application/json json; }}
  default_type application/octet-stream;
  client_body_temp_path {d}/tmp-body; proxy_temp_path {d}/tmp-proxy; fastcgi_temp_path {d}/tmp-fcgi;
  uwsgi_temp_path {d}/tmp-uwsgi; scgi_temp_path {d}/tmp-scgi;
  log_format bench '{LOG_FORMAT}';
  access_log {self.log} bench;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_timeout 65; keepalive_requests 100000;
  open_file_cache max=20000 inactive=120s; open_file_cache_valid 600s;
  etag on; if_modified_since before;  # RFC 9110 semantics (nginx's default 'exact' ignores urlwatch's dates)
  gzip on; gzip_comp_level 1; gzip_min_length 256; gzip_types text/plain text/xml application/json; gzip_vary on;
  server_tokens off;
  server {{
{fast}
    root {www};
    location / {{ }}
  }}{probe}
}}
"""
        (d / "nginx.conf").write_text(conf)
        self.proc = subprocess.Popen(["nginx", "-p", str(d), "-c", str(d / "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=open(d / "stderr.log", "wb"))
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection((hosts[0], port), timeout=0.5):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {(d / 'stderr.log').read_text()}") from None
                time.sleep(0.05)
        self.kind = f"nginx {_nginx_version()} (1 worker, etag on, gzip on)"

    def worker_pid(self) -> int | None:
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            return int(kids[0]) if kids else None
        except OSError:
            return None

    def cpu(self) -> float:
        """CPU seconds (user+sys) used so far by the nginx worker."""
        pid = self.worker_pid()
        if pid is None:
            return 0.0
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, master exits
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _nginx_version() -> str:
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True)
    return (out.stderr or out.stdout).strip().split("/")[-1]


class PyServer:
    """Fallback when nginx is missing: threaded http.server per address, ETag + gzip, same log format."""

    def __init__(self, workdir: Path, www: Path, hosts: list[str], port: int):
        import gzip  # noqa: PLC0415
        import hashlib  # noqa: PLC0415
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: PLC0415

        self.dir = workdir / "pyserver"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "access.log"
        self.port, self.probe_port = port, port + 1
        self.has_probe = True
        self.kind = "Python ThreadingHTTPServer (nginx not found: the server may be the bottleneck)"
        lock = threading.Lock()
        logf = open(self.log, "a", buffering=1)

        def make(delay: float) -> type:
            class H(BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"

                def do_GET(self) -> None:  # noqa: N802
                    t0 = time.time()
                    if delay:
                        time.sleep(delay)
                    f = www / self.path.split("?")[0].lstrip("/")
                    if not f.is_file():
                        body, status, etag = b"not found", 404, None
                    else:
                        body = f.read_bytes()
                        etag = '"' + hashlib.md5(body).hexdigest()[:16] + '"'
                        status = 304 if etag.strip('"') in (self.headers.get("If-None-Match") or "") else 200
                    gz = status == 200 and "gzip" in (self.headers.get("Accept-Encoding") or "")
                    if gz:
                        body = gzip.compress(body, 1)
                    self.send_response(status)
                    if etag:
                        self.send_header("ETag", etag)
                    if status == 304:
                        body = b""
                    self.send_header("Content-Type", "text/html")
                    if gz:
                        self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    t1 = time.time()
                    host = (self.headers.get("Host") or "").split(":")[0]
                    with lock:
                        logf.write(f'{t1:.3f} {t1 - t0:.3f} {host} {self.server.server_address[1]} {status} '
                                   f'{len(body)} "GET {self.path} HTTP/1.1" "{self.headers.get("User-Agent", "")}"\n')

                def log_message(self, *a: object) -> None:
                    pass

            return H

        self.servers = []
        for h in hosts:
            for p, delay in ((port, 0.0), (port + 1, PROBE_DELAY)):
                srv = ThreadingHTTPServer((h, p), make(delay))
                srv.daemon_threads = True
                threading.Thread(target=srv.serve_forever, daemon=True).start()
                self.servers.append(srv)

    def cpu(self) -> float:
        return 0.0  # in this process; not separable

    def stop(self) -> None:
        for s in self.servers:
            s.shutdown()
            s.server_close()


# =============================================================================================== the access log


@dataclass
class LogSlice:
    lines: list[tuple[float, float, str, int, int, str, str]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path, start: int) -> tuple["LogSlice", int]:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
        out = cls()
        for raw in data.decode("utf-8", "replace").splitlines():
            m = _LOG_RE.match(raw)
            if m:
                end, rt, host, port, status, _b, _meth, path_, ua = m.groups()
                out.lines.append((float(end), float(rt), host, int(port), int(status), path_, ua))
        return out, start + len(data)

    def statuses(self) -> dict[int, int]:
        return dict(sorted(Counter(x[4] for x in self.lines).items()))

    def overlaps(self, tolerance: float = 0.0015) -> tuple[int, int, list[str]]:
        """(overlapping pairs, max requests in flight on one host, examples).

        A request spans [msec - request_time, msec]; both are logged with millisecond
        resolution, hence the tolerance.
        """
        per_host: dict[tuple[str, int], list[tuple[float, float, str]]] = defaultdict(list)
        for end, rt, host, port, _s, path, _ua in self.lines:
            per_host[(host, port)].append((end - rt, end, path))
        pairs, worst, examples = 0, 1, []
        for host, spans in per_host.items():
            spans.sort()
            active: list[tuple[float, str]] = []  # (end, path) of requests still in flight
            for start, end, path in spans:
                active = [(e, p) for e, p in active if e - tolerance > start]
                if active:
                    pairs += len(active)
                    if len(examples) < 3:
                        examples.append(f"{host[0]}:{host[1]} {active[0][1]} and {path} overlap")
                active.append((end, path))
                worst = max(worst, len(active))
        return pairs, worst, examples


# =============================================================================================== setup


@dataclass
class Env:
    work: Path
    corpus: Path
    specs: list
    server: object
    jpage_ok: bool
    trs_ok: bool
    concurrency: int
    urlwatch: Path | None
    log_pos: int = 0


def adapters_available() -> set[str]:
    out = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                          "from scraper.parse import ADAPTERS; print(' '.join(ADAPTERS))", str(ROOT)],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def write_cw_config(env: Env, path: Path, port: int, heuristic: bool) -> None:
    parts = [
        "# generated by bench/cycle.py\n",
        'database = "unused.db"\n',
        'user_agent = "Mozilla/5.0 (compatible; clusterwatch-bench/0.1)"\n',
        '[network]\nallow = ["127.0.0.0/8"]\n\n',
        f"[politeness]\ndelay = 0\nconcurrency = {env.concurrency}\nretries = 0\n\n",
    ]
    for s in env.specs:
        kind = s.kind
        selectors = None
        if s.family in ("static", "static-gb") and not heuristic:
            selectors = (s.item_selector, s.date_selector)
        if s.family == "trs" and not env.trs_ok:
            kind, selectors = "static", (s.item_selector, s.date_selector)
        parts.append(f'[[sources]]\nname = "{s.name}"\nurl = "http://{s.host}:{port}{s.path}"\n'
                     f'kind = "{kind}"\nfollow_details = false\ninterval = "30m"\n')
        if selectors:
            parts.append(f'[sources.selectors]\nitem = "{selectors[0]}"\ndate = "{selectors[1]}"\n')
        parts.append("\n")
    path.write_text("".join(parts), encoding="utf-8")


def write_floor_jobs(env: Env, path: Path, port: int) -> None:
    jobs = [[f"http://{s.host}:{port}{s.path}", s.host, s.family, s.item_selector, s.date_selector] for s in env.specs]
    path.write_text(json.dumps(jobs))


def ensure_urlwatch() -> Path | None:
    exe = URLWATCH_VENV / "bin" / "urlwatch"
    if not exe.exists():
        print(f"creating {URLWATCH_VENV} with urlwatch=={URLWATCH_VERSION} ...", flush=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(URLWATCH_VENV)], check=True)
            subprocess.run([str(URLWATCH_VENV / "bin" / "pip"), "install", "-q", f"urlwatch=={URLWATCH_VERSION}"],
                           check=True)
        except subprocess.CalledProcessError as e:
            print(f"  could not install urlwatch: {e}; skipping it")
            return None
    ver = subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout.strip()
    if URLWATCH_VERSION not in ver:
        print(f"  {exe} reports {ver!r}, not {URLWATCH_VERSION}; skipping urlwatch")
        return None
    return exe


def write_urlwatch_files(env: Env, d: Path, port: int, filtered: bool) -> None:
    """urls.yaml (one job per list page) and a config with every reporter off.

    ``filtered``: each job extracts its list the way a urlwatch user would -- ``css`` on the item
    selector (``xpath`` on the datastore script for Hanweb pages) then ``html2text`` -- instead of
    diffing the raw page.
    """
    d.mkdir(parents=True, exist_ok=True)
    jobs = []
    for s in env.specs:
        job = f'name: "{s.name}"\nurl: "http://{s.host}:{port}{s.path}"\n'
        if filtered:
            sel = ("xpath: '//script[@type=\"text/xml\"]'" if s.family == "hanweb-jpage"
                   else f"css: '{s.item_selector}'")
            job += f"filter:\n  - {sel}\n  - html2text\n"
        jobs.append(job)
    (d / "urls.yaml").write_text("---\n".join(jobs), encoding="utf-8")
    (d / "urlwatch.yaml").write_text("report:\n  stdout:\n    enabled: false\n    color: false\n", encoding="utf-8")


# =============================================================================================== running


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    requests: int
    statuses: dict
    items: int | None
    cycle_s: float | None
    cycle_cpu: float | None
    robots: int
    server_cpu: float
    overlaps: int
    extra: dict


def spawn(env: Env, cmd: list[str], *, extra_env: dict | None = None, cwd: Path | None = None,
          hwm_file: Path | None = None) -> Run:
    """Run one child; measure it with os.wait4; count its requests in the access log.

    Peak RSS is the child's own VmHWM (reported by the worker, or written to ``hwm_file``
    by the urlwatch wrapper): ``ru_maxrss`` of a child starts at its parent's RSS.
    """
    _, env.log_pos = LogSlice.read(env.server.log, env.log_pos)  # skip anything earlier
    cpu0 = env.server.cpu()
    e = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    e["PYTHONPYCACHEPREFIX"] = str(env.work / "pycache")  # bytecode cached as in an installed app, outside the repo
    e.update(extra_env or {})
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, cwd=cwd)
    out_err: dict[str, bytes] = {}
    t = threading.Thread(target=lambda: out_err.__setitem__("err", p.stderr.read()))  # type: ignore[union-attr]
    t.start()
    out = p.stdout.read()  # type: ignore[union-attr]
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    t.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {p.returncode}:\n{out_err['err'].decode(errors='replace')[-3000:]}")
    time.sleep(0.05)  # let the last log lines land
    sl, env.log_pos = LogSlice.read(env.server.log, env.log_pos)
    info = {}
    last = out.decode(errors="replace").strip().splitlines()
    if last and last[-1].startswith("{"):
        info = json.loads(last[-1])
    pairs, _worst, _ex = sl.overlaps()
    if hwm_file and hwm_file.exists():
        info["hwm_mb"] = int(hwm_file.read_text()) / 1024
    rss = info.get("hwm_mb") or ru.ru_maxrss / 1024
    return Run(wall=wall, cpu=ru.ru_utime + ru.ru_stime, rss_mb=rss, requests=len(sl.lines),
               statuses=sl.statuses(), items=info.get("items"), cycle_s=info.get("cycle_s"),
               cycle_cpu=info.get("cycle_cpu"), robots=sum(1 for x in sl.lines if x[5] == "/robots.txt"),
               server_cpu=env.server.cpu() - cpu0, overlaps=pairs, extra=info)


_RUN_IDS = itertools.count(1)
# urlwatch's console script, plus its own peak RSS (VmHWM) written at exit
_URLWATCH_WRAPPER = """import atexit, sys
out = sys.argv[1]
def _hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(out, "w").write(line.split()[1])
atexit.register(_hwm)
sys.argv = ["urlwatch"] + sys.argv[2:]
from urlwatch.cli import main
sys.exit(main())
"""


def worker_cmd(role: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "bench.cycle", "_worker", role, *args]


class Scenarios:
    """Builds the command for each scenario's run (fresh or seeded state per run)."""

    def __init__(self, env: Env, heuristic: bool):
        self.env = env
        w = env.work
        self.cw_conf = w / "cw.toml"
        self.cw_probe_conf = w / "cw-probe.toml"
        write_cw_config(env, self.cw_conf, env.server.port, heuristic)
        write_cw_config(env, self.cw_probe_conf, env.server.probe_port, heuristic)
        self.jobs = w / "floor-jobs.json"
        self.jobs_probe = w / "floor-jobs-probe.json"
        write_floor_jobs(env, self.jobs, env.server.port)
        write_floor_jobs(env, self.jobs_probe, env.server.probe_port)
        self.uw_dirs = {False: w / "urlwatch-raw", True: w / "urlwatch-css"}
        self.uw_wrapper = w / "urlwatch_wrapper.py"
        self.uw_wrapper.write_text(_URLWATCH_WRAPPER)
        if env.urlwatch:
            for filtered, d in self.uw_dirs.items():
                write_urlwatch_files(env, d, env.server.port, filtered)
        self.standin = [] if env.jpage_ok else ["--standin-jpage"]
        self.uw_seed: dict[bool, Path] = {}

    def _tmp(self, stem: str) -> Path:
        d = self.env.work / "runs" / f"{next(_RUN_IDS):04d}-{stem}"
        d.mkdir(parents=True)
        return d

    # -- clusterwatch
    def cw(self, db: Path, *, probe: bool = False, profile: Path | None = None, py_spy: str | None = None) -> Run:
        args = [str(self.cw_probe_conf if probe else self.cw_conf), str(db), *self.standin]
        cmd = worker_cmd("cw", *args)
        if profile and py_spy:
            cmd = [py_spy, "record", "--format", "raw", "--rate", str(PY_SPY_RATE), "--full-filenames",
                   "--output", str(profile), "--"] + cmd
        elif profile:
            cmd += ["--profile", str(profile)]
        return spawn(self.env, cmd, cwd=ROOT)

    def seed_cw(self) -> Path:
        d = self._tmp("cw-seed")
        r = self.cw(d / "cw.db")
        expected = sum(s.items for s in self.env.specs)
        if r.extra.get("bad") or r.items != expected:
            raise SystemExit(f"clusterwatch's first cycle did not read the corpus: {r.items} of {expected} items, "
                             f"outcomes {r.extra.get('outcomes')}, statuses {r.statuses}, e.g. {r.extra.get('bad')}")
        self.cw_seed = d / "cw.db"
        return self.cw_seed

    def cw_cold(self) -> Run:
        r = self.cw(self._tmp("cw-cold") / "cw.db")
        _check_cw(r, "cold")
        return r

    def cw_unchanged(self, profile: Path | None = None, py_spy: str | None = None) -> Run:
        d = self._tmp("cw-unchanged")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.cw_seed) + suffix)
            if src.exists():
                shutil.copy2(src, d / ("cw.db" + suffix))
        r = self.cw(d / "cw.db", profile=profile, py_spy=py_spy)
        _check_cw(r, "unchanged")
        return r

    # -- floor
    def floor(self, *, etags_in: Path | None = None, etags_out: Path | None = None, probe: bool = False,
              no_lock: bool = False) -> Run:
        args = [str(self.jobs_probe if probe else self.jobs), "--concurrency", str(self.env.concurrency)]
        if etags_in:
            args += ["--etags-in", str(etags_in)]
        if etags_out:
            args += ["--etags-out", str(etags_out)]
        if no_lock:
            args.append("--no-host-lock")
        return spawn(self.env, worker_cmd("floor", *args), cwd=ROOT)

    def seed_floor(self) -> None:
        self.floor_etags = self.env.work / "floor-etags.json"
        r = self.floor(etags_out=self.floor_etags)
        expected = sum(s.items for s in self.env.specs)
        if r.items != expected:
            raise SystemExit(f"the floor did not read the corpus: {r.items} of {expected} items, statuses {r.statuses}")

    def floor_cold(self) -> Run:
        return self.floor()

    def floor_unchanged(self) -> Run:
        return self.floor(etags_in=self.floor_etags)

    # -- urlwatch
    def urlwatch(self, cache: Path, filtered: bool) -> Run:
        d = self.uw_dirs[filtered]
        assert self.env.urlwatch
        home = cache.parent / "home"
        home.mkdir(exist_ok=True)
        hwm = cache.parent / "vmhwm"
        py = self.env.urlwatch.parent / "python"
        cmd = [str(py), str(self.uw_wrapper), str(hwm), "--urls", str(d / "urls.yaml"),
               "--config", str(d / "urlwatch.yaml"), "--hooks", str(d / "hooks-none.py"), "--cache", str(cache)]
        return spawn(self.env, cmd, hwm_file=hwm,
                     extra_env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                                "XDG_CACHE_HOME": str(home / ".cache")})

    def seed_urlwatch(self, filtered: bool, history: int = 1) -> None:
        d = self._tmp("uw-seed")
        self.urlwatch(d / "cache.db", filtered)
        if history > 1:  # age the cache: history-1 older versions per job, as after that many changes
            import sqlite3  # noqa: PLC0415

            con = sqlite3.connect(d / "cache.db")
            rows = con.execute("SELECT guid, timestamp, data, tries, etag FROM CacheEntry").fetchall()
            con.executemany("INSERT INTO CacheEntry (guid, timestamp, data, tries, etag) VALUES (?, ?, ?, ?, ?)",
                            ((g, ts - k * 86400, f"{data}\n<!-- version -{k} -->", tries, etag)
                             for g, ts, data, tries, etag in rows for k in range(1, history)))
            con.commit()
            con.close()
        self.uw_seed[filtered] = d / "cache.db"

    def uw_cold(self, filtered: bool) -> Run:
        return self.urlwatch(self._tmp("uw-cold") / "cache.db", filtered)

    def uw_unchanged(self, filtered: bool) -> Run:
        d = self._tmp("uw-unchanged")
        shutil.copy2(self.uw_seed[filtered], d / "cache.db")
        return self.urlwatch(d / "cache.db", filtered)


def _check_cw(r: Run, what: str) -> None:
    bad = r.extra.get("bad")
    if bad:
        print(f"  WARNING: clusterwatch {what}: {r.extra.get('outcomes')}; e.g. {bad}", flush=True)


# =============================================================================================== report


def med(xs: list[float | None]) -> float | None:
    ys = [x for x in xs if x is not None]
    return statistics.median(ys) if ys else None


def fmt(x: float | None, spec: str) -> str:
    if x is not None:
        return format(x, spec)
    width = re.match(r"\d*", spec).group()  # type: ignore[union-attr]
    return "—".rjust(int(width) if width else 0)


def summarize(name: str, runs: list[Run]) -> dict:
    st: Counter = Counter()
    for r in runs:
        st.update(r.statuses)
    return {
        "name": name, "runs": len(runs),
        "wall": med([r.wall for r in runs]), "cpu": med([r.cpu for r in runs]),
        "rss": med([r.rss_mb for r in runs]), "rss_max": max(r.rss_mb for r in runs),
        "requests": med([r.requests for r in runs]), "items": med([r.items for r in runs]),
        "cycle": med([r.cycle_s for r in runs]), "cycle_cpu": med([r.cycle_cpu for r in runs]),
        "robots": med([r.robots for r in runs]), "server_cpu": med([r.server_cpu for r in runs]),
        "statuses": {k: v // len(runs) for k, v in sorted(st.items())},
        "overlaps": sum(r.overlaps for r in runs),
        "walls": [round(r.wall, 3) for r in runs], "cpus": [round(r.cpu, 3) for r in runs],
    }


def print_table(rows: list[dict], n: int) -> None:
    head = (f"{'scenario':22} {'wall s':>7} {'CPU s':>6} {'CPU ms/src':>10} {'RSS MB':>7} {'cycle s':>8} "
            f"{'cycle CPU':>9} {'requests':>9} {'robots':>6} {'items':>6} {'nginx CPU':>9}  statuses")
    print(head)
    print("-" * len(head))
    for r in rows:
        st = " ".join(f"{k}:{v}" for k, v in r["statuses"].items())
        print(f"{r['name']:22} {fmt(r['wall'], '7.2f')} {fmt(r['cpu'], '6.2f')} "
              f"{fmt(None if r['cpu'] is None else r['cpu'] / n * 1000, '10.2f')} {fmt(r['rss'], '7.1f')} "
              f"{fmt(r['cycle'], '8.2f')} {fmt(r['cycle_cpu'], '9.2f')} {fmt(r['requests'], '9.0f')} "
              f"{fmt(r['robots'], '6.0f')} {fmt(r['items'], '6.0f')} {fmt(r['server_cpu'], '9.2f')}  {st}")


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


# =============================================================================================== main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_worker":
        {"cw": _worker_cw, "floor": _worker_floor}[argv[1]](argv[2:])
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench.cycle", description=__doc__.split("\n")[0])
    ap.add_argument("--sources", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5, help="measured runs per scenario (medians; default 5)")
    ap.add_argument("--concurrency", type=int, default=10,
                    help="hosts fetched at once, for clusterwatch and the floor (default 10, see --sweep)")
    ap.add_argument("--hosts", type=int, default=50, help="loopback addresses 127.0.0.2 .. (default 50)")
    ap.add_argument("--heuristic", action="store_true", help="static sources without selectors (dated-links heuristic)")
    ap.add_argument("--scenarios", help="run only some: cw, floor, urlwatch, urlwatch-css, or full names "
                                        "such as cw-cold, urlwatch-css-unchanged (comma-separated)")
    ap.add_argument("--no-urlwatch", action="store_true")
    ap.add_argument("--urlwatch-history", type=int, default=1, metavar="N",
                    help="versions per job in urlwatch's cache for its unchanged runs (default 1: just seeded; "
                         "its cache has no index on the job id, so this grows with use)")
    ap.add_argument("--no-probe", action="store_true", help="skip the politeness probe")
    ap.add_argument("--sweep", metavar="C1,C2,...", help="instead: cw cold/unchanged and floor cold at each concurrency")
    ap.add_argument("--python-server", action="store_true", help="serve with the Python fallback, not nginx")
    ap.add_argument("--profile", metavar="DIR", help="also profile one cw cold and one cw unchanged run into DIR "
                                                     "(py-spy if found, else cProfile with a CPU timer)")
    ap.add_argument("--py-spy", metavar="PATH", help="py-spy executable for --profile (default: on PATH)")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temp dir, removed)")
    ap.add_argument("--json", metavar="FILE", help="write the summary as JSON")
    ap.add_argument("--seed", type=int, default=0, help="corpus seed")
    a = ap.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from bench.corpus import generate, host_of  # noqa: PLC0415

    load_before = os.getloadavg()
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="cw-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)  # mkdtemp makes it 0700; nginx's workers (www-data) must read the corpus
    shutil.rmtree(work / "runs", ignore_errors=True)
    server = None
    try:
        t = time.perf_counter()
        specs = generate(work / "corpus", a.sources, seed=a.seed, hosts=a.hosts)
        kb = statistics.median(s.list_bytes for s in specs) / 1024
        fams = Counter(s.family for s in specs)
        print(f"corpus: {a.sources} sources ({', '.join(f'{k} {v}' for k, v in sorted(fams.items()))}), "
              f"{sum(s.items for s in specs)} items, list pages median {kb:.1f} KiB "
              f"({min(s.list_bytes for s in specs) / 1024:.1f}-{max(s.list_bytes for s in specs) / 1024:.1f}); "
              f"written in {time.perf_counter() - t:.1f}s", flush=True)
        hosts = [host_of(i, a.hosts) for i in range(min(a.hosts, a.sources))]
        port = free_port(hosts)
        if shutil.which("nginx") and not a.python_server:
            server = Nginx(work, work / "corpus" / "www", hosts, port)
        else:
            print("NOTE: nginx not found (apt-get install -y nginx): using the Python fallback server, "
                  "which may be the bottleneck")
            server = PyServer(work, work / "corpus" / "www", hosts, port)
        print(f"server: {server.kind} on {hosts[0]}..{hosts[-1]} port {port}"
              + (f" (probe port {port + 1}: {PROBE_DELAY * 1000:.0f} ms per response)" if server.has_probe else ""))
        have = adapters_available()
        jpage_ok, trs_ok = "hanweb-jpage" in have, "trs" in have
        if not jpage_ok:
            print("NOTE: scraper/parse/jpage.py has not landed (no 'hanweb-jpage' adapter): its sources run with a "
                  "bench stand-in (regex over the CDATA records + the static adapter)")
        if not trs_ok:
            print("NOTE: scraper/parse/trs.py has not landed (no 'trs' adapter): TRS sources use kind 'static'")
        want_uw = not a.no_urlwatch and not a.sweep and (not a.scenarios or "urlwatch" in a.scenarios)
        uw = ensure_urlwatch() if want_uw else None
        env = Env(work=work, corpus=work / "corpus", specs=specs, server=server, jpage_ok=jpage_ok, trs_ok=trs_ok,
                  concurrency=a.concurrency, urlwatch=uw)
        if a.sweep:
            run_sweep(a, env, [int(x) for x in a.sweep.split(",")])
            return 0
        sc = Scenarios(env, a.heuristic)
        print(f"clusterwatch: concurrency {a.concurrency}, delay 0, retries 0, follow_details false, "
              f"{'heuristic' if a.heuristic else 'selectors'} for static sources; floor: same concurrency, "
              f"one request per host at a time", flush=True)

        scen: list[tuple[str, object]] = [
            ("cw cold", sc.cw_cold), ("cw unchanged", sc.cw_unchanged),
            ("floor cold", sc.floor_cold), ("floor unchanged", sc.floor_unchanged)]
        if uw:
            scen += [("urlwatch cold", lambda: sc.uw_cold(False)),
                     ("urlwatch unchanged", lambda: sc.uw_unchanged(False)),
                     ("urlwatch-css cold", lambda: sc.uw_cold(True)),
                     ("urlwatch-css unchanged", lambda: sc.uw_unchanged(True))]
        if a.scenarios:
            wanted = {x.strip() for x in a.scenarios.split(",")}
            scen = [(name, fn) for name, fn in scen if name.replace(" ", "-") in wanted or name.split()[0] in wanted]
        names = {name for name, _ in scen}

        # untimed: warm the page cache and the bytecode cache, seed the unchanged scenarios
        t = time.perf_counter()
        if names & {"cw cold", "cw unchanged"} or a.profile:
            sc.seed_cw()
        if names & {"floor cold", "floor unchanged"}:
            sc.seed_floor()
        for filtered, prefix in ((False, "urlwatch "), (True, "urlwatch-css ")):
            if any(n.startswith(prefix) for n in names):
                sc.seed_urlwatch(filtered, a.urlwatch_history)
        print(f"seeded in {time.perf_counter() - t:.1f}s; measuring {a.runs} rounds of {len(scen)} scenarios ...",
              flush=True)

        results: dict[str, list[Run]] = {name: [] for name, _ in scen}
        t = time.perf_counter()
        for k in range(a.runs):
            for name, fn in scen:
                results[name].append(fn())  # type: ignore[operator]
            print(f"  round {k + 1}/{a.runs} done ({time.perf_counter() - t:.0f}s)", flush=True)
        rows = [summarize(name, runs) for name, runs in results.items()]

        probe = run_probe(sc, names) if server.has_probe and not a.no_probe and names & {"cw cold", "floor cold"} else None
        profiles = run_profile(a, sc) if a.profile else None
        load_after = os.getloadavg()
        report(a, env, rows, probe, (load_before, load_after))
        if profiles:
            print()
            for p in profiles:
                print(p)
        if a.json:
            Path(a.json).write_text(json.dumps({
                "command": "python -m bench.cycle " + " ".join(argv), "rows": rows, "probe": probe,
                "server": server.kind, "jpage_adapter": jpage_ok, "trs_adapter": trs_ok, "cpus": os.cpu_count(),
                "python": sys.version.split()[0], "load": [load_before, load_after]}, indent=1))
        return 0
    finally:
        if server is not None:
            server.stop()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


def run_probe(sc: Scenarios, names: set[str]) -> dict:
    """Untimed: every response held PROBE_DELAY, so concurrent fetches of one host overlap visibly."""
    print(f"politeness probe ({PROBE_DELAY * 1000:.0f} ms per response) ...", flush=True)
    out = {}
    todo = []
    if "cw cold" in names:
        todo.append(("cw cold", lambda: sc.cw(sc._tmp("cw-probe") / "cw.db", probe=True)))
    todo += [("floor cold", lambda: sc.floor(probe=True)),
             ("control: floor without host lock", lambda: sc.floor(probe=True, no_lock=True))]
    for name, fn in todo:
        r = fn()
        out[name] = {"requests": r.requests, "overlaps": r.overlaps, "wall": round(r.wall, 2)}
    return out


def run_profile(a: argparse.Namespace, sc: Scenarios) -> list[str]:
    from bench import stages  # noqa: PLC0415

    pdir = Path(a.profile).resolve()
    pdir.mkdir(parents=True, exist_ok=True)
    spy = a.py_spy or shutil.which("py-spy")
    print(f"profiling one cw cold and one cw unchanged run with {'py-spy' if spy else 'cProfile (CPU timer)'} ...",
          flush=True)
    out = []
    ext = "txt" if spy else "prof"
    cold, unch = pdir / f"cw-cold.{ext}", pdir / f"cw-unchanged.{ext}"
    sc.cw(sc._tmp("cw-prof") / "cw.db", profile=cold, py_spy=spy)
    sc.cw_unchanged(profile=unch, py_spy=spy)
    for f in (cold, unch):
        if spy:
            out.append(stages.report(f, top=12, rate=PY_SPY_RATE))
        else:
            import io  # noqa: PLC0415
            import pstats  # noqa: PLC0415

            buf = io.StringIO()
            pstats.Stats(str(f), stream=buf).sort_stats("tottime").print_stats(20)
            out.append(f"{f} (cProfile, CPU timer; deterministic profiling inflates small Python calls):\n"
                       + buf.getvalue())
    return out


def run_sweep(a: argparse.Namespace, env: Env, levels: list[int]) -> None:
    print(f"concurrency sweep {levels}: cw cold, cw unchanged, floor cold; {a.runs} runs each", flush=True)
    rows = []
    for c in levels:
        env.concurrency = c
        sc = Scenarios(env, a.heuristic)
        sc.seed_cw()
        runs: dict[str, list[Run]] = {"cw cold": [], "cw unchanged": [], "floor cold": []}
        for _ in range(a.runs):
            runs["cw cold"].append(sc.cw_cold())
            runs["cw unchanged"].append(sc.cw_unchanged())
            runs["floor cold"].append(sc.floor_cold())
        for name, rs in runs.items():
            rows.append(summarize(f"c={c:<3} {name}", rs))
        print(f"  concurrency {c} done", flush=True)
    print()
    print(f"{a.sources} sources over {a.hosts} hosts, medians of {a.runs} runs, {os.cpu_count()} CPUs")
    print_table(rows, a.sources)


def report(a: argparse.Namespace, env: Env, rows: list[dict], probe: dict | None,
           loads: tuple[tuple[float, ...], tuple[float, ...]]) -> None:
    n = a.sources
    by = {r["name"]: r for r in rows}
    print()
    print(f"clusterwatch bench: {n} sources over {min(a.hosts, n)} hosts, medians of {a.runs} runs; "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {env.server.kind}; "
          f"load average {loads[0][0]:.2f} before, {loads[1][0]:.2f} after")
    print(f"command: python -m bench.cycle {' '.join(sys.argv[1:])}")
    print("wall / CPU (user+sys) / RSS: the whole child process, startup and imports included; "
          "'cycle' columns: the cycle alone, timed inside the process")
    print()
    print_table(rows, n)
    print()
    cw_c, cw_u = by.get("cw cold"), by.get("cw unchanged")
    fl_c, fl_u = by.get("floor cold"), by.get("floor unchanged")
    uw_c, uw_u = by.get("urlwatch cold"), by.get("urlwatch unchanged")
    uc_c, uc_u = by.get("urlwatch-css cold"), by.get("urlwatch-css unchanged")
    print("ratios, clusterwatch / other (below 1: clusterwatch is cheaper):")
    for label, x, y in (("cold vs floor", cw_c, fl_c), ("unchanged vs floor", cw_u, fl_u),
                        ("cold vs urlwatch", cw_c, uw_c), ("unchanged vs urlwatch", cw_u, uw_u),
                        ("cold vs urlwatch-css", cw_c, uc_c), ("unchanged vs urlwatch-css", cw_u, uc_u)):
        if x and y:
            print(f"  {label:26} wall {fmt(ratio(x['wall'], y['wall']), '5.2f')}x   CPU "
                  f"{fmt(ratio(x['cpu'], y['cpu']), '5.2f')}x"
                  + (f"   cycle-only wall {fmt(ratio(x['cycle'], y['cycle']), '5.2f')}x, CPU "
                     f"{fmt(ratio(x['cycle_cpu'], y['cycle_cpu']), '5.2f')}x" if y["cycle"] else ""))
    print()
    checks = []
    if cw_c and uw_c:
        r = ratio(uw_c["wall"], cw_c["wall"])
        extra = f"; vs urlwatch-css {fmt(ratio(uc_c['wall'], cw_c['wall']), '.2f')}x" if uc_c else ""
        checks.append(("cold cycle at least 2x faster than urlwatch (wall)", r is not None and r >= 2.0,
                       f"urlwatch / clusterwatch = {fmt(r, '.2f')}x{extra}"))
    if cw_c and fl_c:
        r = ratio(cw_c["wall"], fl_c["wall"])
        checks.append(("cold cycle within 1.5x of the floor (wall)", r is not None and r <= 1.5,
                       f"clusterwatch / floor = {fmt(r, '.2f')}x (CPU {fmt(ratio(cw_c['cpu'], fl_c['cpu']), '.2f')}x, "
                       f"cycle-only wall {fmt(ratio(cw_c['cycle'], fl_c['cycle']), '.2f')}x)"))
    if cw_u:
        ms = cw_u["cpu"] / n * 1000
        cyc = cw_u["cycle_cpu"] / n * 1000 if cw_u["cycle_cpu"] is not None else None
        checks.append(("all-unchanged cycle at most 1.5 ms CPU per source", ms <= 1.5,
                       f"{ms:.2f} ms/source for the whole process ({fmt(cyc, '.2f')} ms in the cycle itself)"))
        if uw_u:
            r = uw_u["cpu"] / cw_u["cpu"]
            checks.append(("all-unchanged cycle at least 3x cheaper than urlwatch (CPU)", r >= 3.0,
                           f"urlwatch {uw_u['cpu'] / n * 1000:.2f} ms/source = {r:.2f}x clusterwatch"))
        if cw_u["statuses"].get(304, 0) < n * 0.99:
            print(f"  NOTE: only {cw_u['statuses'].get(304, 0)} of {n} list requests answered 304 in 'cw unchanged'")
    if cw_c and cw_u:
        rss = max(cw_c["rss_max"], cw_u["rss_max"])
        checks.append(("peak RSS at most 100 MB", rss <= 100, f"{rss:.1f} MB (largest over all clusterwatch runs)"))
    if cw_c:
        pol_ok = cw_c["overlaps"] == 0 and (cw_u is None or cw_u["overlaps"] == 0)
        detail = f"timed runs: {cw_c['overlaps'] + (cw_u['overlaps'] if cw_u else 0)} overlapping pairs"
        if probe and "cw cold" in probe:
            p, ctrl = probe["cw cold"], probe["control: floor without host lock"]
            pol_ok = pol_ok and p["overlaps"] == 0
            detail += (f"; probe: {p['overlaps']} overlapping pairs in {p['requests']} requests "
                       f"(positive control, the floor without its host lock: {ctrl['overlaps']} pairs"
                       + (")" if ctrl["overlaps"] else " -- WARNING: the check saw none)"))
        else:
            detail += " (no probe: only gross overlaps are visible at 1 ms log resolution)"
        checks.append(("one host never fetched concurrently (nginx access log)", pol_ok, detail))
    scope = "" if n == 1000 else f" (set for 1000 sources; this run has {n})"
    print(f"targets{scope}:")
    for name, ok, why in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {why}")
    notes = []
    if not env.jpage_ok:
        notes.append("hanweb-jpage sources ran on the bench stand-in adapter")
    if not env.trs_ok:
        notes.append("trs sources ran as kind static")
    if notes:
        print("  note: " + "; ".join(notes))


if __name__ == "__main__":
    sys.exit(main())
