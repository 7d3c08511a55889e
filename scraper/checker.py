"""``check``: read one source's list without touching the database."""

from __future__ import annotations

import functools

from config import Settings, Source
from scraper.fetch import Fetcher
from scraper.listing import ListRead, read_list


async def dry_run(settings: Settings, source: Source, *, kind: str | None = None, pages: int | None = None) -> ListRead:
    async with Fetcher.for_settings(settings) as fetcher:
        return await read_list(functools.partial(fetcher.get), source, kind=kind, pages=pages)
