"""Read and validate the TOML config.

Every problem is reported as ``config error: <file>: <key path>: <problem>``,
for example ``config error: clusterwatch.toml: sources[2].url: not an http(s) URL``.
Indexes in key paths count from 0, as in TOML arrays. Unknown keys are errors.
Secrets are read from the environment variables the config names; their values
never appear in a message.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.secrets import Secret
from config.settings import (
    Attachments,
    Channel,
    Delivery,
    Filters,
    Health,
    Politeness,
    Selectors,
    Settings,
    Smtp,
    Source,
    Subscriber,
)

# The adapters and the parameters each accepts in [sources.params]; tests check this
# table against scraper.parse.ADAPTERS (config is a leaf and cannot import them).
ADAPTER_PARAMS: dict[str, tuple[str, ...]] = {
    "static": (),
    "hanweb-jpage": ("per_page",),
    "hanweb-jpaas": ("page_size",),
    "miit-search": ("query", "cateid", "page_size", "api"),
    "trs": (),
    "feed": (),
    "auto": (),
}
ADAPTER_KINDS = tuple(ADAPTER_PARAMS)
CHANNEL_KINDS = ("email", "webhook", "console")
EVENT_TYPES = ("announcement.new", "source.failing", "source.recovered", "attachment.changed",
               "announcement.revised")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(Exception):
    """A config problem. ``str()`` is the full, user-facing message."""

    def __init__(self, file: str, path: str, problem: str):
        self.file, self.path, self.problem = file, path, problem
        where = f"{file}: {path}" if path else file
        super().__init__(f"config error: {where}: {problem}")


class _Node:
    """A TOML table being read, remembering its key path for messages."""

    def __init__(self, file: str, path: str, data: Mapping[str, Any]):
        self.file, self.path, self.data = file, path, data
        self.used: set[str] = set()

    def err(self, key: str | None, problem: str) -> ConfigError:
        return ConfigError(self.file, self._join(key), problem)

    def _join(self, key: str | None) -> str:
        if key is None:
            return self.path
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise self.err(key, "is required")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and kind is not bool and not (isinstance(kind, tuple) and bool in kind):
            raise self.err(key, f"expected {_kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.err(key, f"expected {_kind_name(kind)}, got {_kind_name(type(value))}")
        return value

    def table(self, key: str) -> "_Node | None":
        raw = self.get(key, dict)
        return None if raw is None else _Node(self.file, self._join(key), raw)

    def tables(self, key: str) -> list["_Node"]:
        raw = self.get(key, list, default=[])
        nodes = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ConfigError(self.file, f"{self._join(key)}[{i}]", "expected a table")
            nodes.append(_Node(self.file, f"{self._join(key)}[{i}]", item))
        return nodes

    def strings(self, key: str) -> tuple[str, ...]:
        raw = self.get(key, (list, str), default=[])
        if isinstance(raw, str):
            raw = [raw]
        for i, v in enumerate(raw):
            if not isinstance(v, str) or not v.strip():
                raise ConfigError(self.file, f"{self._join(key)}[{i}]", "expected a non-empty string")
        return tuple(v.strip() for v in raw)

    def positive(self, key: str, kind: type, default: Any) -> Any:
        value = self.get(key, kind, default)
        if value <= 0:
            raise self.err(key, "must be greater than 0")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None) -> str:
        value = self.get(key, str, default, required=default is None)
        if value not in choices:
            raise self.err(key, f"must be one of {', '.join(choices)} (got {value!r})")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.err(unknown[0], "unknown key")


def _kind_name(kind: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
             list: "an array", dict: "a table"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, getattr(kind, "__name__", str(kind)))


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
    root = _Node(str(path), "", raw)
    database = root.get("database", str, "clusterwatch.db")
    tz = root.get("timezone", str, "Asia/Shanghai")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise root.err("timezone", f"unknown time zone {tz!r}") from None
    kwargs: dict[str, Any] = {
        "path": path,
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
    sources = tuple(_source(n) for n in root.tables("sources"))
    _unique(root, "sources", [s.name for s in sources])
    if root.get("default_sources", bool, False):
        own = {s.name for s in sources}
        sources = tuple(s for s in default_sources() if s.name not in own) + sources
    subscribers = tuple(_subscriber(n, environ, sources) for n in root.tables("subscribers"))
    _unique(root, "subscribers", [s.name for s in subscribers])
    if any(c.kind == "email" for s in subscribers for c in s.channels) and kwargs["smtp"] is None:
        raise root.err("smtp", "is required when a subscriber has an email channel")
    root.done()
    return Settings(sources=sources, subscribers=subscribers, **kwargs)


DEFAULT_SOURCES = Path(__file__).with_name("default_sources.toml")


def default_sources() -> tuple[Source, ...]:
    """The shipped source list (config/default_sources.toml), validated like any config."""
    raw = tomllib.loads(DEFAULT_SOURCES.read_text(encoding="utf-8"))
    root = _Node(str(DEFAULT_SOURCES), "", raw)
    sources = tuple(_source(n) for n in root.tables("sources"))
    root.done()
    return sources


def _unique(root: _Node, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ConfigError(root.file, f"{key}[{i}].name", f"duplicate name {name!r}")
        seen.add(name)


def _politeness(n: _Node | None) -> Politeness:
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


def _health(n: _Node | None) -> Health:
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


def _attachments(n: _Node | None) -> Attachments:
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


def _extra_ca(n: _Node | None) -> dict[str, Path]:
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
        path = _existing_file(table, host)
        assert path is not None
        out[host.lower()] = path
    table.done()
    return out


def _delivery(n: _Node | None) -> Delivery:
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


def _secret(n: _Node, key: str, environ: Mapping[str, str]) -> Secret | None:
    var = n.get(key, str)
    if var is None:
        return None
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
        raise n.err(key, "must name an environment variable (letters, digits, _)")
    value = environ.get(var)
    if not value:
        raise n.err(key, f"environment variable {var} is not set")
    return Secret(value, var)


def _smtp(n: _Node | None, environ: Mapping[str, str]) -> Smtp | None:
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
        password=_secret(n, "password_env", environ),
        sender=sender,
        timeout=n.positive("timeout", float, d.timeout),
        message_id_domain=_domain(n, "message_id_domain", d.message_id_domain),
        ca_file=_existing_file(n, "ca_file"),
    )
    if out.password is not None and not out.username:
        raise n.err("username", "is required when password_env is set")
    n.done()
    return out


def _domain(n: _Node, key: str, default: str) -> str:
    value = n.get(key, str, default).strip()
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*", value):
        raise n.err(key, f"not a domain name: {value!r}")
    return value


def _existing_file(n: _Node, key: str) -> Path | None:
    value = n.get(key, str)
    if value is None:
        return None
    path = (Path(n.file).parent / Path(value).expanduser()).resolve()
    if not path.is_file():
        raise n.err(key, f"no such file: {path}")
    return path


def _http_url(n: _Node, key: str) -> str:
    url = n.get(key, str, required=True).strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError as e:
        raise n.err(key, f"not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or "\\" in url or any(c.isspace() for c in url):
        raise n.err(key, "not an http(s) URL")
    return url


def parse_interval(value: int | str) -> int:
    """``1800``, ``"30m"``, ``"2h"``, ``"1d"`` -> seconds. Raises ValueError."""
    if isinstance(value, int):
        seconds = value
    else:
        m = _INTERVAL_RE.match(value)
        if not m:
            raise ValueError("expected seconds or a duration such as '30m', '2h', '1d'")
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds < 60:
        raise ValueError("must be at least 60 seconds")
    return seconds


def _source(n: _Node) -> Source:
    d = Source(name="", url="")
    name = n.get("name", str, required=True)
    if not _NAME_RE.match(name):
        raise n.err("name", "must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")
    url = _http_url(n, "url")
    kind = n.choice("kind", ADAPTER_KINDS, d.kind)
    interval_raw = n.get("interval", (int, str))
    cron = n.get("cron", str)
    if interval_raw is not None and cron is not None:
        raise n.err("cron", "set either interval or cron, not both")
    interval: int | None = d.interval
    if cron is not None:
        problem = validate_cron(cron)
        if problem:
            raise n.err("cron", problem)
        interval = None
    elif interval_raw is not None:
        try:
            interval = parse_interval(interval_raw)
        except ValueError as e:
            raise n.err("interval", str(e)) from None
    selectors = _selectors(n.table("selectors"))
    out = Source(
        name=name,
        url=url,
        kind=kind,
        interval=interval,
        cron=cron,
        selectors=selectors,
        baseline=n.choice("baseline", ("silent", "alert"), d.baseline),
        follow_details=n.get("follow_details", bool, d.follow_details),
        max_new_details=n.positive("max_new_details", int, d.max_new_details),
        enabled=n.get("enabled", bool, True),
        pages=_pages(n),
        params=_params(n.table("params"), kind),
        ignore_robots=n.get("ignore_robots", bool, False),
    )
    n.done()
    return out


def _pages(n: _Node) -> int:
    pages = n.get("pages", int, 1)
    if not 1 <= pages <= 50:
        raise n.err("pages", "must be between 1 and 50")
    return pages


def _params(n: _Node | None, kind: str) -> dict[str, str]:
    if n is None:
        return {}
    allowed = ADAPTER_PARAMS[kind]
    out = {}
    for key in n.data:
        if key not in allowed:
            known = ", ".join(allowed) if allowed else "none"
            raise n.err(key, f"unknown parameter for the {kind} adapter (known: {known})")
        value = n.get(key, (str, int))
        out[key] = str(value)
    n.done()
    return out


def _selectors(n: _Node | None) -> Selectors | None:
    if n is None:
        return None
    values = {}
    for key in ("item", "link", "title", "date"):
        value = n.get(key, str)
        if value is not None:
            problem = _css_problem(value)
            if problem:
                raise n.err(key, problem)
            values[key] = value.strip()
    n.done()
    return Selectors(**values)


def _css_problem(sel: str) -> str | None:
    if not sel.strip():
        return "must not be empty"
    if sel.count("[") != sel.count("]") or sel.count("(") != sel.count(")"):
        return f"unbalanced brackets in CSS selector {sel!r}"
    if sel.lstrip().startswith(("/", "(")):
        return f"{sel!r} looks like XPath; use a CSS selector"
    return None


_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("day_of_week", 0, 6))
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def validate_cron(expr: str) -> str | None:
    """Return a problem description, or None when the five-field expression is fine.

    Day-of-week must use names (mon-fri): APScheduler 3 counts 0 as Monday while
    crontab counts 0 as Sunday, so a number would silently fire on the wrong day.
    """
    fields = expr.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day month weekday), got {len(fields)}"
    for value, (fname, lo, hi) in zip(fields, _CRON_FIELDS):
        for part in value.split(","):
            problem = _cron_part(part.lower(), fname, lo, hi)
            if problem:
                return f"{fname} field {value!r}: {problem}"
    return None


def _cron_part(part: str, fname: str, lo: int, hi: int) -> str | None:
    base, _, step = part.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        return f"bad step {step!r}"
    if base == "*":
        return None
    names = _WEEKDAYS if fname == "day_of_week" else _MONTHS if fname == "month" else ()
    bounds = base.split("-", 1)
    if len(bounds) == 2 and _cron_value(bounds[0], names) > _cron_value(bounds[1], names):
        return f"range {base!r} runs backwards"
    for bound in bounds:
        if fname == "day_of_week":
            if bound not in names:
                return "use weekday names (mon, tue, ... sun), not numbers"
        elif bound in names:
            continue
        elif not bound.isdigit() or not lo <= int(bound) <= hi:
            return f"{bound!r} is not in {lo}-{hi}"
    return None


def _cron_value(bound: str, names: tuple[str, ...]) -> int:
    if bound in names:
        return names.index(bound)
    return int(bound) if bound.isdigit() else -1


def _filters(n: _Node | None, sources: tuple[Source, ...]) -> Filters:
    if n is None:
        return Filters()
    known = {s.name for s in sources}
    srcs = n.strings("sources")
    for i, s in enumerate(srcs):
        if s not in known:
            raise ConfigError(n.file, f"{n.path}.sources[{i}]", f"no source named {s!r}")
    types = n.strings("event_types")
    for i, t in enumerate(types):
        if t not in EVENT_TYPES:
            raise ConfigError(n.file, f"{n.path}.event_types[{i}]",
                              f"unknown event type {t!r} (known: {', '.join(EVENT_TYPES)})")
    out = Filters(sources=srcs, keywords=n.strings("keywords"), event_types=types)
    n.done()
    return out


def _channel(n: _Node, environ: Mapping[str, str], ordinal: int) -> Channel:
    kind = n.choice("kind", CHANNEL_KINDS, None)
    cid = n.get("id", str)
    if cid is not None and not _NAME_RE.match(cid):
        raise n.err("id", "must be 1-64 letters, digits, '-', '_' or '.'")
    builders: dict[str, Callable[[], Channel]] = {
        "email": lambda: _email_channel(n),
        "webhook": lambda: _webhook_channel(n, environ),
        "console": lambda: Channel(kind="console"),
    }
    out = builders[kind]()
    if kind != "email":
        out = dataclasses.replace(out, id=cid or (kind if ordinal == 1 else f"{kind}-{ordinal}"))
    n.done()
    return out


def _email_channel(n: _Node) -> Channel:
    to = n.strings("to")
    if not to:
        raise n.err("to", "is required: at least one email address")
    for i, addr in enumerate(to):
        if not _EMAIL_RE.match(addr):
            raise ConfigError(n.file, f"{n.path}.to[{i}]", f"not an email address: {addr!r}")
    return Channel(kind="email", to=to)


def _webhook_channel(n: _Node, environ: Mapping[str, str]) -> Channel:
    url = _http_url(n, "url")
    names = n.strings("secret_env")
    if not names:
        raise n.err("secret_env", "is required: the environment variable holding the whsec_ signing secret")
    secrets = []
    for i, var in enumerate(names):
        where = f"{n.path}.secret_env[{i}]" if len(names) > 1 else f"{n.path}.secret_env"
        value = environ.get(var)
        if not value:
            raise ConfigError(n.file, where, f"environment variable {var} is not set")
        if not _valid_whsec(value):
            raise ConfigError(n.file, where,
                              f"environment variable {var} does not hold a whsec_ secret of 24-64 base64 bytes")
        secrets.append(Secret(value, var))
    return Channel(kind="webhook", url=url, secrets=tuple(secrets))


def _valid_whsec(value: str) -> bool:
    if not value.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except (ValueError, TypeError):
        return False
    return 24 <= len(key) <= 64


def _subscriber(n: _Node, environ: Mapping[str, str], sources: tuple[Source, ...]) -> Subscriber:
    name = n.get("name", str, required=True)
    if not _NAME_RE.match(name):
        raise n.err("name", "must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")
    nodes = n.tables("channels")
    kinds: list[str] = []
    channels = []
    for c in nodes:
        kind = c.data.get("kind")
        kinds.append(kind if isinstance(kind, str) else "")
        channels.append(_channel(c, environ, kinds.count(kinds[-1])))
    if not channels:
        raise n.err("channels", "at least one channel is required")
    ids = [i for c in channels for i in c.ids()]
    for i, cid in enumerate(ids):
        if cid in ids[:i]:
            raise n.err("channels", f"two channels share the id {cid!r}; give one an `id`")
    out = Subscriber(name=name, channels=channels, filters=_filters(n.table("filters"), sources),
                     operator=n.get("operator", bool, False))
    n.done()
    return out
