"""Attachments and revisions: download files into the archive, re-read recent pages.

* New announcements' attachments are downloaded right after their detail page
  (JPaaS file links expire and are rate-limited), within a size cap, hashed
  with sha256 and kept by content. One failed file is recorded with its error;
  the announcement and its other files are kept.
* Recent announcements still on the list are re-read a few at a time. A
  changed page text is ``announcement_revised``; a known attachment whose
  bytes changed is ``attachment_replaced``. Both go to subscribers like news.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Sequence

from config import Source
from db import store
from notifier.routing import plan
from scraper import diff
from scraper.archive import Archive
from scraper.context import Context, FetchLog, fetch_logged
from scraper.errors import ScraperError
from scraper.models import Attachment, Event, StoredFile
from scraper.parse import parse_detail
from scraper.timeutil import iso, utcnow

log = logging.getLogger("clusterwatch.downloads")
REVISED = "announcement_revised"
FILE_CHANGED = "attachment_replaced"


async def download(ctx: Context, source: Source, key: str, attachments: Sequence[Attachment],
                   referer: str, fetch_log: FetchLog) -> list[StoredFile]:
    """Fetch each attachment (up to ``max_files``) into the archive; never raises."""
    cfg = ctx.settings.attachments
    if not cfg.download:
        return []
    archive = Archive.beside(ctx.settings.database)
    out = []
    for att in attachments[: cfg.max_files]:
        try:
            fetched = await fetch_logged(ctx, source.name, att.url, purpose="attachment", referer=referer, log=fetch_log,
                                         max_bytes=cfg.max_bytes, obey_robots=not source.ignore_robots)
            sha = archive.store(fetched.body)
        except (ScraperError, OSError) as e:
            log.warning("%s: attachment %s not downloaded: %s", source.name, att.url, e)
            out.append(StoredFile(key, att.url, att.text, error=str(e)))
            continue
        out.append(StoredFile(key, att.url, att.text, sha, len(fetched.body), fetched.headers.get("content-type")))
    return out


async def recheck(ctx: Context, source: Source, keys_on_list: Sequence[str]) -> int:
    """Re-read up to ``recheck_per_check`` recent pages; returns the number of events recorded."""
    cfg = ctx.settings.attachments
    now = utcnow()
    todo = store.recheck_candidates(
        ctx.db, source.name, keys_on_list, seen_since=iso(now - timedelta(days=cfg.recheck_days)),
        checked_before=iso(now - timedelta(hours=20)), limit=cfg.recheck_per_check)
    total = 0
    fetch_log = FetchLog()
    for item in todo:
        try:
            fetched = await fetch_logged(ctx, source.name, item.url, purpose="recheck", log=fetch_log,
                                         obey_robots=not source.ignore_robots)
            detail = parse_detail(fetched.text, fetched.final_url)
        except ScraperError as e:
            log.info("%s: recheck of %s failed: %s", source.name, item.url, e)
            continue
        title = detail.title or item.title
        new_hash = diff.content_hash(title, detail.pub_date or item.pub_date, detail.body)
        revised = new_hash != item.content_hash
        events: list[Event] = [_revised(source.name, item, title, detail.body, new_hash)] if revised else []
        known = store.file_hashes(ctx.db, item.key)
        files = await download(ctx, source, item.key, detail.attachments, item.url, fetch_log)
        events += [_file_changed(source.name, item, f, known[f.url]) for f in files
                   if f.sha256 and known.get(f.url) and known[f.url] != f.sha256]
        texts = {e.key: f"{title}\n{detail.body}" for e in events}
        store.record_recheck(ctx.db, item.key, now=iso(utcnow()), content_hash=new_hash if revised else None,
                             body=detail.body, files=files, events=events,
                             deliveries=plan(events, ctx.settings.subscribers, texts), fetches=fetch_log.take())
        total += len(events)
    store.record_fetches(ctx.db, fetch_log.take())  # the rows of re-reads that failed
    return total


def _revised(source: str, item: store.Recheck, title: str, body: str, new_hash: str) -> Event:
    return Event(key=f"{REVISED}:{item.key}:{new_hash[:16]}", type=REVISED, source=source,
                 announcement_key=item.key,
                 payload={"source": source, "url": item.url, "title": title, "pub_date": item.pub_date,
                          "excerpt": body[:500], "old_hash": item.content_hash, "new_hash": new_hash})


def _file_changed(source: str, item: store.Recheck, f: StoredFile, old: str | None) -> Event:
    url_id = hashlib.sha256(f.url.encode()).hexdigest()[:8]
    return Event(key=f"{FILE_CHANGED}:{item.key}:{url_id}:{(f.sha256 or '')[:16]}", type=FILE_CHANGED,
                 source=source, announcement_key=item.key,
                 payload={"source": source, "url": item.url, "title": item.title, "pub_date": item.pub_date,
                          "attachment_text": f.text, "attachment_url": f.url, "old_sha256": old,
                          "new_sha256": f.sha256, "attachments": [{"url": f.url, "text": f.text}]})
