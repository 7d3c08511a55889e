"""Feishu / Lark custom bots: rich-text ``post`` messages, optionally signed.

``POST {url}`` (``…/open-apis/bot/v2/hook/…``) with
``{"msg_type": "post", "content": {"post": {"zh_cn": {"title", "content": [[element, …], …]}}}}``.
Text elements are plain text (no markdown), and the only ``a`` element is the announcement's
own http(s) link. With a signing secret (签名校验) the body also carries ``timestamp`` (Unix
seconds, a string) and ``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``.
The request body may be at most 20 KB. The reply is ``{"code": 0, "msg": "success", …}`` (older
deployments: ``{"StatusCode": 0, …}``); 9499 (Bad Request, also seen for throttling), 11232 and
99991400 (rate limits) are retried, any other code is permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import httpx

from config import Network

from notifier.base import Message, Notifier, PermanentError, Target
from notifier.chat import FOOTER, LINK_LABEL, ChatHttp, alert, compose, dumps, entity_line, plain, truncate_chars

BODY_MAX_BYTES = 20 * 1024
TEXT_MAX_BYTES = 16 * 1024  # the text elements; JSON framing and the signature fit in the rest
TITLE_MAX = 100
TRANSIENT = {9499: None, 11232: 60.0, 99991400: 60.0}


def sign(secret: str, timestamp: int) -> str:
    mac = hmac.new(f"{timestamp}\n{secret}".encode("utf-8"), b"", hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def content(message: Message) -> dict[str, Any]:
    a = alert(message)
    lines = [plain(a.headline)] if len(a.headline) > TITLE_MAX else []  # the post title is cut short
    lines += [plain(a.title)] if a.title else []
    lines += [f"{label}: {plain(value)}" for label, value in a.fields]
    lines.append(entity_line(a, plain))
    if a.excerpt:
        lines.append(plain(a.excerpt))
    lines += [plain(line) for line in a.lines]
    text = compose(lines, TEXT_MAX_BYTES, sep="\n", tail=[f"— {FOOTER}"])
    paragraphs: list[list[dict[str, Any]]] = [[{"tag": "text", "text": t}] for t in text.split("\n")]
    if a.link:
        paragraphs.insert(len(paragraphs) - 1, [{"tag": "a", "text": LINK_LABEL, "href": a.link}])
    return {"post": {"zh_cn": {"title": plain(truncate_chars(a.headline, TITLE_MAX)), "content": paragraphs}}}


def body(message: Message, secret: str | None = None, timestamp: int | None = None) -> bytes:
    data: dict[str, Any] = {}
    if secret:
        ts = int(time.time()) if timestamp is None else timestamp
        data = {"timestamp": str(ts), "sign": sign(secret, ts)}
    data.update({"msg_type": "post", "content": content(message)})
    return dumps(data)


class FeishuNotifier(Notifier):
    """Post the alert to a Feishu/Lark custom bot as a rich-text post (signed when a secret is set)."""

    kind = "feishu"

    def __init__(self, timeout: float = 20.0, user_agent: str = "clusterwatch-feishu/0.1",
                 transport: httpx.AsyncBaseTransport | None = None, network: Network = Network()):
        self._http = ChatHttp("feishu", timeout=timeout, user_agent=user_agent, transport=transport, network=network)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, target: Target, message: Message) -> None:
        if not target.url:
            raise PermanentError("feishu: the channel has no url")
        hide = (target.url, *target.secrets)
        resp = await self._http.post(target.url, body(message, target.secrets[0] if target.secrets else None),
                                     hide=hide)
        self._http.check_code(resp, target.url, code_keys=("code", "StatusCode"), msg_keys=("msg", "StatusMessage"),
                              transient=TRANSIENT, hide=hide)
