"""Exceptions raised by the scraper.

    ScraperError
     +-- FetchError          transport failure, bad status, too large, too many redirects
     |    +-- Blocked        a WAF / challenge / soft-block page, or robots.txt says no (never content)
     |    +-- Broken         a 200 that is not content: a maintenance or soft-404 page
     |    +-- TooLarge       body over the configured cap (counted after decompression)
     |    +-- Refused        the address is not public and not in [network] allow (SSRF guard)
     +-- ParseError          the page could not be read as the adapter expects

"Not modified" (HTTP 304) is an outcome, not an error.
"""

from __future__ import annotations


class ScraperError(Exception):
    """Base class; the message names the URL and the problem."""


class FetchError(ScraperError):
    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class Blocked(FetchError):
    """The server answered with a challenge or block page."""


class Broken(FetchError):
    """The server answered 200 with a maintenance or error page instead of content."""


class TooLarge(FetchError):
    """The body exceeded the size cap."""


class Refused(FetchError):
    """The SSRF guard refused to connect: the host resolves to a non-public address (scraper.netguard)."""

    def __init__(self, message: str, *, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message  # the refusal itself, without the URL that led to it


class ParseError(ScraperError):
    """The page did not have the expected shape."""
