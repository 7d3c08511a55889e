"""The config reader's building blocks: key-path-aware tables, the error type, shared checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from config.secrets import Secret


NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ConfigError(Exception):
    """A config problem. ``str()`` is the full, user-facing message."""

    def __init__(self, file: str, path: str, problem: str):
        self.file, self.path, self.problem = file, path, problem
        where = f"{file}: {path}" if path else file
        super().__init__(f"config error: {where}: {problem}")


class Node:
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

    def table(self, key: str) -> "Node | None":
        raw = self.get(key, dict)
        return None if raw is None else Node(self.file, self._join(key), raw)

    def tables(self, key: str) -> list["Node"]:
        raw = self.get(key, list, default=[])
        nodes = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ConfigError(self.file, f"{self._join(key)}[{i}]", "expected a table")
            nodes.append(Node(self.file, f"{self._join(key)}[{i}]", item))
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


def unique(root: Node, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ConfigError(root.file, f"{key}[{i}].name", f"duplicate name {name!r}")
        seen.add(name)


def secret(n: Node, key: str, environ: Mapping[str, str]) -> Secret | None:
    var = n.get(key, str)
    if var is None:
        return None
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
        raise n.err(key, "must name an environment variable (letters, digits, _)")
    value = environ.get(var)
    if not value:
        raise n.err(key, f"environment variable {var} is not set")
    return Secret(value, var)


def domain(n: Node, key: str, default: str) -> str:
    value = n.get(key, str, default).strip()
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*", value):
        raise n.err(key, f"not a domain name: {value!r}")
    return value


def existing_file(n: Node, key: str) -> Path | None:
    value = n.get(key, str)
    if value is None:
        return None
    path = (Path(n.file).parent / Path(value).expanduser()).resolve()
    if not path.is_file():
        raise n.err(key, f"no such file: {path}")
    return path


def http_url(n: Node, key: str) -> str:
    url = n.get(key, str, required=True).strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError as e:
        raise n.err(key, f"not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or "\\" in url or any(c.isspace() for c in url):
        raise n.err(key, "not an http(s) URL")
    return url
