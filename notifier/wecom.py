"""WeCom (企业微信) group robots: markdown messages.

``POST {url}`` (``…/cgi-bin/webhook/send?key=…``) with
``{"msgtype": "markdown", "markdown": {"content": …}}``; ``content`` is at most 4096 bytes of
UTF-8, so the message is cut on a character boundary to fit. The reply is
``{"errcode": 0, "errmsg": "ok"}``; 45009 (over the rate limit, 20 messages a minute) and -1
(system busy) are retried, any other code is permanent.
"""

from __future__ import annotations

import httpx

from config import Network

from notifier.base import Message, Notifier, PermanentError, Target
from notifier.chat import ChatHttp, alert, dumps, markdown

CONTENT_MAX_BYTES = 4096
TRANSIENT = {45009: 60.0, -1: None}


def body(message: Message) -> bytes:
    return dumps({"msgtype": "markdown",
                  "markdown": {"content": markdown(alert(message), limit=CONTENT_MAX_BYTES, sep="\n")}})


class WeComNotifier(Notifier):
    """Post the alert to a WeCom (企业微信) group robot as markdown."""

    kind = "wecom"

    def __init__(self, timeout: float = 20.0, user_agent: str = "clusterwatch-wecom/0.1",
                 transport: httpx.AsyncBaseTransport | None = None, network: Network = Network()):
        self._http = ChatHttp("wecom", timeout=timeout, user_agent=user_agent, transport=transport, network=network)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, target: Target, message: Message) -> None:
        if not target.url:
            raise PermanentError("wecom: the channel has no url")
        resp = await self._http.post(target.url, body(message), hide=(target.url,))
        self._http.check_code(resp, target.url, code_keys=("errcode",), msg_keys=("errmsg",),
                              transient=TRANSIENT, hide=(target.url,))
