"""Recognise WAF challenges and soft-block pages. Pure functions.

A blocked response is never content: it changes no baseline and alerts no
subscriber. We never try to defeat a challenge (gov-sites.md section 7).
"""

from __future__ import annotations

import re
from typing import Mapping

CHALLENGE_STATUSES = frozenset({412, 521})
_SOFT_BLOCK = re.compile(
    r"Access Denied|访问频繁|安全验证|验证码|请求被拒绝|系统繁忙|页面不存在|404 Not Found|服务异常|系统维护",
    re.IGNORECASE,
)
_CHALLENGE_COOKIES = ("__jsluid_", "__jsl_clearance", "acw_sc__")
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
SMALL_PAGE = 3000  # characters; a soft-block page is tiny, a real list page is not


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
        title = _TITLE_RE.search(text[:4000])
        haystack = title.group(1) if title else ""
        if len(text) < SMALL_PAGE:
            haystack = text
        m = _SOFT_BLOCK.search(haystack)
        if m:
            return f"soft-block page ({m.group(0)!r})"
    return None
