"""``trs``: TRS WCM static lists (gov-sites.md section 2.4).

TRS publishes every list page as a static file: ``index.html`` is the first,
``index_1.html`` the second, ``index_k.html`` page k+1. The page says where it
is in a script::

    createPageHTML(10, 0, "index", "html");       // page count, current (0-based), prefix, ext

or, in the expanded template, with variables (``createPageHTML(countPage, 0, …)``
reads them too)::

    var currentPage = 0;//所在页从0开始
    var countPage = 17;//共多少页
    document.write("<a href=\\"index_" + nextPage + ".html\\">下一页</a>");

A sibling template passes a pager element id first and the item count last,
with a 1-based current page: ``createPageHTML('page_div', 5, 1, 'fg', 'shtml', 89)``.
In both forms the file of the page whose current value is c is ``<prefix>_c.<ext>``
(the first page is unsuffixed), so the next page is ``<prefix>_<c+1>.<ext>``.

Items are read with the static adapter (the source's selectors, or its dated-links
heuristic); article URLs look like ``./202409/t20240907_1234567.html``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from config import Source
from scraper.models import ListPage, Request
from scraper.parse import static
from scraper.parse.base import Adapter

KIND = "trs"
_ARG = r"(\d{1,9}|[A-Za-z_$][\w$]*)"  # int() refuses 4300+ digits, and no column has 10**9 pages
_STR = r"""["']([^"'<>]*)["']"""
_CALL = re.compile(
    rf"""createPageHTML\s*\(\s*(?:["']([^"']*)["']\s*,\s*)?{_ARG}\s*,\s*{_ARG}\s*,\s*{_STR}\s*,\s*{_STR}"""
    rf"""\s*(?:,\s*{_ARG}\s*)?\)"""
)
_VAR = r"\bvar\s+{}\s*=\s*(\d{{1,9}})(?!\d)"
_LINK = re.compile(r"""(?<![\w.-])([\w.-]+)_["']\s*\+\s*[A-Za-z_$][\w$]*\s*\+\s*["']\.(\w+)""")
_FILE = re.compile(r"^(.+?)(?:_\d+)?\.(\w+)$")


@dataclass(frozen=True)
class Paging:
    """Where a TRS page sits: ``current`` as the page states it (0-based unless ``one_based``)."""

    count: int
    current: int
    prefix: str = "index"
    ext: str = "html"
    one_based: bool = False
    total: int | None = None  # items in the column, when the page states it

    def next_name(self) -> str | None:
        last = self.count if self.one_based else self.count - 1
        return f"{self.prefix}_{self.current + 1}.{self.ext}" if self.current < last else None


class TrsAdapter(Adapter):
    """TRS WCM lists: static items, ``index_N`` paging from ``createPageHTML`` / ``countPage``."""

    kind = KIND

    def parse(self, text: str, url: str, source: Source) -> ListPage:
        return parse(text, url, source)


def parse(html: str, url: str, source: Source | None = None) -> ListPage:
    """Items as the static adapter reads them; ``next`` from the paging script."""
    page = static.parse(html, url, source.selectors if source else None)
    paging = find_paging(html, url)
    return ListPage(page.items, KIND, next_request(url, paging), paging.total if paging else None)


def next_request(url: str, paging: Paging | None) -> Request | None:
    name = paging.next_name() if paging else None
    return Request(urljoin(url, name), headers={"Referer": url}) if name else None


def find_paging(html: str, url: str) -> Paging | None:
    """The paging the page's script states, or None when it states none we can read."""
    call = _CALL.search(html)
    if call:
        return _from_call(call, html)
    count = _var(html, "countPage")
    if count is None:
        return None
    prefix, ext = _names(html, url)
    return Paging(count, _var(html, "currentPage") or 0, prefix, ext)


def _from_call(m: re.Match[str], html: str) -> Paging | None:
    pager_id, count_arg, current_arg, prefix, ext, total_arg = m.groups()
    count, current = _value(count_arg, html), _value(current_arg, html)
    if count is None or current is None or not prefix or not ext:
        return None
    total = _value(total_arg, html) if total_arg else None
    return Paging(count, current, prefix, ext, one_based=pager_id is not None, total=total)


def _value(arg: str, html: str) -> int | None:
    """A literal, or a ``var NAME = N`` the page declares."""
    if arg.isdigit():
        return int(arg)
    return _var(html, arg)


def _var(html: str, name: str) -> int | None:
    m = re.search(_VAR.format(re.escape(name)), html)
    return int(m.group(1)) if m else None


def _names(html: str, url: str) -> tuple[str, str]:
    """Prefix and extension from the ``"index_" + nextPage + ".html"`` link, else from the URL."""
    m = _LINK.search(html)
    if m:
        return m.group(1), m.group(2)
    f = _FILE.match(urlsplit(url).path.rsplit("/", 1)[-1])
    return (f.group(1), f.group(2)) if f else ("index", "html")
