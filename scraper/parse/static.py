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
# list containers sit near the top of a page; checking every container of a hostile page nesting
# thousands of divs read each one's whole subtree again (quadratic), so deeper ones are not candidates
_MAX_GROUP_DEPTH = 64


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
    selected = {n.mem_id for n in nodes}
    outer = _outer(nodes, selected)
    items: list[ListItem] = []
    seen: set[str] = set()
    for node in nodes:
        item = _item(node, page_url, selectors, selected if node.mem_id in outer else None)
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


def _outer(nodes: list[LexborNode], selected: set[int]) -> set[int]:
    """The selected nodes that hold another selected node (``li`` items nested in ``li`` items).

    Each walk up stops at a selected node or at one an earlier walk passed, so together they are
    one pass over the page.
    """
    nearest: dict[int, int | None] = {}  # a node passed -> its nearest selected ancestor
    outer: set[int] = set()
    for node in nodes:
        path, up = [], node.parent
        while up is not None and up.mem_id not in selected and up.mem_id not in nearest:
            path.append(up.mem_id)
            up = up.parent
        found = None if up is None else up.mem_id if up.mem_id in selected else nearest[up.mem_id]
        nearest.update(dict.fromkeys(path, found))
        if found is not None:
            outer.add(found)
    return outer


def _own_text(node: LexborNode, selected: set[int]) -> str:
    """The node's text without that of the selected nodes inside it: a hostile page nesting thousands
    of items made reading each one's whole text quadratic."""
    parts: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.tag == "-text":
            parts.append(n.text_content or "")
        elif n is node or n.mem_id not in selected:
            stack.extend(reversed(list(n.iter(include_text=True))))
    return " ".join(parts)


def _item(node: LexborNode, page_url: str, sel: Selectors | None,
          selected: set[int] | None = None) -> ListItem | None:
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
        text = _own_text(node, selected) if selected else node.text(deep=True, separator=" ")
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
    depths: dict[int, int] = {}
    for parent in tree.css(_GROUP_TAGS):
        if _depth(parent, depths) > _MAX_GROUP_DEPTH:
            continue
        group = [c for c in parent.iter(include_text=False) if _looks_like_item(c)]
        if len(group) > len(best):
            best = group
    return best if len(best) >= 2 else []


def _depth(node: LexborNode, known: dict[int, int]) -> int:
    """How many ancestors ``node`` has, walking up only to the nearest container already measured
    (css() lists containers in document order, so the walks add up to one pass over the page)."""
    steps, up = 0, node.parent
    while up is not None and up.mem_id not in known:
        steps, up = steps + 1, up.parent
    known[node.mem_id] = depth = steps + (known[up.mem_id] + 1 if up is not None else 0)
    return depth


def _looks_like_item(node: LexborNode) -> bool:
    if node.css_first("a[href]") is None and node.tag != "a":
        return False
    text = clean(node.text(deep=True, separator=" "))
    return len(text) <= _MAX_ITEM_TEXT and find_date(text) is not None
