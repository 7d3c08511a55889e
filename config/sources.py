"""``[[sources]]``: adapters and their parameters, schedules, selectors, the shipped default list."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from config.cron import validate_cron
from config.node import NAME_RE, Node, http_url
from config.settings import Selectors, Source


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


_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


DEFAULT_SOURCES = Path(__file__).with_name("default_sources.toml")


def default_sources() -> tuple[Source, ...]:
    """The shipped source list (config/default_sources.toml), validated like any config."""
    raw = tomllib.loads(DEFAULT_SOURCES.read_text(encoding="utf-8"))
    root = Node(str(DEFAULT_SOURCES), "", raw)
    sources = tuple(source(n) for n in root.tables("sources"))
    root.done()
    return sources


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


def source(n: Node) -> Source:
    d = Source(name="", url="")
    name = n.get("name", str, required=True)
    if not NAME_RE.match(name):
        raise n.err("name", "must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")
    url = http_url(n, "url")
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


def _pages(n: Node) -> int:
    pages = n.get("pages", int, 1)
    if not 1 <= pages <= 50:
        raise n.err("pages", "must be between 1 and 50")
    return pages


def _params(n: Node | None, kind: str) -> dict[str, str]:
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


def _selectors(n: Node | None) -> Selectors | None:
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
