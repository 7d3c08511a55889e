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
import time
import zlib
from typing import Mapping
from urllib.parse import urljoin, urlsplit

import httpx

from config import Politeness
from scraper.blocked import block_reason
from scraper.decode import decode
from scraper.errors import Blocked, FetchError, TooLarge
from scraper.models import Fetched
from scraper.timeutil import backoff, retry_after

_STEP = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
RETRY_AFTER_CAP = 120.0


class _Permanent(FetchError):
    """A failure that retrying cannot fix: a malformed URL, a redirect loop."""


class Fetcher:
    """Fetch pages politely. Use as ``async with Fetcher(...) as f``."""

    def __init__(self, politeness: Politeness, user_agent: str,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.p = politeness
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(politeness.timeout, connect=min(10.0, politeness.timeout), pool=None),
            limits=httpx.Limits(max_connections=max(4, politeness.concurrency * 2), max_keepalive_connections=8),
            follow_redirects=False,
            trust_env=False,
            headers={
                "User-Agent": user_agent,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "zh-CN,zh;q=0.9",
                "Accept-Encoding": "gzip",
            },
            transport=transport,
        )
        self._hosts: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}
        self._slots = asyncio.Semaphore(politeness.concurrency)

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                  referer: str | None = None, max_bytes: int | None = None,
                  headers: Mapping[str, str] | None = None) -> Fetched:
        """GET ``url``; raise FetchError / Blocked / TooLarge, return 304s as ``Fetched``."""
        headers = dict(headers or {})
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if referer:
            headers["Referer"] = referer
        cap = max_bytes or self.p.max_bytes
        start = time.monotonic()
        try:
            async with asyncio.timeout(self.p.deadline):
                return await self._with_retries(url, headers, cap, start)
        except TimeoutError:
            raise FetchError(f"{url}: no complete answer within the {self.p.deadline:g}s deadline") from None

    async def _with_retries(self, url: str, headers: dict[str, str], cap: int, start: float) -> Fetched:
        attempt = 0
        while True:
            try:
                return await self._follow(url, headers, cap, start)
            except FetchError as e:
                retryable = e.status in _RETRYABLE or (
                    e.status is None and not isinstance(e, (TooLarge, Blocked, _Permanent)))
                if not retryable or attempt >= self.p.retries or isinstance(e, Blocked):
                    raise
                delay = backoff(attempt, base=1.0, cap=30.0) if e.retry_after is None else min(e.retry_after, RETRY_AFTER_CAP)
                if time.monotonic() - start + delay > self.p.deadline:
                    raise
                attempt += 1
                await asyncio.sleep(delay)

    async def _follow(self, url: str, headers: dict[str, str], cap: int, start: float) -> Fetched:
        current = url
        for _hop in range(self.p.max_redirects + 1):
            _check_url(url, current)
            status, resp_headers, body = await self._polite_request(current, headers, cap)
            if status in _REDIRECTS and "location" in resp_headers:
                nxt = urljoin(current, resp_headers["location"])
                if urlsplit(nxt).scheme not in ("http", "https"):
                    raise FetchError(f"{url}: redirect to a non-http(s) URL refused", status=status)
                current = nxt
                continue
            return self._result(url, current, status, resp_headers, body, start)
        raise _Permanent(f"{url}: more than {self.p.max_redirects} redirects", status=status)

    def _result(self, url: str, final: str, status: int, headers: Mapping[str, str], body: bytes,
                start: float) -> Fetched:
        elapsed = time.monotonic() - start
        if status == 304:
            return Fetched(url, final, status, headers, b"", elapsed)
        text, codec = decode(body, headers.get("content-type"))
        reason = block_reason(status, headers, text)
        if reason:
            raise Blocked(f"{url}: blocked: {reason}", status=status)
        if not 200 <= status < 300:
            raise FetchError(f"{url}: HTTP {status}", status=status, retry_after=retry_after(headers))
        return Fetched(url, final, status, headers, body, elapsed, text=text, encoding=codec)

    async def _polite_request(self, url: str, headers: dict[str, str], cap: int
                              ) -> tuple[int, Mapping[str, str], bytes]:
        host = urlsplit(url).netloc.lower()
        lock = self._hosts.setdefault(host, asyncio.Lock())
        async with lock:
            wait = self._last.get(host, -1e9) + self.p.delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            async with self._slots:
                try:
                    return await self._request(url, headers, cap)
                finally:
                    self._last[host] = time.monotonic()

    async def _request(self, url: str, headers: dict[str, str], cap: int) -> tuple[int, Mapping[str, str], bytes]:
        try:
            async with self._client.stream("GET", url, headers=headers) as resp:
                if resp.status_code in _REDIRECTS or resp.status_code == 304:
                    return resp.status_code, _headers(resp), b""
                body = await read_capped(resp, cap)
                return resp.status_code, _headers(resp), body
        except httpx.TimeoutException as e:
            raise FetchError(f"{url}: timed out ({type(e).__name__})") from None
        except httpx.HTTPError as e:
            raise FetchError(f"{url}: {type(e).__name__}: {e}") from None
        except httpx.InvalidURL as e:  # not an HTTPError; also raised for a malformed Location header
            raise _Permanent(f"{url}: invalid URL: {e}") from None


def _check_url(url: str, target: str) -> None:
    """Refuse what httpx or the socket layer would reject with a non-httpx exception (bad IPv6 literal, port)."""
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 -- raises ValueError when out of range
    except ValueError as e:
        raise _Permanent(f"{url}: invalid URL {target!r}: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Permanent(f"{url}: not an http(s) URL: {target!r}")


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
    return bytes(out)
