"""``[feeds]``: where the Atom feed files go and how many entries each holds.

    [feeds]
    dir = "feeds"      # relative to the config file; <dir>/all.xml and <dir>/<subscriber>.xml
    entries = 50

Without a ``[feeds]`` table no feed files are written (``clusterwatch feed`` still works).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from config.node import ConfigError, Node
from config.settings import FeedSettings, Subscriber

ALL_FEED = "all"  # <dir>/all.xml: every announcement event; a subscriber may not take this name
MAX_ENTRIES = 1000


def feed_settings(n: Node | None, subscribers: Sequence[Subscriber]) -> FeedSettings | None:
    """Read ``[feeds]``; ``None`` when the table is absent. Raises :class:`ConfigError`."""
    if n is None:
        return None
    raw = n.get("dir", str, required=True).strip()
    if not raw:
        raise n.err("dir", "must not be empty")
    folder = (Path(n.file).parent / Path(raw).expanduser()).resolve()
    if folder.exists() and not folder.is_dir():
        raise n.err("dir", f"not a folder: {folder}")
    entries = n.positive("entries", int, FeedSettings(dir=folder).entries)
    if entries > MAX_ENTRIES:
        raise n.err("entries", f"must be at most {MAX_ENTRIES}")
    n.done()
    for i, sub in enumerate(subscribers):
        if sub.name == ALL_FEED:
            raise ConfigError(n.file, f"subscribers[{i}].name",
                              f"{ALL_FEED!r} is reserved for the all-events feed ({ALL_FEED}.xml in [feeds] dir)")
    return FeedSettings(dir=folder, entries=entries)
