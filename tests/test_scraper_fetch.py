"""scraper.fetch.Fetcher against real loopback servers (reliability.md section 4).

Every test talks to a FixtureServer on 127.0.0.1 (one also on 127.0.0.2).
pytest-asyncio is not installed: each test drives its coroutine with asyncio.run.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import sys
import threading
import time
import tracemalloc
import zlib
from dataclasses import replace
from functools import lru_cache
from typing import Any, Iterator

import pytest

from config import Politeness
from scraper.blocked import block_reason, broken_reason
from scraper.errors import Blocked, Broken, FetchError, TooLarge
from scraper.fetch import Fetcher
from scraper.models import Fetched
from tests.conftest import LOOPBACK, PAGES
from tests.servers.http import FixtureServer, Request, Resp

UA = "test-agent/1.0"
POL = Politeness(delay=0, retries=2, deadline=10, max_bytes=2_000_000, max_redirects=5, timeout=5)
LIST_HTML = (PAGES / "static" / "jiaxing_list.html").read_text(encoding="utf-8")
LIST_BYTES = LIST_HTML.encode("utf-8")
GB_TITLE = "关于嘉兴镕鑫新材料有限公司和浙江喆凯智能科技有限公司拟认定名单的公示"


@pytest.fixture(scope="module")
def _server() -> Iterator[FixtureServer]:
    server = FixtureServer()
    report = server.httpd.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        # the deadline, timeout and size-cap tests abandon connections on purpose
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            report(request, client_address)

    server.httpd.handle_error = handle_error  # type: ignore[method-assign]
    yield server
    server.close()


@pytest.fixture
def site(_server: FixtureServer) -> Iterator[FixtureServer]:
    """Like conftest's ``site``, but one server per module, reset before each test.

    FixtureServer.close() waits for serve_forever's 0.5 s poll, which a server
    per test would pay about 60 times here.
    """
    _server.routes.clear()
    _server.requests.clear()
    yield _server


def get(url: str, pol: Politeness = POL, **kw: Any) -> Fetched:
    async def go() -> Fetched:
        async with Fetcher(pol, UA, network=LOOPBACK) as f:
            return await f.get(url, **kw)

    return asyncio.run(go())


def get_many(urls: list[str], pol: Politeness, *, concurrent: bool) -> list[Fetched]:
    async def go() -> list[Fetched]:
        async with Fetcher(pol, UA, network=LOOPBACK) as f:
            if concurrent:
                return list(await asyncio.gather(*(f.get(u) for u in urls)))
            return [await f.get(u) for u in urls]

    return asyncio.run(go())


def timed(resp: Resp, times: list[float]):
    """A route that records when each request reached the server."""

    def handler(req: Request) -> Resp:
        times.append(time.monotonic())
        return resp

    return handler


# ---------------------------------------------------------------- plain 200

def test_200_returns_decoded_text(site: FixtureServer) -> None:
    site.routes["/col/col1229399350/index.html"] = Resp(200, LIST_BYTES, content_type="text/html")
    url = site.url("/col/col1229399350/index.html")
    f = get(url)
    assert (f.url, f.final_url, f.status, f.not_modified) == (url, url, 200, False)
    assert f.body == LIST_BYTES
    assert f.text == LIST_HTML
    assert f.encoding == "utf-8"
    assert f.headers["content-type"] == "text/html"
    assert 0 < f.elapsed < 5


def test_charset_from_the_header(site: FixtureServer) -> None:
    body = f"<html><body><ul><li>{GB_TITLE}</li></ul></body></html>"
    site.routes["/gb"] = Resp(200, body.encode("gb18030"), content_type="text/html; charset=gb2312")
    f = get(site.url("/gb"))
    assert f.text == body
    assert f.encoding == "gb18030"


def test_header_charset_beats_meta(site: FixtureServer) -> None:
    body = f'<html><head><meta charset="utf-8"></head><body>{GB_TITLE}</body></html>'
    site.routes["/gbk"] = Resp(200, body.encode("gbk"), content_type="text/html; charset=GBK")
    assert get(site.url("/gbk")).text == body


def test_request_headers(site: FixtureServer) -> None:
    site.routes["/p"] = Resp(200, LIST_BYTES)
    get(site.url("/p"), referer="http://jxj.jiaxing.gov.cn/col/col1229399350/index.html")
    get(site.url("/p"))
    first, second = site.hits("/p")
    assert first.headers["user-agent"] == UA
    assert first.headers["accept-language"].startswith("zh-CN")
    assert first.headers["accept-encoding"] == "gzip"
    assert first.headers["referer"] == "http://jxj.jiaxing.gov.cn/col/col1229399350/index.html"
    assert "referer" not in second.headers
    assert "if-none-match" not in second.headers and "if-modified-since" not in second.headers


# ---------------------------------------------------------------- conditional GET

def test_304_is_returned_not_raised_and_validators_are_sent(site: FixtureServer) -> None:
    def conditional(req: Request) -> Resp:
        if req.headers.get("if-none-match") == '"v1"':
            return Resp(304, b"", headers={"ETag": '"v1"'}, content_type=None)
        return Resp(200, LIST_BYTES, headers={"ETag": '"v1"'})

    site.routes["/list"] = conditional
    lm = "Wed, 21 Oct 2026 07:28:00 GMT"
    f = get(site.url("/list"), etag='"v1"', last_modified=lm)
    assert f.status == 304 and f.not_modified
    assert f.body == b"" and f.text == ""
    req = site.hits("/list")[0]
    assert req.headers["if-none-match"] == '"v1"'
    assert req.headers["if-modified-since"] == lm

    changed = get(site.url("/list"), etag='"v0"')
    assert changed.status == 200 and changed.text == LIST_HTML
    assert len(site.hits("/list")) == 2  # a 304 is an answer: never retried


def test_only_last_modified(site: FixtureServer) -> None:
    site.routes["/lm"] = Resp(304, b"", content_type=None)
    f = get(site.url("/lm"), last_modified="Wed, 21 Oct 2026 07:28:00 GMT")
    assert f.status == 304
    [req] = site.hits("/lm")
    assert "if-none-match" not in req.headers and req.headers["if-modified-since"] == "Wed, 21 Oct 2026 07:28:00 GMT"


# ---------------------------------------------------------------- redirects

def chain(site: FixtureServer, name: str, hops: int) -> str:
    """``hops`` redirects (mixed codes and Location styles) ending at /{name}/final."""
    codes = [301, 302, 303, 307, 308]
    for i in range(hops):
        nxt = f"/{name}/{i + 1}" if i + 1 < hops else f"/{name}/final"
        location = [nxt, site.url(nxt), nxt.rsplit("/", 1)[1]][i % 3]  # root-relative, absolute, relative
        site.routes[f"/{name}/{i}"] = Resp(codes[i % len(codes)], b"", headers={"Location": location})
    site.routes[f"/{name}/final"] = Resp(200, LIST_BYTES)
    return site.url(f"/{name}/0") if hops else site.url(f"/{name}/final")


def test_redirects_are_followed_up_to_max_redirects(site: FixtureServer) -> None:
    start = chain(site, "ok", 5)
    f = get(start)
    assert f.status == 200 and f.text == LIST_HTML
    assert f.url == start
    assert f.final_url == site.url("/ok/final")
    assert [r.path for r in site.requests] == ["/ok/0", "/ok/1", "/ok/2", "/ok/3", "/ok/4", "/ok/final"]


def test_one_redirect_too_many_is_rejected_and_not_retried(site: FixtureServer) -> None:
    start = chain(site, "long", 6)
    with pytest.raises(FetchError) as e:
        get(start)
    assert not isinstance(e.value, (Blocked, TooLarge))
    assert "redirect" in str(e.value) and start in str(e.value)
    assert not site.hits("/long/final")
    assert len(site.requests) == 6  # a redirect chain is deterministic: retrying it only hammers the host


def test_max_redirects_is_configurable(site: FixtureServer) -> None:
    start = chain(site, "two", 2)
    assert get(start, replace(POL, max_redirects=2)).status == 200
    with pytest.raises(FetchError):
        get(start, replace(POL, max_redirects=1))


def test_redirect_loop_is_rejected(site: FixtureServer) -> None:
    site.routes["/loop"] = Resp(302, b"", headers={"Location": "/loop"})
    with pytest.raises(FetchError):
        get(site.url("/loop"))
    assert len(site.hits("/loop")) == POL.max_redirects + 1


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/list.html", "javascript:alert(1)",
                                      "gopher://127.0.0.1:70/"])
def test_redirect_to_a_non_http_scheme_is_refused(site: FixtureServer, location: str) -> None:
    site.routes["/r"] = Resp(302, b"", headers={"Location": location})
    with pytest.raises(FetchError) as e:  # a FetchError, not an httpx exception leaking out
        get(site.url("/r"))
    assert "non-http" in str(e.value) or "invalid URL" in str(e.value)
    assert len(site.requests) == 1
    assert not isinstance(e.value, (Blocked, TooLarge))


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/list.html", "http://[::1/list.html", "ftp://127.0.0.1/list.html",
                                 "http:///list.html"])
def test_a_malformed_url_is_a_fetch_error(url: str) -> None:
    with pytest.raises(FetchError) as e:  # not ValueError / OverflowError / an httpx exception
        get(url)
    assert url in str(e.value)


def test_a_malformed_redirect_target_is_a_fetch_error_and_not_retried(site: FixtureServer) -> None:
    site.routes["/r"] = Resp(302, b"", headers={"Location": "http://127.0.0.1:99999/list.html"})
    with pytest.raises(FetchError) as e:
        get(site.url("/r"))
    assert "99999" in str(e.value)
    assert len(site.requests) == 1


def test_redirect_without_location_is_an_error(site: FixtureServer) -> None:
    site.routes["/r"] = Resp(302, b"moved")
    with pytest.raises(FetchError) as e:
        get(site.url("/r"))
    assert e.value.status == 302


# ---------------------------------------------------------------- body size and encoding

def test_gzip_body_is_decoded(site: FixtureServer) -> None:
    site.routes["/gz"] = Resp(200, gzip.compress(LIST_BYTES), headers={"Content-Encoding": "gzip"})
    site.routes["/xgz"] = Resp(200, gzip.compress(LIST_BYTES), headers={"Content-Encoding": "x-gzip"})
    for path in ("/gz", "/xgz"):
        f = get(site.url(path))
        assert f.body == LIST_BYTES
        assert f.text == LIST_HTML


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """50 MB of zeros, gzipped to about 50 KB."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1_000_000)
    return b"".join(z.compress(chunk) for _ in range(50)) + z.flush()


def test_gzip_bomb_is_aborted_with_too_large(site: FixtureServer) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 200_000  # small on the wire: only the decompressed count can catch it
    site.routes["/bomb"] = Resp(200, bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge) as e:
            get(site.url("/bomb"), replace(POL, max_bytes=1_000_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "decompression" in str(e.value)
    assert len(site.hits("/bomb")) == 1  # too large is final, not retried
    # inflated in bounded steps and abandoned at the cap: nowhere near the 50 MB it would expand to
    assert peak < 15_000_000, peak


def test_gzip_body_under_the_cap_passes(site: FixtureServer) -> None:
    body = bytes(900_000)
    site.routes["/big"] = Resp(200, gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert get(site.url("/big"), replace(POL, max_bytes=1_000_000)).body == body


@pytest.mark.parametrize(("size", "ok"), [(1000, True), (1001, False)])
def test_plain_body_cap_boundary(site: FixtureServer, size: int, ok: bool) -> None:
    site.routes["/p"] = Resp(200, b"a" * size, content_type="text/plain")
    if ok:
        assert len(get(site.url("/p"), max_bytes=1000).body) == size
    else:
        with pytest.raises(TooLarge):
            get(site.url("/p"), max_bytes=1000)


def test_large_plain_body_is_too_large(site: FixtureServer) -> None:
    site.routes["/huge"] = Resp(200, b"x" * 1_500_000)
    with pytest.raises(TooLarge):
        get(site.url("/huge"), replace(POL, max_bytes=1_000_000))
    assert get(site.url("/huge"), replace(POL, max_bytes=2_000_000)).status == 200


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, br"])
def test_unsupported_content_encoding_is_rejected(site: FixtureServer, encoding: str) -> None:
    site.routes["/enc"] = Resp(200, b"\x0b\x02\x80hello\x03", headers={"Content-Encoding": encoding})
    with pytest.raises(FetchError) as e:
        get(site.url("/enc"))
    assert not isinstance(e.value, TooLarge)
    assert "content-encoding" in str(e.value)
    assert len(site.requests) == 1


def test_corrupt_gzip_is_a_fetch_error(site: FixtureServer) -> None:
    site.routes["/bad"] = Resp(200, b"\x1f\x8b\x08\x00" + b"not really gzip" * 10, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError) as e:
        get(site.url("/bad"))
    assert "gzip" in str(e.value)


# ---------------------------------------------------------------- retries

def test_500_then_200_is_retried(site: FixtureServer) -> None:
    site.routes["/flaky"] = [Resp(500, b"Internal Server Error"), Resp(200, LIST_BYTES)]
    f = get(site.url("/flaky"))
    assert f.status == 200 and f.text == LIST_HTML
    assert len(site.hits("/flaky")) == 2


def test_retries_are_bounded(site: FixtureServer) -> None:
    site.routes["/down"] = Resp(502, b"Bad Gateway")
    with pytest.raises(FetchError) as e:
        get(site.url("/down"), replace(POL, retries=1))
    assert e.value.status == 502
    assert len(site.hits("/down")) == 2


def test_503_retry_after_is_honoured(site: FixtureServer) -> None:
    times: list[float] = []
    responses = [Resp(503, b"busy", headers={"Retry-After": "1"}), Resp(200, LIST_BYTES)]

    def busy(req: Request) -> Resp:
        times.append(time.monotonic())
        return responses.pop(0) if len(responses) > 1 else responses[0]

    site.routes["/busy"] = busy
    f = get(site.url("/busy"))
    assert f.status == 200
    assert len(times) == 2
    assert times[1] - times[0] >= 0.9  # waited about the second the server asked for


def test_429_with_retry_after_zero_is_retried(site: FixtureServer) -> None:
    site.routes["/rl"] = [Resp(429, b"slow down", headers={"Retry-After": "0"}), Resp(200, LIST_BYTES)]
    assert get(site.url("/rl")).status == 200
    assert len(site.hits("/rl")) == 2


def test_retry_after_beyond_the_deadline_gives_up_at_once(site: FixtureServer) -> None:
    site.routes["/later"] = Resp(503, b"maintenance", headers={"Retry-After": "3600"})
    with pytest.raises(FetchError) as e:
        get(site.url("/later"), replace(POL, deadline=5))
    assert e.value.status == 503 and e.value.retry_after == 3600
    assert len(site.hits("/later")) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_other_4xx_are_not_retried(site: FixtureServer, status: int) -> None:
    site.routes["/gone"] = Resp(status, b"<html><body>Not here</body></html>")
    with pytest.raises(FetchError) as e:
        get(site.url("/gone"))
    assert not isinstance(e.value, Blocked)
    assert e.value.status == status
    assert len(site.hits("/gone")) == 1


def test_read_timeout_is_retried(site: FixtureServer) -> None:
    calls: list[int] = []

    def slow_once(req: Request) -> Resp:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.6)  # longer than the 0.3 s read timeout
        return Resp(200, LIST_BYTES)

    site.routes["/slow"] = slow_once
    f = get(site.url("/slow"), replace(POL, timeout=0.3))
    assert f.status == 200
    assert len(calls) == 2


def test_connection_refused_is_a_fetch_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago; nothing listens on it now
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/x"
    with pytest.raises(FetchError) as e:
        get(url, replace(POL, retries=0))
    assert url in str(e.value)


# ---------------------------------------------------------------- deadline

def test_a_server_that_never_answers_is_cut_off_by_the_deadline(site: FixtureServer) -> None:
    release = threading.Event()

    def hang(req: Request) -> Resp:
        release.wait(10)
        return Resp(200, b"too late")

    site.routes["/hang"] = hang
    try:
        with pytest.raises(FetchError) as e:
            get(site.url("/hang"), replace(POL, deadline=1.5, timeout=5))
        assert "deadline" in str(e.value)
        assert not isinstance(e.value, (Blocked, TooLarge))
        assert len(site.hits("/hang")) == 1
    finally:
        release.set()


# ---------------------------------------------------------------- blocks and challenges

@pytest.mark.parametrize(
    ("resp", "reason"),
    [
        (Resp(412, b"<html><head><meta id='9DhefwqGPrzA' content='challenge'><script src='/a.js'></script></head></html>"),
         "412"),
        (Resp(521, b"<script>document.cookie='__jsl_clearance=1';location.reload()</script>",
              headers={"Set-Cookie": "__jsluid_h=0123456789abcdef; path=/"}), "521"),
        (Resp(200, "<html><head><title>提示</title></head><body>您的访问频繁，请稍后再试</body></html>"), "访问频繁"),
        (Resp(200, "<html><body><h2>安全验证</h2><p>请输入验证码</p></body></html>"), "安全验证"),
        (Resp(503, b"<html></html>", headers={"Set-Cookie": "__jsluid_s=abc; path=/"}), "cookie"),
        (Resp(403, b"<html></html>", headers={"Set-Cookie": "acw_sc__v2=abc; path=/"}), "cookie"),
        (Resp(200, LIST_BYTES, headers={"cf-mitigated": "challenge"}), "cf-mitigated"),
    ],
)
def test_challenges_and_soft_blocks_raise_blocked(site: FixtureServer, resp: Resp, reason: str) -> None:
    site.routes["/b"] = resp
    with pytest.raises(Blocked) as e:
        get(site.url("/b"))
    assert reason in str(e.value)
    assert e.value.status == resp.status
    assert len(site.hits("/b")) == 1  # never retried, never "solved"


def test_a_big_page_that_mentions_a_block_word_in_its_body_is_content(site: FixtureServer) -> None:
    html = LIST_HTML.replace("</ul>", "<li><a href='/a.html'>关于短信验证码登录系统维护的通知</a><span>2026-01-02</span></li></ul>", 1)
    assert len(html) > 3000
    site.routes["/ok"] = Resp(200, html)
    assert get(site.url("/ok")).text == html


@pytest.mark.parametrize(
    ("status", "headers", "text", "blocked"),
    [
        (412, {}, "", True),
        (521, {}, "", True),
        (200, {"cf-mitigated": "Challenge"}, "x" * 5000, True),
        (429, {"set-cookie": "__jsluid_s=1"}, "", True),
        (429, {}, "", False),
        (403, {}, "Forbidden", False),
        (404, {}, "<title>页面不存在</title>", False),  # an error status is an error, not a block
        (200, {}, "<title>404 Not Found</title>" + "x" * 5000, False),  # broken, not blocked: see below
        (200, {}, "<title>系统维护中</title>" + "x" * 5000, False),
        (200, {}, "<title>通知公告</title>" + "请输入验证码" + "x" * 5000, False),
        (200, {}, "<p>ACCESS DENIED</p>", True),
        (200, {}, "<p>正常的小页面</p>", False),
    ],
)
def test_block_reason(status: int, headers: dict, text: str, blocked: bool) -> None:
    assert (block_reason(status, headers, text) is not None) is blocked


@pytest.mark.parametrize(
    ("status", "text", "broken"),
    [
        (200, "<title>404 Not Found</title>" + "x" * 5000, True),
        (200, "<title>系统维护中</title>" + "x" * 5000, True),
        (200, "<p>网站维护中，请稍后访问</p>", True),
        (200, "<title>通知公告</title>" + "<p>关于系统维护期间业务办理的通知</p>" + "x" * 5000, False),  # in the body of a big page
        (503, "<title>系统维护</title>", False),  # an error status is an error already
        (200, "<p>正常的小页面</p>", False),
    ],
)
def test_broken_reason(status: int, text: str, broken: bool) -> None:
    assert (broken_reason(status, text) is not None) is broken


def test_maintenance_page_raises_broken(site: FixtureServer) -> None:
    site.routes["/m"] = Resp(200, "<html><head><title>系统维护</title></head><body>系统升级维护中</body></html>")
    with pytest.raises(Broken, match="maintenance or error page"):
        get(site.url("/m"))
    assert len(site.hits("/m")) == 1  # not retried


# ---------------------------------------------------------------- politeness

@pytest.mark.parametrize("concurrent", [False, True])
def test_same_host_requests_are_spaced_by_the_delay(site: FixtureServer, concurrent: bool) -> None:
    times: list[float] = []
    site.routes["/p"] = timed(Resp(200, LIST_BYTES), times)
    pol = replace(POL, delay=0.3)
    results = get_many([site.url("/p?page=1"), site.url("/p?page=2"), site.url("/p?page=3")], pol, concurrent=concurrent)
    assert [r.status for r in results] == [200, 200, 200]
    assert len(times) == 3
    times.sort()
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.3, gaps


def test_errors_do_not_skip_the_delay(site: FixtureServer) -> None:
    times: list[float] = []
    site.routes["/missing"] = timed(Resp(404, b"no"), times)
    site.routes["/p"] = timed(Resp(200, LIST_BYTES), times)

    async def go() -> None:
        async with Fetcher(replace(POL, delay=0.3), UA, network=LOOPBACK) as f:
            with pytest.raises(FetchError):
                await f.get(site.url("/missing"))
            await f.get(site.url("/p"))

    asyncio.run(go())
    assert len(times) == 2 and times[1] - times[0] >= 0.3


def test_different_hosts_are_fetched_concurrently(site: FixtureServer) -> None:
    other = FixtureServer(host="127.0.0.2")
    try:
        assert other.base.startswith("http://127.0.0.2:")
        # each handler waits until the other host's request has arrived too: this only
        # completes if the two hosts are in flight at the same time
        both = threading.Barrier(2, timeout=3)

        def meet(req: Request) -> Resp:
            try:
                both.wait()
            except threading.BrokenBarrierError:
                return Resp(500, b"alone")
            return Resp(200, LIST_BYTES)

        site.routes["/p"] = meet
        other.routes["/p"] = meet
        results = get_many([site.url("/p"), other.url("/p")], replace(POL, delay=0.3, retries=0), concurrent=True)
        assert [r.status for r in results] == [200, 200]
        assert [r.final_url for r in results] == [site.url("/p"), other.url("/p")]
    finally:
        other.close()


def test_a_notice_titled_like_a_maintenance_page_is_content(site: FixtureServer) -> None:
    title = "关于2026年11月30日政务服务系统维护期间业务办理安排的通知"
    html = f"<html><head><title>{title}</title></head><body>" + "<p>正文内容。</p>" * 400 + "</body></html>"
    site.routes["/d"] = Resp(200, html)
    assert title in get(site.url("/d")).text


@pytest.mark.parametrize("body, content_type", [
    ('{"data":{"searchResult":{"dataResults":[{"title":"关于短信验证码服务系统维护的通知"}]}}}', "application/json"),
    ('<?xml version="1.0"?><rss><channel><item><title>安全验证平台上线</title></item></channel></rss>',
     "application/rss+xml"),
    ("<html><head><title>通知公告</title></head><body><ul>"
     + "".join(f"<li><a href='/{i}.html'>关于第{i}批验证码平台的通知</a></li>" for i in range(6)) + "</ul></body></html>",
     "text/html; charset=utf-8"),
])
def test_small_data_pages_mentioning_block_words_are_content(site: FixtureServer, body: str, content_type: str) -> None:
    site.routes["/small"] = Resp(200, body, content_type=content_type)
    assert get(site.url("/small")).text == body
