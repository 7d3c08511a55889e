"""robots.txt rules, parsed with Protego. Pure: the fetcher fetches, this decides.

RFC 9309 section 2.3.1: a 2xx answer is obeyed; 4xx ("unavailable") means no
restrictions; 5xx, a timeout or an unreachable host means complete disallow
(retried after ROBOTS_ERROR_TTL). Crawl-delay is honoured, capped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protego import Protego

ROBOTS_TTL = 24 * 3600.0
ROBOTS_ERROR_TTL = 600.0
ROBOTS_MAX_BYTES = 512 * 1024
MAX_CRAWL_DELAY = 60.0
AGENT = "clusterwatch"


@dataclass(frozen=True)
class Robots:
    status: str  # "rules", "allow-all" or "unreachable"
    why: str
    parsed: Any = None
    agent: str = AGENT

    @classmethod
    def allow_all(cls, why: str) -> "Robots":
        return cls("allow-all", why)

    @classmethod
    def unreachable(cls, why: str) -> "Robots":
        return cls("unreachable", f"robots.txt unavailable, so everything is disallowed: {why}")

    @classmethod
    def parse(cls, text: str, user_agent: str) -> "Robots":
        return cls("rules", "its rules", Protego.parse(text), _token(user_agent))

    def allows(self, url: str) -> bool:
        if self.status == "allow-all":
            return True
        if self.status == "unreachable":
            return False
        return bool(self.parsed.can_fetch(url, self.agent))

    @property
    def crawl_delay(self) -> float:
        if self.status != "rules":
            return 0.0
        delay = self.parsed.crawl_delay(self.agent)
        return min(float(delay), MAX_CRAWL_DELAY) if delay else 0.0


def _token(user_agent: str) -> str:
    """The product token rules are matched against: clusterwatch, whatever the full UA says."""
    return AGENT if AGENT in user_agent.lower() else user_agent.split("/")[0].split()[-1]
