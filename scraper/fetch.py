"""The polite HTTP client; the only module of the scraper that uses httpx.

* one shared ``httpx.AsyncClient``: explicit timeouts, an honest browser-compatible
  user agent, ``Accept-Language: zh-CN``, no environment proxies;
* redirects followed by hand, at most ``max_redirects`` hops, http(s) only;
* the body cap is enforced on *decompressed* bytes while streaming
  (httpx 0.28 inflates a whole raw chunk at once, so we read ``aiter_raw()``
  and inflate in bounded steps);
* one request at a time per host with a delay between requests; different
  hosts run concurrently up to ``concurrency``;
* timeouts, 408, 429 and 5xx are retried with exponential backoff and jitter,
  honouring ``Retry-After``, within an overall per-fetch deadline;
* conditional GET with the caller's ETag / Last-Modified; 304 is returned, not raised.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from pathlib import Path
from typing import Mapping
from urllib.parse import urljoin, urlsplit

import httpx

from config import Network, Politeness, Settings
from scraper.blocked import block_reason, broken_reason
from scraper.decode import decode
from scraper.errors import Blocked, Broken, FetchError, Refused, TooLarge
from scraper.models import Fetched
from scraper.netguard import Policy, guarded_transport
from scraper.robots import ROBOTS_ERROR_TTL, ROBOTS_MAX_BYTES, ROBOTS_TTL, Robots
from scraper.timeutil import backoff, retry_after

_STEP = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
RETRY_AFTER_CAP = 120.0
_HEADER_CAP = 100 * 1024  # httpcore's h11 max_incomplete_event_size: a bigger header block is refused


class _Permanent(FetchError):
    """A failure that retrying cannot fix: a malformed URL, a redirect loop."""


class Fetcher:
    """Fetch pages politely. Use as ``async with Fetcher(...) as f``."""

    def __init__(self, politeness: Politeness, user_agent: str,
                 transport: httpx.AsyncBaseTransport | None = None, extra_ca: Mapping[str, Path] | None = None,
                 network: Network | Policy = Network()):
        self.p = politeness
        self.user_agent = user_agent
        self._transport = transport  # tests only; production always goes through the SSRF guard
        self._policy = network if isinstance(network, Policy) else Policy.from_settings(network)
        self._client = self._new_client(None)
        self._ca_clients = {host: self._new_client(path) for host, path in (extra_ca or {}).items()}
        self._hosts: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}
        self._slots = asyncio.Semaphore(politeness.concurrency)
        self.robots = RobotsCache(self)

    @classmethod
    def for_settings(cls, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> "Fetcher":
        return cls(settings.politeness, settings.user_agent, transport=transport, extra_ca=settings.extra_ca,
                   network=settings.network)

    def _new_client(self, ca_file: Path | None) -> httpx.AsyncClient:
        # TLS is always verified. A per-host CA bundle only ADDS trust, for sites with incomplete chains.
        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            verify = ssl.create_default_context()
            verify.load_verify_locations(cafile=str(ca_file))
        # keep connections to many hosts alive between checks: a TLS handshake per request is costly
        limits = httpx.Limits(max_connections=max(4, self.p.concurrency * 2), max_keepalive_connections=64,
                              keepalive_expiry=30)
        transport = self._transport or guarded_transport(self._policy, verify=verify, limits=limits)
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self.p.timeout, connect=min(10.0, self.p.timeout), pool=None),
            limits=limits,
            follow_redirects=False,
            trust_env=False,
            verify=verify,
            headers={
                "User-Agent": self.user_agent,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "zh-CN,zh;q=0.9",
                "Accept-Encoding": "gzip",
            },
            transport=transport,
        )

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for client in (self._client, *self._ca_clients.values()):
            await client.aclose()

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                  referer: str | None = None, max_bytes: int | None = None,
                  headers: Mapping[str, str] | None = None, obey_robots: bool = True) -> Fetched:
        """GET ``url``; raise FetchError / Blocked / Broken / TooLarge, return 304s as ``Fetched``.

        ``deadline`` bounds the time spent talking to the server, retries and
        their waits included; time queued behind other requests to the same host
        does not count against it.
        """
        headers = dict(headers or {})
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if referer:
            headers["Referer"] = referer
        _check_url(url, url)
        if obey_robots:
            try:
                await self.robots.check(url)
            except Refused as e:  # robots.txt lives on the same host: name the page, not robots.txt
                raise Refused(f"{url}: {e.reason}", reason=e.reason) from None
        budget = _Budget(self.p.deadline)
        return await self._with_retries(url, headers, max_bytes or self.p.max_bytes, budget)

    async def _with_retries(self, url: str, headers: dict[str, str], cap: int, budget: "_Budget") -> Fetched:
        attempt = 0
        while True:
            try:
                return await self._follow(url, headers, cap, budget)
            except FetchError as e:
                final = isinstance(e, (TooLarge, Blocked, Broken, Refused, _Permanent))  # retrying cannot help
                retryable = not final and (e.status is None or e.status in _RETRYABLE)
                if not retryable or attempt >= self.p.retries:
                    raise
                delay = backoff(attempt, base=1.0, cap=30.0) if e.retry_after is None else min(e.retry_after, RETRY_AFTER_CAP)
                if delay >= budget.left:
                    raise
                attempt += 1
                budget.spend(delay)
                await asyncio.sleep(delay)

    async def _follow(self, url: str, headers: dict[str, str], cap: int, budget: "_Budget",
                      *, max_redirects: int | None = None, pace: bool = True) -> Fetched:
        current, hops = url, self.p.max_redirects if max_redirects is None else max_redirects
        for _hop in range(hops + 1):
            _check_url(url, current)
            status, resp_headers, body = await self._polite_request(current, headers, cap, budget, pace=pace)
            if status in _REDIRECTS and "location" in resp_headers:
                nxt = urljoin(current, resp_headers["location"])
                if urlsplit(nxt).scheme not in ("http", "https"):
                    raise _Permanent(f"{url}: redirect to a non-http(s) URL refused", status=status)
                if urlsplit(nxt).netloc.lower() != urlsplit(current).netloc.lower():
                    headers = {k: v for k, v in headers.items() if k not in ("If-None-Match", "If-Modified-Since")}
                current = nxt
                continue
            return self._result(url, current, status, resp_headers, body, budget)
        raise _Permanent(f"{url}: more than {hops} redirects", status=status)

    def _result(self, url: str, final: str, status: int, headers: Mapping[str, str], body: bytes,
                budget: "_Budget") -> Fetched:
        elapsed = budget.used
        if status == 304:
            return Fetched(url, final, status, headers, b"", elapsed)
        text, codec = decode(body, headers.get("content-type"))
        reason = block_reason(status, headers, text)
        if reason:
            raise Blocked(f"{url}: blocked: {reason}", status=status)
        reason = broken_reason(status, text)
        if reason:
            raise Broken(f"{url}: {reason}", status=status)
        if not 200 <= status < 300:
            raise FetchError(f"{url}: HTTP {status}", status=status, retry_after=retry_after(headers))
        return Fetched(url, final, status, headers, body, elapsed, text=text, encoding=codec)

    async def _polite_request(self, url: str, headers: dict[str, str], cap: int, budget: "_Budget",
                              pace: bool = True) -> tuple[int, Mapping[str, str], bytes]:
        """One request at a time per host, ``delay`` (or Crawl-delay) apart. robots.txt itself
        (``pace=False``) still waits its turn but does not delay the page request after it."""
        host = urlsplit(url).netloc.lower()
        lock = self._hosts.setdefault(host, asyncio.Lock())
        async with lock:
            gap = max(self.p.delay, self.robots.crawl_delay(host))
            wait = self._last.get(host, -1e9) + gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            async with self._slots:
                t0 = time.monotonic()
                try:
                    async with asyncio.timeout(max(0.0, budget.left)):
                        return await self._request(url, headers, cap)
                except TimeoutError:
                    raise FetchError(f"{url}: no complete answer within the {self.p.deadline:g}s deadline") from None
                finally:
                    budget.spend(time.monotonic() - t0)
                    if pace:
                        self._last[host] = time.monotonic()

    async def _request(self, url: str, headers: dict[str, str], cap: int) -> tuple[int, Mapping[str, str], bytes]:
        client = self._ca_clients.get(urlsplit(url).hostname or "", self._client)
        try:
            async with client.stream("GET", url, headers=headers) as resp:
                if resp.status_code in _REDIRECTS or resp.status_code == 304:
                    return resp.status_code, _headers(resp), b""
                body = await read_capped(resp, cap)
                return resp.status_code, _headers(resp), body
        except Refused as e:  # the SSRF guard, before any byte was sent
            raise Refused(f"{url}: {e.reason}", reason=e.reason) from None
        except httpx.TimeoutException as e:
            raise FetchError(f"{url}: timed out ({type(e).__name__})") from None
        except httpx.RemoteProtocolError as e:
            if "buffer too long" in str(e):  # h11's cap on the header block (httpcore: 100 KB); no retry helps
                raise _Permanent(f"{url}: response headers larger than {_HEADER_CAP // 1024} KB") from None
            raise FetchError(f"{url}: {type(e).__name__}: {e}") from None
        except httpx.HTTPError as e:
            raise FetchError(f"{url}: {type(e).__name__}: {e}") from None
        except (httpx.InvalidURL, UnicodeError, ValueError) as e:  # a malformed Location or header value
            raise _Permanent(f"{url}: invalid URL or header: {type(e).__name__}: {e}") from None


class _Budget:
    """Seconds left for one fetch: network time and retry waits, not queueing."""

    def __init__(self, seconds: float):
        self.total = seconds
        self.used = 0.0

    @property
    def left(self) -> float:
        return self.total - self.used

    def spend(self, seconds: float) -> None:
        self.used += seconds


class RobotsCache:
    """robots.txt per host, RFC 9309 semantics, cached for a day (errors for 10 minutes).

    2xx: obey its rules and Crawl-delay. 4xx: no rules, crawl. 5xx, a timeout,
    an unreachable host or too many redirects: assume complete disallow.
    """

    def __init__(self, fetcher: "Fetcher"):
        self.fetcher = fetcher
        self._rules: dict[str, tuple[Robots, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        rules = await self._get(origin)
        if not rules.allows(url):
            raise Blocked(f"{url}: disallowed by {origin}/robots.txt ({rules.why})")

    def crawl_delay(self, host: str) -> float:
        for origin, (rules, _) in self._rules.items():
            if urlsplit(origin).netloc == host:
                return rules.crawl_delay
        return 0.0

    async def _get(self, origin: str) -> Robots:
        async with self._locks.setdefault(origin, asyncio.Lock()):
            cached = self._rules.get(origin)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            rules = await self._fetch(origin)
            ttl = ROBOTS_TTL if rules.status != "unreachable" else ROBOTS_ERROR_TTL
            self._rules[origin] = (rules, time.monotonic() + ttl)
            return rules

    async def _fetch(self, origin: str) -> Robots:
        url = f"{origin}/robots.txt"
        try:
            fetched = await self.fetcher._follow(url, {}, ROBOTS_MAX_BYTES, _Budget(self.fetcher.p.deadline),
                                                 max_redirects=5, pace=False)
        except Refused:
            raise  # the host is not one we may connect to at all: say so, not "robots.txt unavailable"
        except TooLarge:
            return Robots.unreachable(f"{url} is larger than {ROBOTS_MAX_BYTES} bytes")
        except (Blocked, Broken) as e:
            return Robots.unreachable(str(e))
        except FetchError as e:
            if e.status is not None and 400 <= e.status < 500:
                return Robots.allow_all(f"{url} answered {e.status}")
            return Robots.unreachable(str(e))
        return Robots.parse(fetched.text, self.fetcher.user_agent)


def _check_url(url: str, target: str) -> None:
    """Refuse what httpx or the socket layer would reject with a non-httpx exception (bad IPv6 literal, port)."""
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 -- raises ValueError when out of range
    except ValueError as e:
        raise _Permanent(f"{url}: invalid URL {target!r}: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Permanent(f"{url}: not an http(s) URL: {target!r}")
    if "\\" in parts.netloc or "@" in parts.netloc:  # parsers disagree about these (GHSA-rph4-96w6-q594)
        raise _Permanent(f"{url}: refused: a backslash or user info in the host part of {target!r}")


def _headers(resp: httpx.Response) -> dict[str, str]:
    out = {k.lower(): v for k, v in resp.headers.items()}
    cookies = resp.headers.get_list("set-cookie")
    if cookies:
        out["set-cookie"] = "; ".join(cookies)
    return out


async def read_capped(resp: httpx.Response, cap: int) -> bytes:
    """Read the body, inflating gzip ourselves in bounded steps; raise TooLarge over ``cap``."""
    enc = resp.headers.get("content-encoding", "identity").strip().lower()
    if enc not in ("identity", "gzip", "x-gzip", ""):
        raise FetchError(f"{resp.request.url}: unsupported content-encoding {enc!r}", status=resp.status_code)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if "gzip" in enc else None
    out = bytearray()
    wire = 0
    async for chunk in resp.aiter_raw():
        wire += len(chunk)
        if wire > cap:
            raise TooLarge(f"{resp.request.url}: body larger than {cap} bytes", status=resp.status_code)
        buf = chunk
        while buf:
            if inflater is None:
                out += buf
                buf = b""
            else:
                try:
                    out += inflater.decompress(buf, _STEP)
                except zlib.error as e:
                    raise FetchError(f"{resp.request.url}: corrupt gzip body ({e})", status=resp.status_code) from None
                buf = inflater.unconsumed_tail
            if len(out) > cap:
                raise TooLarge(f"{resp.request.url}: body larger than {cap} bytes after decompression",
                               status=resp.status_code)
    if inflater is not None:
        out += inflater.flush()
        if len(out) > cap:
            raise TooLarge(f"{resp.request.url}: body larger than {cap} bytes after decompression")
        if not inflater.eof:  # a cut-off body is a failure, never content (thp/urlwatch#725)
            raise FetchError(f"{resp.request.url}: truncated gzip body", status=resp.status_code)
    return bytes(out)
