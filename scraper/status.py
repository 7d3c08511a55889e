"""``status``: each configured source's health, from the database."""

from __future__ import annotations

from typing import Any

from config import Settings
from db import open_db, store
from scraper.schedule import next_run
from scraper.timeutil import iso, utcnow


def source_status(settings: Settings) -> list[dict[str, Any]]:
    db = open_db(settings.database)
    known = store.overview(db)
    now = utcnow()
    rows = []
    for s in settings.sources:
        row = known.get(s.name, {})
        nxt = next_run(s, row.get("last_checked_at"), row.get("backoff_until"), now, settings.timezone)
        rows.append({
            "source": s.name,
            "url": s.url,
            "adapter": row.get("adapter_used") or s.kind,
            "last_success": row.get("last_ok_at"),
            "last_checked": row.get("last_checked_at"),
            "last_outcome": row.get("last_outcome"),
            "last_error": row.get("last_error"),
            "consecutive_failures": row.get("consecutive_failures") or 0,
            "failing_since": row.get("failing_since"),
            "backoff_until": row.get("backoff_until"),
            "items_known": row.get("items_known") or 0,
            "count_problems": (row.get("count_problems") or "").splitlines(),
            "next_run": iso(nxt) if nxt else None,
        })
    db.close()
    return rows
