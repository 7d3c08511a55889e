"""Pure text and URL helpers shared across the scraper (no parser, no I/O)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

_WS = re.compile(r"\s+")
_ELLIPSIS = ("……", "…", "。。。", "...", "..")
_TRACKING = frozenset({"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "spm", "from"})


def clean(text: str | None) -> str:
    """Collapse whitespace (including full-width and nbsp) and strip."""
    if not text:
        return ""
    return _WS.sub(" ", text.replace("\u3000", " ").replace("\xa0", " ")).strip()


def resolve(base: str, href: str | None) -> str | None:
    """Absolute http(s) URL for ``href`` on page ``base``; None for javascript:, mailto:, '#'."""
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    try:
        url = urljoin(base, href)
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError when out of range
    except ValueError:  # "http://[::1/x", "http://host:99999/"
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit(parts._replace(fragment=""))


def canonical_url(url: str) -> str:
    """A stable form of an item URL: lower-case host, no fragment, no tracking parameters."""
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _TRACKING])
    netloc = parts.netloc.lower()
    if (parts.scheme == "http" and netloc.endswith(":80")) or (parts.scheme == "https" and netloc.endswith(":443")):
        netloc = netloc.rsplit(":", 1)[0]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, ""))


def best_title(visible: str, attr: str | None) -> str:
    """Prefer the ``title`` attribute when the visible text is cut short or empty."""
    visible, attr = clean(visible), clean(attr)
    if not attr:
        return visible
    if not visible:
        return attr
    stem = visible
    for e in _ELLIPSIS:
        stem = stem.removesuffix(e)
    stem = stem.strip()
    if stem != visible or (len(attr) > len(visible) and attr.startswith(stem)):
        return attr
    return visible


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal or a spreadsheet: CJK characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
