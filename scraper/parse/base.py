"""The adapter interface. One adapter per CMS family, registered by ``kind``.

An adapter is pure: it says which request to make first and turns each
response's text into a :class:`ListPage` -- items, plus the request for the
next page when there is one. The pipeline does the fetching, follows ``next``
up to the source's ``pages``, and stops early when a page brings nothing new.

    first_request(source) -> Request
    parse(text, url, source) -> ListPage        (raises ParseError)
"""

from __future__ import annotations

from typing import ClassVar

from config import Source
from scraper.models import ListPage, Request

ADAPTERS: dict[str, "Adapter"] = {}


class Adapter:
    kind: ClassVar[str]
    #: True when the first response itself holds the list, so a 304 on it means "unchanged".
    conditional_first: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "kind", None):
            ADAPTERS[cls.kind] = cls()

    def first_request(self, source: Source) -> Request:
        return Request(source.url, conditional=self.conditional_first)

    def parse(self, text: str, url: str, source: Source) -> ListPage:
        raise NotImplementedError
