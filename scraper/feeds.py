"""Feed files for ``[feeds]``: ``<dir>/all.xml`` and ``<dir>/<subscriber>.xml`` after each check.

``run --once`` (after the relay) and the daemon (after each check) call :func:`write_feeds`.
A file is replaced atomically (temp file + ``os.replace``) and only when its bytes changed, so
a feed reader's conditional GET keeps working. Files are mode 0644: feeds hold only public
announcements (never source-health alerts), and the web server serving the folder usually
runs as another user. Writing feeds never stops checks or deliveries: a failure is logged.
Files of subscribers removed from the config are left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from config.feeds import ALL_FEED
from config.settings import Settings
from db import Database
from notifier.feed import FeedFilter, Feeds
from scraper.files import write_atomic

log = logging.getLogger("clusterwatch.feeds")
FILE_MODE = 0o644
DIR_MODE = 0o755


@dataclass(frozen=True)
class FeedsReport:
    written: tuple[Path, ...]  # files whose content changed
    unchanged: int
    failed: tuple[str, ...] = ()  # "<file>: <error>"


def write_feeds(settings: Settings, db: Database) -> FeedsReport | None:
    """Write every configured feed file; ``None`` when ``[feeds]`` is not set. Never raises."""
    cfg = settings.feeds
    if cfg is None:
        return None
    try:
        cfg.dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        feeds = Feeds(settings)
        targets = [(ALL_FEED, FeedFilter())] + [(s.name, FeedFilter(subscriber=s)) for s in settings.subscribers]
        written: list[Path] = []
        failed: list[str] = []
        for name, flt in targets:
            path = cfg.dir / f"{name}.xml"
            try:
                if replace_if_changed(path, feeds.document(db, flt, cfg.entries)):
                    written.append(path)
            except OSError as e:
                log.error("feed %s not written: %s", path, e)
                failed.append(f"{path}: {e}")
    except Exception:  # a feed is a convenience; it must never stop checks or deliveries
        log.exception("writing feeds to %s failed", cfg.dir)
        return None
    if written:
        log.info("feeds: %d of %d files updated in %s", len(written), len(targets), cfg.dir)
    return FeedsReport(tuple(written), len(targets) - len(written) - len(failed), tuple(failed))


def replace_if_changed(path: Path, data: bytes, mode: int = FILE_MODE) -> bool:
    """Atomically write ``data`` unless ``path`` already holds exactly these bytes; True when written."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, data, mode)
    return True
