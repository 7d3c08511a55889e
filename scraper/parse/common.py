"""Selectolax helpers for the adapters. Pure; no I/O."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.parse.dates import DATE_RE
from scraper.text import best_title, clean

# a child element holding nothing but a date, e.g. Yuhang's <a><span>TITLE</span><i>2020-08-14</i></a>
_DATE_ONLY = re.compile(rf"[\[(（【]?{DATE_RE.pattern}日?(?:\s+\d{{1,2}}:\d{{2}}(?::\d{{2}})?)?[\])）】]?")


def parse_html(html: str, *, fragment: bool = False) -> LexborHTMLParser:
    return LexborHTMLParser(html, is_fragment=fragment)


def link_title(node: LexborNode) -> str:
    """The link's title; a date element inside the link is not part of it."""
    parts = []
    for child in node.iter(include_text=True):
        if child.tag == "-text":
            parts.append(child.text_content or "")
        elif not _DATE_ONLY.fullmatch(clean(child.text(deep=True, separator=""))):
            parts.append(child.text(deep=True, separator=""))
    return best_title("".join(parts), node.attributes.get("title"))
