"""Load and validate clusterwatch's TOML config."""

from config.loader import ConfigError, load, parse_interval, validate_cron
from config.secrets import Secret
from config.settings import (
    Channel,
    Delivery,
    Filters,
    Politeness,
    Selectors,
    Settings,
    Smtp,
    Source,
    Subscriber,
)

__all__ = [
    "Channel",
    "ConfigError",
    "Delivery",
    "Filters",
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
