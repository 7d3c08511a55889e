"""``static``: the generic CSS adapter for plain list pages.

With selectors from the config it selects items, links, titles and dates. With
none it falls back to a heuristic: the largest group of sibling elements that
each hold a link and a date.
"""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from config import Selectors, Source
from scraper.errors import ParseError
from scraper.models import ListItem, ListPage
from scraper.parse.base import Adapter
from scraper.parse.common import link_title, parse_html
from scraper.parse.dates import find_date
from scraper.text import best_title, clean, resolve

KIND = "static"
_GROUP_TAGS = "ul, ol, tbody, table, div, dl, section"
_MAX_ITEM_TEXT = 400


class StaticAdapter(Adapter):
    """Plain list pages: CSS selectors from the config, or the dated-links heuristic."""

    kind = KIND

    def parse(self, text: str, url: str, source: Source) -> ListPage:
        return parse(text, url, source.selectors)


def parse(html: str, page_url: str, selectors: Selectors | None = None) -> ListPage:
    tree = parse_html(html)
    if tree.body is None:
        raise ParseError(f"{page_url}: not an HTML page")
    nodes = _select(tree, selectors, page_url) if selectors and selectors.item else _guess(tree)
    items: list[ListItem] = []
    seen: set[str] = set()
    for node in nodes:
        item = _item(node, page_url, selectors)
        if item and item.url not in seen:
            seen.add(item.url)
            items.append(item)
    return ListPage(items=tuple(items), adapter=KIND if selectors and selectors.item else f"{KIND} (heuristic)")


def _select(tree, selectors: Selectors, page_url: str) -> list[LexborNode]:
    assert selectors.item
    try:
        nodes = list(tree.css(selectors.item))
    except Exception as e:  # selectolax raises a bare ValueError/SelectolaxError on bad CSS
        raise ParseError(f"{page_url}: bad item selector {selectors.item!r}: {e}") from None
    for name in ("link", "title", "date"):  # _first() swallows errors: check the others here, once
        sel = getattr(selectors, name)
        if sel:
            try:
                tree.css_first(sel)
            except Exception as e:
                raise ParseError(f"{page_url}: bad {name} selector {sel!r}: {e}") from None
    return nodes


def _item(node: LexborNode, page_url: str, sel: Selectors | None) -> ListItem | None:
    link = _first(node, sel.link if sel else "a[href]") or (node if node.tag == "a" else None)
    if link is None:
        return None
    url = resolve(page_url, link.attributes.get("href"))
    if url is None:
        return None
    title_node = _first(node, sel.title) if sel and sel.title else None
    if title_node is not None:
        title = best_title(title_node.text(deep=True), title_node.attributes.get("title") or link.attributes.get("title"))
    else:
        title = link_title(link)
    if not title:
        return None
    date_node = _first(node, sel.date) if sel and sel.date else None
    if date_node is not None:
        date = find_date(date_node.text(deep=True))
    else:  # a date written outside the link beats one inside the title ("关于2026年7月1日起…")
        text = node.text(deep=True, separator=" ")
        outside = text.replace(link.text(deep=True, separator=" "), " ", 1) if link is not node else ""
        date = find_date(outside) or find_date(text)
    return ListItem(url=url, title=title, date=date)


def _first(node: LexborNode, selector: str | None) -> LexborNode | None:
    if not selector:
        return None
    try:
        return node.css_first(selector)
    except Exception:
        return None


def _guess(tree) -> list[LexborNode]:
    """The largest set of sibling elements that each contain a link and a date."""
    best: list[LexborNode] = []
    for parent in tree.css(_GROUP_TAGS):
        group = [c for c in parent.iter(include_text=False) if _looks_like_item(c)]
        if len(group) > len(best):
            best = group
    return best if len(best) >= 2 else []


def _looks_like_item(node: LexborNode) -> bool:
    if node.css_first("a[href]") is None and node.tag != "a":
        return False
    text = clean(node.text(deep=True, separator=" "))
    return len(text) <= _MAX_ITEM_TEXT and find_date(text) is not None
