"""The program registry: which lists a title can announce (config/programs.toml plus the user's own).

A :class:`Registry` is an ordered, frozen tuple of :class:`Program`; order is matching priority. The user's
``[[programs]]`` tables come first, then the shipped ones, so a user can name a more specific programme.

    >>> reg = load_registry([{"key": "eagle", "name": "雄鹰行动企业", "aliases": ["雄鹰行动"]}])
    >>> reg.keys()[:2]
    ('eagle', 'cluster-core-area')
    >>> reg.get("little-giant").level
    'national'

This module only reads and validates; matching titles is ``scraper.classify``'s job.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from config.node import ConfigError, Node

PROGRAMS_FILE = Path(__file__).with_name("programs.toml")
# Mirrors scraper.models.LEVELS (config may not import scraper); a test keeps the two equal.
LEVELS = ("national", "provincial", "municipal", "county")
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_GAP = re.compile(r"\s*(?:…|\.\.\.)\s*")


@dataclass(frozen=True)
class Program:
    """One programme: its key, names, default level and the phrases that name it."""

    key: str
    name: str
    name_en: str
    level: str | None
    aliases: tuple[str, ...]  # name and name_en included, in the order written
    keeps_level: bool = False
    builtin: bool = True


@dataclass(frozen=True)
class Registry:
    """Programs in priority order (the first match in a title wins)."""

    programs: tuple[Program, ...]

    def __iter__(self) -> Iterator[Program]:
        return iter(self.programs)

    def __len__(self) -> int:
        return len(self.programs)

    def __contains__(self, key: object) -> bool:
        return any(p.key == key for p in self.programs)

    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.programs)

    def get(self, key: str) -> Program:
        for p in self.programs:
            if p.key == key:
                return p
        raise KeyError(key)


def load_registry(extra: Sequence[Mapping[str, Any]] = (), *, file: str = "config") -> Registry:
    """The shipped programs plus ``extra`` (``[[programs]]`` tables from ``file``), user programs first.

    Raises :class:`ConfigError` naming the table (``programs[0].key``) and the problem.
    """
    own = tuple(_program(Node(file, f"programs[{i}]", _table(file, i, t)), builtin=False) for i, t in enumerate(extra))
    programs = own + _builtin()
    _check_unique(programs, file)
    return Registry(programs)


def default_registry() -> Registry:
    """The shipped registry, read once."""
    return _default()


@lru_cache(maxsize=1)
def _default() -> Registry:
    return load_registry()


@lru_cache(maxsize=1)
def _builtin() -> tuple[Program, ...]:
    file = str(PROGRAMS_FILE)
    try:
        data = tomllib.loads(PROGRAMS_FILE.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(file, "", f"cannot read the program registry ({e})") from None
    root = Node(file, "", data)
    programs = tuple(_program(n, builtin=True) for n in root.tables("programs"))
    root.done()
    _check_unique(programs, file)
    return programs


def _table(file: str, i: int, table: object) -> Mapping[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigError(file, f"programs[{i}]", "expected a table")
    return table


def _program(n: Node, builtin: bool) -> Program:
    key = n.get("key", str, required=True).strip()
    if not KEY_RE.match(key):
        raise n.err("key", f"{key!r} is not a program key (lower-case letters, digits and '-', at most 40)")
    name = n.get("name", str, required=True).strip()
    if not name:
        raise n.err("name", f"program {key!r}: must not be empty")
    name_en = n.get("name_en", str, "").strip()
    level = n.get("level", str)
    if level is not None and level not in LEVELS:
        raise n.err("level", f"program {key!r}: must be one of {', '.join(LEVELS)} (got {level!r})")
    keeps_level = n.get("keeps_level", bool, False)
    if keeps_level and level is None:
        raise n.err("keeps_level", f"program {key!r}: needs a level to keep")
    for field, phrase in (("name", name), ("name_en", name_en)):
        if phrase and not _usable(phrase):
            raise n.err(field, f"program {key!r}: {phrase!r} is too short to match (at least 2 characters)")
    aliases = n.strings("aliases")
    for k, alias in enumerate(aliases):
        if not _usable(alias):
            raise ConfigError(n.file, f"{n.path}.aliases[{k}]",
                              f"program {key!r}: alias {alias!r} needs at least 2 characters on each side of '…'")
    n.done()
    return Program(key, name, name_en, level, tuple(dict.fromkeys(a for a in (name, name_en) + aliases if a)),
                   keeps_level, builtin)


def _usable(phrase: str) -> bool:
    return all(len(part.strip()) >= 2 for part in _GAP.split(phrase.strip()))


def _check_unique(programs: tuple[Program, ...], file: str) -> None:
    """No key twice, and no alias naming two programs; the error names the user's table when one is involved."""
    first_key: dict[str, int] = {}
    first_alias: dict[str, int] = {}
    for j, p in enumerate(programs):
        if p.key in first_key:
            i = first_key[p.key]
            raise _clash(programs, file, i, j, "key", f"duplicate program key {p.key!r}")
        first_key[p.key] = j
        for a in p.aliases:
            i = first_alias.setdefault(a.casefold(), j)
            if i != j:
                raise _clash(programs, file, i, j, "aliases", f"alias {a!r} names both {programs[i].key!r} and {p.key!r}")


def _clash(programs: tuple[Program, ...], file: str, i: int, j: int, field: str, problem: str) -> ConfigError:
    """Blame the user's table (a user program clashing with a shipped one), else the later one."""
    users = sum(1 for p in programs if not p.builtin)
    culprit, other = (i, j) if programs[j].builtin and not programs[i].builtin else (j, i)
    if programs[culprit].builtin:
        return ConfigError(str(PROGRAMS_FILE), f"programs[{culprit - users}].{field}", problem)
    where = "programs.toml" if programs[other].builtin else f"programs[{other}]"
    return ConfigError(file, f"programs[{culprit}].{field}", f"{problem} (also in {where})")
