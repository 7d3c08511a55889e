"""Selectolax helpers for the adapters. Pure; no I/O."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.text import best_title


def parse_html(html: str, *, fragment: bool = False) -> LexborHTMLParser:
    return LexborHTMLParser(html, is_fragment=fragment)


def link_title(node: LexborNode) -> str:
    return best_title(node.text(deep=True, separator=""), node.attributes.get("title"))
