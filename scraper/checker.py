"""``check``: fetch and parse one source without touching the database."""

from __future__ import annotations

from config import Settings, Source
from scraper.fetch import Fetcher
from scraper.models import ListPage
from scraper.pipeline import parse_list


async def dry_run(settings: Settings, source: Source) -> ListPage:
    async with Fetcher(settings.politeness, settings.user_agent) as fetcher:
        fetched = await fetcher.get(source.url)
    return parse_list(source, fetched)
