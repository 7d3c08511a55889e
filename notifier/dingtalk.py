"""DingTalk (钉钉) custom group robots: markdown messages, optionally signed.

``POST {url}`` with ``{"msgtype": "markdown", "markdown": {"title", "text"}, "at": {...}}``.
With a signing secret (加签), ``timestamp`` (Unix milliseconds) and
``sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))`` are added to
the query string. The reply is ``{"errcode": 0, "errmsg": "ok"}``; 130101 (more than 20 messages a
minute: throttled for 10 minutes) and -1 (system busy) are retried, any other code is permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus, urlsplit, urlunsplit

import httpx

from config import Network

from notifier.base import Message, Notifier, PermanentError, Target
from notifier.chat import ChatHttp, alert, dumps, markdown, md_escape, truncate_chars

TEXT_MAX_BYTES = 18000  # DingTalk documents no markdown limit; messages near 20 KB are rejected
TITLE_MAX = 64  # the conversation-list preview
TRANSIENT = {130101: 600.0, -1: None}  # code -> default retry delay (seconds) when there is no Retry-After


def sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value, already URL-encoded."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"), hashlib.sha256)
    return quote_plus(base64.b64encode(mac.digest()).decode("ascii"))


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The robot URL (its ``access_token`` kept) with ``timestamp`` and ``sign`` appended to the query."""
    parts = urlsplit(url)
    extra = f"timestamp={timestamp_ms}&sign={sign(secret, timestamp_ms)}"
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra, fragment=""))


def body(message: Message) -> bytes:
    a = alert(message)
    return dumps({
        "msgtype": "markdown",
        "markdown": {"title": md_escape(truncate_chars(a.headline, TITLE_MAX)),
                     "text": markdown(a, limit=TEXT_MAX_BYTES, sep="\n\n")},
        "at": {"isAtAll": False, "atMobiles": [], "atUserIds": []},  # never mention anyone
    })


class DingTalkNotifier(Notifier):
    """Post the alert to a DingTalk group robot as markdown (signed when a secret is set)."""

    kind = "dingtalk"

    def __init__(self, timeout: float = 20.0, user_agent: str = "clusterwatch-dingtalk/0.1",
                 transport: httpx.AsyncBaseTransport | None = None, network: Network = Network()):
        self._http = ChatHttp("dingtalk", timeout=timeout, user_agent=user_agent, transport=transport, network=network)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, target: Target, message: Message) -> None:
        if not target.url:
            raise PermanentError("dingtalk: the channel has no url")
        url = target.url
        if target.secrets:
            url = signed_url(url, target.secrets[0], int(time.time() * 1000))
        hide = (target.url, *target.secrets)
        resp = await self._http.post(url, body(message), hide=hide)
        self._http.check_code(resp, target.url, code_keys=("errcode",), msg_keys=("errmsg",),
                              transient=TRANSIENT, hide=hide)
