"""Read and validate the TOML config.

Every problem is reported as ``config error: <file>: <key path>: <problem>``,
for example ``config error: clusterwatch.toml: sources[2].url: not an http(s) URL``.
Indexes in key paths count from 0, as in TOML arrays. Unknown keys are errors.
Secrets are read from the environment variables the config names; their values
never appear in a message.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections import ChainMap
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.cron import validate_cron
from config.feeds import feed_settings
from config.network import network_settings
from config.node import ConfigError, Node, domain, existing_file, secret, unique
from config.secrets import loose_permissions, read_secrets_file
from config.settings import Attachments, Delivery, Health, Politeness, Settings, Smtp
from config.sources import ADAPTER_KINDS, ADAPTER_PARAMS, default_sources, parse_interval, source
from config.subscribers import CHANNEL_KINDS, EVENT_TYPES, subscriber

log = logging.getLogger("clusterwatch.config")

__all__ = ["ADAPTER_KINDS", "ADAPTER_PARAMS", "CHANNEL_KINDS", "EVENT_TYPES", "ConfigError", "default_sources",
           "load", "parse", "parse_interval", "validate_cron"]


def load(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Settings:
    """Load and validate a config file. Raises :class:`ConfigError`."""
    p = Path(path)
    env = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(p), "", "file not found") from None
    except UnicodeDecodeError as e:
        raise ConfigError(str(p), "", f"not UTF-8 ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(p), "", f"invalid TOML: {e}") from None
    return parse(raw, p, env)


def parse(raw: Mapping[str, Any], path: Path, environ: Mapping[str, str]) -> Settings:
    root = Node(str(path), "", raw)
    environ, secrets_file = _secrets_file(root, path, environ)
    database = root.get("database", str, "clusterwatch.db")
    tz = root.get("timezone", str, "Asia/Shanghai")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise root.err("timezone", f"unknown time zone {tz!r}") from None
    kwargs: dict[str, Any] = {
        "path": path,
        "secrets_file": secrets_file,
        "database": (path.parent / Path(database).expanduser()).resolve(),
        "timezone": tz,
        "politeness": _politeness(root.table("politeness")),
        "delivery": _delivery(root.table("delivery")),
        "health": _health(root.table("health")),
        "attachments": _attachments(root.table("attachments")),
        "extra_ca": _extra_ca(root.table("tls")),
        "smtp": _smtp(root.table("smtp"), environ),
    }
    ua = root.get("user_agent", str)
    if ua is not None:
        if not ua.strip() or any(ord(c) < 32 for c in ua):
            raise root.err("user_agent", "must be a non-empty single line")
        kwargs["user_agent"] = ua.strip()
    sources = tuple(source(n) for n in root.tables("sources"))
    unique(root, "sources", [s.name for s in sources])
    if root.get("default_sources", bool, False):
        own = {s.name for s in sources}
        sources = tuple(s for s in default_sources() if s.name not in own) + sources
    kwargs["programs"] = _programs(root)
    from config.programs import load_registry

    program_keys = frozenset(p.key for p in load_registry(kwargs["programs"]).programs)
    subscribers = tuple(subscriber(n, environ, sources, program_keys, tz) for n in root.tables("subscribers"))
    unique(root, "subscribers", [s.name for s in subscribers])
    if any(c.kind == "email" for s in subscribers for c in s.channels) and kwargs["smtp"] is None:
        raise root.err("smtp", "is required when a subscriber has an email channel")
    kwargs["regions"] = _regions(root.table("regions"))
    kwargs["feeds"] = feed_settings(root.table("feeds"), subscribers)
    kwargs["network"] = network_settings(root.table("network"))
    root.done()
    return Settings(sources=sources, subscribers=subscribers, **kwargs)


def _secrets_file(root: Node, path: Path, environ: Mapping[str, str]) -> tuple[Mapping[str, str], Path | None]:
    """``secrets_file``: NAME=value lines consulted after the environment (config/secrets.py)."""
    name = root.get("secrets_file", str)
    if name is None:
        return environ, None
    if not name.strip():
        raise root.err("secrets_file", "must not be empty")
    file = (path.parent / Path(name).expanduser()).resolve()
    try:
        values = read_secrets_file(file)
    except ValueError as e:
        raise root.err("secrets_file", str(e)) from None
    warning = loose_permissions(file)
    if warning:
        log.warning("%s", warning)
    return ChainMap(environ, values), file  # type: ignore[arg-type]


def _programs(root: Node) -> tuple[dict[str, Any], ...]:
    """``[[programs]]``: the user's own programs, checked now by building the registry with them."""
    from config.programs import load_registry

    tables = tuple(dict(n.data) for n in root.tables("programs"))
    try:
        load_registry(tables)
    except ConfigError as e:
        raise ConfigError(root.file, e.path, e.problem) from None
    return tables


def _regions(n: Node | None) -> dict[str, tuple[str, ...]]:
    """``[regions]``: extra places, ``city = ["county", ...]``, added to config/regions.toml."""
    if n is None:
        return {}
    out = {}
    for city in n.data:
        names = n.strings(city)
        out[city] = names
    n.done()
    return out


def _politeness(n: Node | None) -> Politeness:
    if n is None:
        return Politeness()
    d = Politeness()
    delay = n.get("delay", float, d.delay)
    if delay < 0:
        raise n.err("delay", "must not be negative")
    retries = n.get("retries", int, d.retries)
    if not 0 <= retries <= 10:
        raise n.err("retries", "must be between 0 and 10")
    max_redirects = n.get("max_redirects", int, d.max_redirects)
    if not 0 <= max_redirects <= 10:
        raise n.err("max_redirects", "must be between 0 and 10")
    out = Politeness(
        delay=delay,
        concurrency=n.positive("concurrency", int, d.concurrency),
        timeout=n.positive("timeout", float, d.timeout),
        deadline=n.positive("deadline", float, d.deadline),
        max_bytes=n.positive("max_bytes", int, d.max_bytes),
        max_redirects=max_redirects,
        retries=retries,
    )
    n.done()
    return out


def _health(n: Node | None) -> Health:
    if n is None:
        return Health()
    d = Health()
    ratio = n.get("shrink_ratio", float, d.shrink_ratio)
    if not 0 <= ratio < 1:
        raise n.err("shrink_ratio", "must be at least 0 and below 1")
    out = Health(failures_before_alert=n.positive("failures_before_alert", int, d.failures_before_alert),
                 shrink_ratio=ratio, blocked_backoff=n.positive("blocked_backoff", float, d.blocked_backoff))
    n.done()
    return out


def _attachments(n: Node | None) -> Attachments:
    if n is None:
        return Attachments()
    d = Attachments()
    recheck_days = n.get("recheck_days", int, d.recheck_days)
    recheck_per_check = n.get("recheck_per_check", int, d.recheck_per_check)
    if recheck_days < 0 or recheck_per_check < 0:
        raise n.err("recheck_days" if recheck_days < 0 else "recheck_per_check", "must not be negative")
    out = Attachments(download=n.get("download", bool, d.download),
                      max_bytes=n.positive("max_bytes", int, d.max_bytes),
                      max_files=n.positive("max_files", int, d.max_files),
                      recheck_days=recheck_days, recheck_per_check=recheck_per_check)
    n.done()
    return out


def _extra_ca(n: Node | None) -> dict[str, Path]:
    """``[tls.extra_ca]``: host -> PEM bundle trusted for that host only."""
    if n is None:
        return {}
    table = n.table("extra_ca")
    n.done()
    if table is None:
        return {}
    out = {}
    for host in table.data:
        if not re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?", host):
            raise table.err(host, "not a host name")
        path = existing_file(table, host)
        assert path is not None
        out[host.lower()] = path
    table.done()
    return out


def _delivery(n: Node | None) -> Delivery:
    if n is None:
        return Delivery()
    d = Delivery()
    out = Delivery(
        max_attempts=n.positive("max_attempts", int, d.max_attempts),
        backoff_base=n.positive("backoff_base", float, d.backoff_base),
        backoff_max=n.positive("backoff_max", float, d.backoff_max),
        interval=n.positive("interval", int, d.interval),
        webhook_timeout=n.positive("webhook_timeout", float, d.webhook_timeout),
    )
    n.done()
    return out


def _smtp(n: Node | None, environ: Mapping[str, str]) -> Smtp | None:
    if n is None:
        return None
    d = Smtp(host="")
    host = n.get("host", str, required=True).strip()
    if not host:
        raise n.err("host", "must not be empty")
    port = n.get("port", int, None)
    security = n.choice("security", ("plain", "starttls", "ssl"), d.security)
    if port is None:
        port = {"plain": 25, "starttls": 587, "ssl": 465}[security]
    if not 0 < port < 65536:
        raise n.err("port", "must be between 1 and 65535")
    sender = n.get("from", str, d.sender)
    if any(ord(c) < 32 for c in sender) or "@" not in sender:
        raise n.err("from", "must be one address, e.g. 'clusterwatch <alerts@example.org>'")
    out = Smtp(
        host=host,
        port=port,
        security=security,
        username=n.get("username", str),
        password=secret(n, "password_env", environ),
        sender=sender,
        timeout=n.positive("timeout", float, d.timeout),
        message_id_domain=domain(n, "message_id_domain", d.message_id_domain),
        ca_file=existing_file(n, "ca_file"),
    )
    if out.password is not None and not out.username:
        raise n.err("username", "is required when password_env is set")
    n.done()
    return out
