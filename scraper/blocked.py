"""Recognise WAF challenges and soft-block pages. Pure functions.

A blocked response is never content: it changes no baseline and alerts no
subscriber. We never try to defeat a challenge (gov-sites.md section 7).
"""

from __future__ import annotations

import re
from typing import Mapping

CHALLENGE_STATUSES = frozenset({412, 521})
_SOFT_BLOCK = re.compile(r"Access Denied|访问频繁|安全验证|验证码|请求被拒绝|禁止访问|访问受限", re.IGNORECASE)
_NOT_CONTENT = re.compile(
    r"系统繁忙|页面不存在|404 Not Found|服务异常|系统维护|网站维护|维护中|升级维护|暂停访问|Service Unavailable",
    re.IGNORECASE,
)
_CHALLENGE_COOKIES = ("__jsluid_", "__jsl_clearance", "acw_sc__")
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SCRIPTS = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
SHORT_TEXT = 200  # characters of visible text: a block page says one thing, with hardly a link
SMALL_PAGE = 3000  # characters; a soft-block page is tiny, a real list page is not
SHORT_TITLE = 20  # characters; "访问频繁" or "系统维护中", not a sentence-long notice title


def block_reason(status: int, headers: Mapping[str, str], text: str) -> str | None:
    """Why this response looks like a block or challenge page, or None."""
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return "challenge (cf-mitigated: challenge)"
    if status in CHALLENGE_STATUSES:
        return f"challenge page (HTTP {status})"
    cookies = headers.get("set-cookie", "")
    if status in (403, 429, 503) and any(c in cookies for c in _CHALLENGE_COOKIES):
        return f"challenge cookie on HTTP {status}"
    if status == 200:
        m = _SOFT_BLOCK.search(_suspect_text(text))
        if m:
            return f"soft-block page ({m.group(0)!r})"
    return None


def broken_reason(status: int, text: str) -> str | None:
    """Why a 200 response is a maintenance or error page rather than content, or None."""
    if status != 200:
        return None
    m = _NOT_CONTENT.search(_suspect_text(text))
    return f"maintenance or error page ({m.group(0)!r})" if m else None


def _suspect_text(text: str) -> str:
    """The part that would say "blocked" or "maintenance": the page's <title>, plus the
    visible text of a page that has almost none. Never a feed or JSON body, which are data."""
    head = text[:4000].lstrip()
    if head.startswith(("{", "[", "<?xml", "<rss", "<feed")):
        return ""
    title = _TITLE_RE.search(head)
    # A real notice may be titled "关于系统维护期间…的通知"; a block page's title is the message itself.
    found = title.group(1).strip() if title and len(title.group(1).strip()) <= SHORT_TITLE else ""
    if len(text) < SMALL_PAGE:
        visible = _TAGS.sub(" ", _SCRIPTS.sub(" ", text))
        if len(" ".join(visible.split())) <= SHORT_TEXT and text.lower().count("<a ") <= 2:
            found += " " + visible
    return found
