"""Source health: what a check's outcome means for operators. Pure functions.

* Only ``ok`` and ``not-modified`` are successes; ``blocked``, ``broken`` and
  ``error`` count toward the source's consecutive failures.
* Operators get ONE ``source.failing`` alert when the streak reaches the
  configured number, and ONE ``source.recovered`` alert when it ends. Both keys
  name the streak (its number for the source, and its start), so a repeated
  cycle never alerts twice and a new streak always alerts again.
* A blocked source is left alone for a while, doubling per block: we back off,
  we never try to get past a challenge.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from config import Health
from scraper.models import Event
from scraper.timeutil import iso

SOURCE_FAILING = "source.failing"
SOURCE_RECOVERED = "source.recovered"
OPERATOR_EVENTS = frozenset({SOURCE_FAILING, SOURCE_RECOVERED, "delivery.dead"})
SUCCESS = frozenset({"ok", "not-modified"})
MAX_BACKOFF = 86400.0


def failing_event(source: str, url: str, *, failures: int, since: str, outcome: str, error: str,
                  threshold: int, streak: int) -> Event | None:
    """The operator alert, when this failure makes the streak reach ``threshold``."""
    if failures != threshold:
        return None
    return Event(
        key=f"{SOURCE_FAILING}:{source}:{streak}:{since}", type=SOURCE_FAILING, source=source, announcement_key=None,
        payload={"source": source, "url": url, "title": f"source {source} is failing ({failures} checks in a row)",
                 "failures": failures, "since": since, "outcome": outcome, "error": error[:500]},
    )


def recovered_event(source: str, url: str, *, failures_before: int, since: str | None, now: str,
                    threshold: int, streak: int) -> Event | None:
    """The recovery notice, when a streak that had alerted ends."""
    if failures_before < threshold or since is None:
        return None
    return Event(
        key=f"{SOURCE_RECOVERED}:{source}:{streak}:{since}", type=SOURCE_RECOVERED, source=source, announcement_key=None,
        payload={"source": source, "url": url, "title": f"source {source} works again after {failures_before} failed checks",
                 "failures": failures_before, "since": since, "recovered_at": now},
    )


def blocked_backoff(health: Health, blocks_in_a_row: int, now: datetime) -> str:
    """When a blocked source may be tried again: base x 2^(n-1), at most a day."""
    seconds = min(MAX_BACKOFF, health.blocked_backoff * (2 ** max(0, blocks_in_a_row - 1)))
    return iso(now + timedelta(seconds=seconds))
