"""``extract``: read one detail page (URL or saved file) or one attachment, and say what it announces.

Writes nothing to the database; attachments are downloaded into a temporary archive, as a check
would (not at all with ``[attachments] download = false``), so what it prints is what a check stores.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from config import Settings
from scraper import analyse, entities as ents
from scraper.archive import Archive
from scraper.attachments import read_tables
from scraper.classify import classify
from scraper.decode import decode
from scraper.diff import announcement
from scraper.fetch import Fetcher
from scraper.models import ListItem, StoredFile
from scraper.parse import parse_detail

PAGE_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml")


async def extract(settings: Settings, target: str) -> dict[str, Any]:
    k = analyse.knowledge(settings)
    if target.startswith(("http://", "https://")):
        return await _page(settings, target, k)
    path = Path(target)
    if path.suffix.lower() in PAGE_SUFFIXES:
        return _report(path.resolve().as_uri(), decode(path.read_bytes())[0], [], None, k)
    return _attachment(path, k)


async def _page(settings: Settings, url: str, k: analyse.Knowledge) -> dict[str, Any]:
    async with Fetcher.for_settings(settings) as fetcher:
        fetched = await fetcher.get(url)
        detail = parse_detail(fetched.text, fetched.final_url)
        with tempfile.TemporaryDirectory(prefix="clusterwatch-extract-") as tmp:
            archive = Archive(Path(tmp))
            files = []
            wanted = detail.attachments[: settings.attachments.max_files] if settings.attachments.download else ()
            for att in wanted:  # as a check does, so what is printed is what a check stores
                try:
                    got = await fetcher.get(att.url, referer=url, max_bytes=settings.attachments.max_bytes)
                    files.append(StoredFile("", att.url, att.text, archive.store(got.body), len(got.body)))
                except Exception as e:  # reported per attachment, like a check does
                    files.append(StoredFile("", att.url, att.text, error=str(e)))
            return _report(fetched.final_url, fetched.text, files, archive, k)


def _report(url: str, html: str, files: list[StoredFile], archive: Archive | None,
            k: analyse.Knowledge) -> dict[str, Any]:
    detail = parse_detail(html, url)
    a = announcement("extract", "", ListItem(url, detail.title or ""), detail)
    u, parsed = analyse.analyse(a, detail, files, archive or Archive(Path(tempfile.gettempdir())), k)
    return {
        "url": url, "title": a.title, "pub_date": a.pub_date, "issuer": a.issuer,
        "classification": u.classification.as_dict(),
        "list_public": u.list_public, "count_stated": u.count_stated, "count_problem": u.count_problem,
        "attachments": [{"url": f.url, "text": f.text, "sha256": f.sha256, "bytes": f.bytes, "error": f.error,
                         "parse_error": f.parse_error, "entities": f.entities} for f in parsed],
        "entities": [_entity(e) for e in u.entities],
    }


def _attachment(path: Path, k: analyse.Knowledge) -> dict[str, Any]:
    tables = read_tables(path.read_bytes(), path.name)
    found = ents.from_tables(tables, regions=k.regions, role=ents.role_of(path.name), provenance=f"file:{path.name}")
    return {"file": str(path), "classification": classify(path.name, None, k.registry).as_dict(),
            "tables": len(tables), "entities": [_entity(e) for e in found]}


def _entity(e: Any) -> dict[str, Any]:
    return {"name": e.name, "raw_name": e.raw_name, "region": e.region, "city": e.city, "category": e.category,
            "role": e.role, "row": e.row, "provenance": e.provenance}


__all__ = ["extract"]
