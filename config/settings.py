"""Frozen settings objects. Defaults live here and only here.

The TOML file is validated by :mod:`config.loader`; these classes are what the
rest of clusterwatch receives.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Union

from config.secrets import Secret

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (compatible; clusterwatch/0.1; +https://github.com/clusterwatch/clusterwatch)"
)


@dataclass(frozen=True)
class Selectors:
    """CSS selectors for the generic ``static`` adapter."""

    item: str | None = None  # None: the adapter's default (static: the dated-links heuristic)
    link: str = "a"
    title: str | None = None  # defaults to the link
    date: str | None = None


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    kind: str = "static"
    interval: int | None = 1800  # seconds; None when cron is set
    cron: str | None = None  # five fields, weekday names only
    selectors: Selectors | None = None
    baseline: str = "silent"  # "silent": first fetch alerts no one; "alert": it does
    follow_details: bool = True
    max_new_details: int = 20  # detail pages fetched per check, newest first
    enabled: bool = True
    pages: int = 1  # list pages read per check
    params: Mapping[str, str] = field(default_factory=dict)  # adapter-specific, e.g. miit-search's query
    ignore_robots: bool = False  # explicit, logged override of robots.txt for this source


@dataclass(frozen=True)
class Filters:
    """All optional, combined with AND. Empty means 'everything'."""

    sources: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()  # any of them, over title, body and entity names
    event_types: tuple[str, ...] = ()  # empty: announcement.new + revisions (see notifier.routing)
    programs: tuple[str, ...] = ()  # registry keys
    levels: tuple[str, ...] = ()  # national, provincial, municipal, county
    stages: tuple[str, ...] = ()  # call, notice, final, revocation, evaluation, other
    regions: tuple[str, ...] = ()  # the issuer or any selected entity lies in one of these (嘉兴市 covers 平湖市)
    entities: tuple[str, ...] = ()  # "my company appears in a list": any entity name containing one of these


@dataclass(frozen=True)
class Channel:
    kind: str  # "email" | "webhook" | "console"
    to: tuple[str, ...] = ()  # email recipients
    url: str | None = None  # webhook endpoint
    secrets: tuple[Secret, ...] = ()  # webhook signing secrets (whsec_...), newest first
    id: str = ""  # stable name within the subscriber; defaults to the kind (webhook, webhook-2, ...)

    def ids(self) -> tuple[str, ...]:
        """Channel ids that survive config edits: one per email recipient, else the channel's id.

        A webhook's id does not depend on its URL, so fixing a URL keeps the
        pending deliveries (and their idempotency keys) for that channel.
        """
        if self.kind == "email":
            return tuple(f"email:{addr.lower()}" for addr in self.to)
        return (self.id or self.kind,)


@dataclass(frozen=True)
class Subscriber:
    name: str
    channels: tuple[Channel, ...]
    filters: Filters = field(default_factory=Filters)
    operator: bool = False  # also receives source-health alerts (failing / recovered)
    mode: str = "instant"  # "instant", or "digest": one message a day at digest_at
    digest_at: str = "08:30"  # local time of the daily digest
    timezone: str = "Asia/Shanghai"
    list_unsubscribe: str | None = None  # List-Unsubscribe header value for email (a mailto: or https: URL)


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 587
    security: str = "starttls"  # "plain" | "starttls" | "ssl"
    username: str | None = None
    password: Secret | None = None
    sender: str = "clusterwatch <clusterwatch@localhost>"
    timeout: float = 30.0
    message_id_domain: str = "clusterwatch.invalid"
    ca_file: Path | None = None  # extra CA bundle for a server with a private certificate


@dataclass(frozen=True)
class Politeness:
    delay: float = 3.0  # seconds between two requests to the same host
    concurrency: int = 4  # hosts fetched at the same time
    timeout: float = 20.0  # seconds for connect/read/write
    deadline: float = 120.0  # seconds for one whole fetch, retries included
    max_bytes: int = 10_000_000  # decoded body cap
    max_redirects: int = 5
    retries: int = 2  # extra attempts for timeouts, 429 and 5xx


@dataclass(frozen=True)
class Delivery:
    # With these defaults a delivery keeps being retried for roughly 1.5-3 days
    # (jitter) before it is declared dead: an outage delays alerts, it does not drop them.
    max_attempts: int = 20
    backoff_base: float = 60.0  # seconds before the second attempt; doubles each time
    backoff_max: float = 6 * 3600.0
    interval: int = 60  # seconds between relay runs in the daemon
    webhook_timeout: float = 20.0


@dataclass(frozen=True)
class Attachments:
    download: bool = True  # download attachments of new announcements into the archive
    max_bytes: int = 30_000_000  # per file, counted after decompression
    max_files: int = 10  # per announcement
    recheck_days: int = 7  # re-read recent announcements' pages for revisions and replaced files
    recheck_per_check: int = 2  # at most this many re-reads per check (politeness)


@dataclass(frozen=True)
class Health:
    failures_before_alert: int = 3  # consecutive failed checks before operators are told (once)
    shrink_ratio: float = 0.25  # a list body below this share of the last good one is "broken"
    blocked_backoff: float = 1800.0  # seconds; doubles per consecutive block, capped at a day


@dataclass(frozen=True)
class FeedSettings:
    """``[feeds]``: Atom files rewritten after each check (all.xml and one per subscriber)."""

    dir: Path  # the folder, resolved against the config file's folder
    entries: int = 50  # newest events per feed


@dataclass(frozen=True)
class Network:
    """``[network]``: non-public addresses that may be connected to anyway (config/network.py)."""

    allow_networks: tuple[IPNetwork, ...] = ()  # e.g. 127.0.0.0/8 for a local test site
    allow_hosts: tuple[str, ...] = ()  # host names trusted whatever they resolve to


@dataclass(frozen=True)
class Settings:
    path: Path  # the config file this came from
    database: Path
    secrets_file: Path | None = None  # NAME=value lines read after the environment
    user_agent: str = DEFAULT_USER_AGENT
    timezone: str = "Asia/Shanghai"
    politeness: Politeness = field(default_factory=Politeness)
    delivery: Delivery = field(default_factory=Delivery)
    health: Health = field(default_factory=Health)
    attachments: Attachments = field(default_factory=Attachments)
    extra_ca: Mapping[str, Path] = field(default_factory=dict)  # host -> CA bundle for incomplete chains
    programs: tuple[Mapping[str, object], ...] = ()  # user-defined programs, added to config/programs.toml
    regions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # extra places: city -> its counties
    smtp: Smtp | None = None
    sources: tuple[Source, ...] = ()
    subscribers: tuple[Subscriber, ...] = ()
    feeds: FeedSettings | None = None  # None: no feed files are written
    network: Network = field(default_factory=Network)  # default: public addresses only

    def source(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)
