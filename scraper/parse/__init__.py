"""Page parsers; selectolax is used only inside this package.

``ADAPTERS`` maps an adapter ``kind`` (the config's ``sources[].kind``) to its
list-page parser ``parse(html, page_url, selectors) -> ListPage``.
"""

from __future__ import annotations

from typing import Callable

from config import Selectors
from scraper.models import ListPage
from scraper.parse import detail, static

ListParser = Callable[[str, str, "Selectors | None"], ListPage]

ADAPTERS: dict[str, ListParser] = {
    static.KIND: static.parse,
}

parse_detail = detail.parse

__all__ = ["ADAPTERS", "ListParser", "parse_detail"]
