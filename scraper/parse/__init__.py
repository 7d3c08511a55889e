"""Page parsers; selectolax is used only inside this package.

``ADAPTERS`` maps an adapter ``kind`` (the config's ``sources[].kind``) to its
:class:`~scraper.parse.base.Adapter`. Importing this package registers them all.
"""

from __future__ import annotations

from scraper.parse import auto, detail, feed, jpaas, jpage, miit, static, trs  # noqa: F401  (registration)
from scraper.parse.base import ADAPTERS, Adapter

parse_detail = detail.parse

__all__ = ["ADAPTERS", "Adapter", "parse_detail"]
