"""Slack incoming webhooks: ``text`` plus one mrkdwn ``section`` block.

``POST {url}`` (``https://hooks.slack.com/services/…``) with
``{"text": …, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": …}}, …]}``.
Scraped text has ``&``, ``<`` and ``>`` escaped as entities, so it cannot form a link, a
``<!channel>`` or a ``<@user>`` mention. A section's text is at most 3000 characters. Slack answers
``200 ok``; 429 carries ``Retry-After`` and is retried, like 5xx; other 4xx (``invalid_payload``,
``no_service``, ``channel_is_archived``, …) are permanent.
"""

from __future__ import annotations

import httpx

from config import Network

from notifier.base import Message, Notifier, PermanentError, Target
from notifier.chat import (FOOTER, LINK_LABEL, ChatHttp, alert, compose, dumps, entity_line, mrkdwn_escape,
                           slack_url)
from notifier.render import header_safe

SECTION_MAX = 3000  # characters
FALLBACK_MAX = 500


def body(message: Message) -> bytes:
    a = alert(message)
    link = f"<{slack_url(a.link)}|{LINK_LABEL}>" if a.link else ""
    lines = [f"*{mrkdwn_escape(a.headline)}*"]
    if a.title:
        lines.append(mrkdwn_escape(a.title))
    lines += [f"*{label}:* {mrkdwn_escape(value)}" for label, value in a.fields]
    lines.append(entity_line(a, mrkdwn_escape))
    if a.excerpt:
        lines.append("> " + mrkdwn_escape(a.excerpt))
    lines += [mrkdwn_escape(line) for line in a.lines]
    section = compose(lines, SECTION_MAX, sep="\n", tail=[link], unit="chars")
    fallback = compose([mrkdwn_escape(a.headline)], FALLBACK_MAX, sep=" ", tail=[link], unit="chars")
    return dumps({
        "text": fallback,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": section}},
                   {"type": "context", "elements": [{"type": "mrkdwn", "text": FOOTER}]}],
        "unfurl_links": False,
        "unfurl_media": False,
    })


class SlackNotifier(Notifier):
    """Post the alert to a Slack incoming webhook (mrkdwn, scraped text escaped)."""

    kind = "slack"

    def __init__(self, timeout: float = 20.0, user_agent: str = "clusterwatch-slack/0.1",
                 transport: httpx.AsyncBaseTransport | None = None, network: Network = Network()):
        self._http = ChatHttp("slack", timeout=timeout, user_agent=user_agent, transport=transport, network=network)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, target: Target, message: Message) -> None:
        if not target.url:
            raise PermanentError("slack: the channel has no url")
        resp = await self._http.post(target.url, body(message), hide=(target.url,))
        err = self._http.status_error(resp, target.url, hide=(target.url,))
        if err is not None:
            raise err
        if resp.text.strip() != "ok":
            raise PermanentError(self._http.error_text(
                f"slack gave an unexpected reply: {header_safe(resp.text, 200)!r}", target.url))
