"""Read a source's list: the first request, then ``next`` pages up to ``pages``.

The adapters are pure; this loop makes their requests through an injected
``fetch`` (the pipeline's logged fetch, or a plain one for ``check``). It stops
when the adapter offers no next page, when ``pages`` pages with items have been
read, or when a page brings no URL not already seen (a site that ignores the
page parameter would otherwise be read N times).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Awaitable, Callable

from config import Source
from scraper.errors import ParseError
from scraper.models import Fetched, ListItem
from scraper.parse import ADAPTERS

FetchFn = Callable[..., Awaitable[Fetched]]
EXTRA_REQUESTS = 3  # shells and API hops that carry no items themselves


@dataclass(frozen=True)
class ListRead:
    items: tuple[ListItem, ...]
    adapter: str  # what parsed the first page, e.g. "auto: hanweb-jpage"
    first: Fetched  # the first response: its validators and size feed the health checks
    pages: int  # pages that held items
    requests: int

    @property
    def not_modified(self) -> bool:
        return self.first.not_modified


async def read_list(fetch: FetchFn, source: Source, *, pages: int | None = None, kind: str | None = None,
                    etag: str | None = None, last_modified: str | None = None) -> ListRead:
    """Walk the list. ``fetch(url, headers=, etag=, last_modified=)`` does the I/O."""
    adapter = ADAPTERS.get(kind or source.kind)
    if adapter is None:
        raise ParseError(f"{source.name}: no adapter of kind {kind or source.kind!r}")
    limit = pages or source.pages
    req = adapter.first_request(source)
    items: dict[str, ListItem] = {}
    first: Fetched | None = None
    name = adapter.kind
    read = requests = 0
    while req is not None and read < limit and requests < limit + EXTRA_REQUESTS:
        conditional = req.conditional and first is None
        fetched = await fetch(req.url, headers=dict(req.headers), etag=etag if conditional else None,
                              last_modified=last_modified if conditional else None)
        requests += 1
        if first is None:
            first = fetched
            if fetched.not_modified:
                break
        parser = ADAPTERS[req.adapter] if req.adapter else adapter
        page = parser.parse(fetched.text, fetched.final_url, source)
        if requests == 1:
            name = page.adapter
        fresh = [i for i in page.items if i.url not in items]
        items.update((i.url, i) for i in fresh)
        if page.items:
            read += 1
            if not fresh:
                break
        req = page.next
        if req is not None and req.adapter is None and parser is not adapter:
            # keep following pages with the family that read this one (auto detects only once)
            req = dataclasses.replace(req, adapter=parser.kind)
    assert first is not None
    return ListRead(tuple(items.values()), name, first, read, requests)
