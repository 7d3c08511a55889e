"""Load and validate clusterwatch's TOML config."""

from config.loader import ConfigError, load, parse_interval, validate_cron
from config.secrets import Secret
from config.settings import (
    Attachments,
    Channel,
    Delivery,
    Filters,
    Health,
    Network,
    Politeness,
    Selectors,
    Settings,
    Smtp,
    Source,
    Subscriber,
)

__all__ = [
    "Attachments",
    "Channel",
    "ConfigError",
    "Delivery",
    "Filters",
    "Health",
    "Network",
    "Politeness",
    "Secret",
    "Selectors",
    "Settings",
    "Smtp",
    "Source",
    "Subscriber",
    "load",
    "parse_interval",
    "validate_cron",
]
