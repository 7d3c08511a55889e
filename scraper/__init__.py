"""clusterwatch's scraper: models and errors. Import the pipeline from ``scraper.pipeline``."""

from scraper.errors import Blocked, FetchError, ParseError, ScraperError, TooLarge
from scraper.models import Announcement, Attachment, Detail, Event, Fetched, ListItem, ListPage, PlannedDelivery

__all__ = [
    "Announcement",
    "Attachment",
    "Blocked",
    "Detail",
    "Event",
    "FetchError",
    "Fetched",
    "ListItem",
    "ListPage",
    "ParseError",
    "PlannedDelivery",
    "ScraperError",
    "TooLarge",
]
