"""``status``: each configured source's health, from the database, and a verdict for monitors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from config import Settings
from db import open_db, store
from db.outbox import queue_summary
from scraper.schedule import next_run
from scraper.timeutil import iso, utcnow


@dataclass(frozen=True)
class Verdict:
    """What a monitor needs: healthy or not, and why not."""

    problems: tuple[str, ...]
    waiting: int
    dead: int

    @property
    def healthy(self) -> bool:
        return not self.problems


def source_status(settings: Settings) -> list[dict[str, Any]]:
    db = open_db(settings.database)
    known = store.overview(db)
    now = utcnow()
    budget = settings.health.failures_before_alert
    rows = []
    for s in settings.sources:
        row = known.get(s.name, {})
        nxt = next_run(s, row.get("last_checked_at"), row.get("backoff_until"), now, settings.timezone)
        failures = row.get("consecutive_failures") or 0
        rows.append({
            "source": s.name,
            "url": s.url,
            "adapter": row.get("adapter_used") or s.kind,
            "last_success": row.get("last_ok_at"),
            "last_checked": row.get("last_checked_at"),
            "last_outcome": row.get("last_outcome"),
            "last_error": row.get("last_error"),
            "consecutive_failures": failures,
            "failing_since": row.get("failing_since"),
            "backoff_until": row.get("backoff_until"),
            "items_known": row.get("items_known") or 0,
            "count_problems": (row.get("count_problems") or "").splitlines(),
            "next_run": iso(nxt) if nxt else None,
            "healthy": not (s.enabled and failures >= budget),
        })
    db.close()
    return rows


def verdict(settings: Settings, rows: list[dict[str, Any]], *, dead_window: float | None) -> Verdict:
    """Unhealthy when an enabled source has failed ``failures_before_alert`` checks in a row, or a
    delivery went dead within ``dead_window`` seconds (``None``: ever)."""
    budget = settings.health.failures_before_alert
    problems = [f"source {r['source']}: {r['consecutive_failures']} failed checks in a row (budget {budget})"
                + (f", failing since {r['failing_since']}" if r["failing_since"] else "")
                for r in rows if not r["healthy"]]
    db = open_db(settings.database)
    since = iso(utcnow() - timedelta(seconds=dead_window)) if dead_window is not None else None
    q = queue_summary(db, dead_since=since)
    db.close()
    if q["dead"]:
        window = f" in the last {_span(dead_window)}" if dead_window is not None else ""
        problems.append(f"deliveries: {q['dead']} dead{window} (see `clusterwatch deliveries --status dead`; "
                        "`clusterwatch deliveries retry --dead` requeues them)")
    return Verdict(tuple(problems), q["waiting"], q["dead"])


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "ever"
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)} d"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    return f"{seconds:g} s"
