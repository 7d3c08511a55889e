"""Small leaf helpers shared by the fetcher and the notifier: clocks and backoff."""

from __future__ import annotations

import email.utils
import random
import time
from datetime import datetime, timedelta, timezone
from typing import Mapping


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    """UTC ISO-8601 with seconds, e.g. ``2026-11-30T11:30:00Z`` (sorts as text)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def later(dt: datetime, seconds: float) -> str:
    return iso(dt + timedelta(seconds=seconds))


def backoff(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with jitter: uniform(base/2, 1) x min(cap, base * 2**attempt).

    Never zero, so a retry storm cannot happen; never above ``cap``.
    """
    ceiling = min(cap, base * (2 ** attempt))
    return ceiling * random.uniform(0.5, 1.0)


def retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or HTTP-date), or None."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
