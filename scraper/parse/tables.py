"""HTML tables as text rows (``scraper.models.Table``).

Every ``<table>`` under a node becomes one Table, in document order:

* cell text is the text of all its descendants (Word paste nests ``td > p > span``); inline
  elements join without spaces, block elements and ``<br>`` with one space;
* ``rowspan`` / ``colspan`` are expanded: the merged cell's text fills every slot it covers
  (so a merged header names each column it spans, and a place merged down a group of rows
  lands on each of them); spans are capped so a hostile ``colspan=100000`` stays small;
* rows are padded to the table's width; rows with no text (spacer rows) are dropped;
* a table nested in a cell is a Table of its own; the outer cell keeps only its own text,
  so a layout table that merely wraps a data table yields nothing.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

from scraper.models import Table
from scraper.parse.common import parse_html
from scraper.text import clean

MAX_COLSPAN = 64
MAX_ROWSPAN = 2000
MAX_WIDTH = 256
MAX_ROWS = 50_000
MAX_SLOTS = 2_000_000  # cells after expansion; past it, spans count as 1
_SKIP = frozenset({"script", "style", "noscript", "template", "-comment"})
_BREAK = "\x00"
_CJK = "\u3400-\u9fff\uf900-\ufaff（）《》“”、"
_CJK_BREAK = re.compile(f"(?<=[{_CJK}])[ {_BREAK}]*{_BREAK}[ {_BREAK}]*(?=[{_CJK}])")
_BLOCK = frozenset({"p", "div", "li", "br", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "section", "blockquote"})


def tables(node_or_html: LexborNode | str) -> tuple[Table, ...]:
    """Every table under the node (or in the HTML string) as text rows."""
    if isinstance(node_or_html, str):
        tree = parse_html(node_or_html)
        root = tree.body if tree.body is not None else tree.root
        if root is None:
            return ()
    else:
        root = node_or_html
    found = ([root] if root.tag == "table" else []) + root.css("table")
    own: dict[int, list[LexborNode]] = {}
    for tr in root.css("tr"):  # one pass, each row to its own table (per table, nesting made it quadratic)
        owner = _owner(tr)
        if owner is not None:
            own.setdefault(owner.mem_id, []).append(tr)
    seen: set[int] = set()
    out = []
    for table in found:
        if table.mem_id in seen:  # css() may include the root itself
            continue
        seen.add(table.mem_id)
        rows = _grid(_own_rows(own.get(table.mem_id, [])))
        if rows:
            out.append(rows)
    return tuple(out)


def _own_rows(trs: list[LexborNode]) -> list[list[tuple[str, int, int]]]:
    """A table's own rows (not those of nested tables) as (text, rowspan, colspan) cells."""
    rows: list[list[tuple[str, int, int]]] = []
    for tr in trs[:MAX_ROWS]:
        cells = []
        for cell in tr.iter():
            if cell.tag in ("td", "th"):
                cells.append((_cell_text(cell), _span(cell, "rowspan", MAX_ROWSPAN), _span(cell, "colspan", MAX_COLSPAN)))
        rows.append(cells)
    return rows


def _owner(node: LexborNode) -> LexborNode | None:
    parent = node.parent
    while parent is not None and parent.tag != "table":
        parent = parent.parent
    return parent


def _span(cell: LexborNode, attr: str, cap: int) -> int:
    raw = (cell.attributes.get(attr) or "").strip()
    digits = ""
    for ch in raw:
        if not ch.isascii() or not ch.isdigit():
            break
        digits += ch
    value = int(digits[:6]) if digits else 1
    return min(max(value, 1), cap)


def _cell_text(cell: LexborNode) -> str:
    """Text of a cell without nested tables; an explicit stack, since Word paste nests deeply."""
    parts: list[str] = []
    stack = list(reversed(list(cell.iter(include_text=True))))
    while stack:
        node = stack.pop()
        tag = node.tag
        if tag == "-text":
            parts.append(node.text_content or "")
        elif tag in _SKIP or tag == "table":
            continue
        else:
            if tag in _BLOCK:
                parts.append(_BREAK)
            stack.extend(reversed(list(node.iter(include_text=True))))
    text = clean("".join(parts).replace("\xa0", " "))
    # a Word line break inside a Chinese name (南湖区微电子<p>产业集群) is not a space
    return clean(_CJK_BREAK.sub("", text).replace(_BREAK, " "))


def _grid(rows: list[list[tuple[str, int, int]]]) -> Table:
    """Expand spans into a rectangular grid; drop rows without text."""
    grid: list[dict[int, str]] = [{} for _ in rows]
    slots = 0
    for r, cells in enumerate(rows):
        col = 0
        for text, rowspan, colspan in cells:
            while col in grid[r]:
                col += 1
            if col >= MAX_WIDTH:
                break
            rowspan, colspan = min(rowspan, len(rows) - r), min(colspan, MAX_WIDTH - col)
            if slots + rowspan * colspan > MAX_SLOTS:
                rowspan, colspan = 1, 1
            slots += rowspan * colspan
            for dr in range(rowspan):
                for dc in range(colspan):
                    grid[r + dr].setdefault(col + dc, text)
            col += colspan
    width = max((max(row) + 1 for row in grid if row), default=0)
    out = []
    for row in grid:
        cells = tuple(row.get(c, "") for c in range(width))
        if any(cells):
            out.append(cells)
    return tuple(out)
