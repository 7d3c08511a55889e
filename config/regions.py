"""Zhejiang's cities and county-level units, its development zones and China's provinces.

``load_regions()`` reads ``config/regions.toml`` (plus optional ``extra`` places from the
user's config) into a frozen :class:`Regions`:

* ``locate(text) -> (region, city)`` reads a place from the start of a name or from a place
  column value, longest match first: ``嘉兴市平湖市…`` -> (平湖市, 嘉兴市), ``温州乐清…`` ->
  (乐清市, 温州市), ``浙江省`` -> (浙江省, None), ``江苏省…`` -> (江苏省, None).
* ``contains(area, place)``: 嘉兴市 contains 平湖市 and itself; 浙江省 contains all of them.
* ``children(city)``: the county-level units and zones under a city.

A bare name that belongs to two cities (after ``extra``) is ambiguous and is matched only
after its city (``嘉兴市南湖区``), never on its own. Pure; imports nothing of ours.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Sequence

REGIONS_TOML = Path(__file__).with_name("regions.toml")
_WS = re.compile(r"\s+")
_BRACKETS = re.compile(r"[()\[\]〔〕【】]")

# kinds of place
PROVINCE, CITY, COUNTY, ZONE, SEPARATE = "province", "city", "county", "zone", "separate"


@dataclass(frozen=True)
class _Hit:
    name: str  # canonical name
    kind: str
    city: str | None  # the prefecture-level city it belongs to (itself for a city)


@dataclass(frozen=True)
class Regions:
    """Frozen place index. Build it with :func:`load_regions`."""

    province: str  # "浙江省"
    bare: Mapping[str, _Hit | None]  # alias -> place; None = a word that is not a place (三门峡)
    under: Mapping[str, Mapping[str, _Hit]]  # city -> alias -> child, matched right after the city's name
    kids: Mapping[str, tuple[str, ...]]  # city -> children in config order
    home: frozenset[str]  # the province's own cities (not those added through ``extra``)
    longest: int

    # ------------------------------------------------------------------ lookups

    def locate(self, text: str | None) -> tuple[str | None, str | None]:
        """(region, city) named at the start of ``text``; (None, None) when none is."""
        t = normalise_place(text)
        hit, n = self._match(self.bare, t, 0)
        if hit is None:
            return (None, None)
        if hit.kind == PROVINCE:
            if hit.name != self.province:
                return (hit.name, None)
            nxt, m = self._match(self.bare, t, n)
            if nxt is None or nxt.kind in (PROVINCE, SEPARATE):
                return (hit.name, None)
            hit, n = nxt, m
        if hit.kind == SEPARATE:
            return (hit.name, None)
        if hit.kind == CITY:
            child, _ = self._match(self.under.get(hit.name, {}), t, n)
            return (child.name, hit.name) if child is not None else (hit.name, hit.name)
        return (hit.name, hit.city)

    def contains(self, area: str, place: str) -> bool:
        """True when ``place`` lies in ``area`` (or is ``area``)."""
        a_region, a_city = self.locate(area)
        p_region, p_city = self.locate(place)
        if a_region is None or p_region is None:
            na, np_ = normalise_place(area), normalise_place(place)
            return bool(na) and na == np_
        if a_region == p_region:
            return True
        if a_region == a_city:  # a city: everything under it
            return p_city == a_region
        if a_region == self.province and a_city is None:
            return p_city in self.home
        return False

    def children(self, city: str) -> tuple[str, ...]:
        region, c = self.locate(city)
        return self.kids.get(c or "", ()) if region == c else ()

    @property
    def cities(self) -> tuple[str, ...]:
        return tuple(self.kids)

    # ------------------------------------------------------------------ internals

    def _match(self, index: Mapping[str, _Hit | None], t: str, start: int) -> tuple[_Hit | None, int]:
        for size in range(min(self.longest, len(t) - start), 1, -1):
            key = t[start:start + size]
            if key in index:
                hit = index[key]
                return (hit, start + size) if hit is not None else (None, start)
        return (None, start)


def normalise_place(text: str | None) -> str:
    """NFKC, no spaces, no brackets: 浙江（绍兴）华宇… reads as 浙江绍兴华宇…."""
    return _BRACKETS.sub("", _WS.sub("", unicodedata.normalize("NFKC", text or "")))


def load_regions(extra: Mapping[str, Sequence[str]] = MappingProxyType({}), *,
                 path: Path = REGIONS_TOML) -> Regions:
    """The shipped places plus ``extra`` (city -> its county-level units or zones)."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    b = _Builder()
    zj = raw["zhejiang"]
    for full, short in raw["provinces"].items():
        b.add(full, _Hit(full, PROVINCE, None), [short])
    for full, short in raw.get("separate", {}).items():
        b.add(full, _Hit(full, SEPARATE, None), [short])
    district_short = set(zj.get("district_short", ()))
    extra_short = {v: k for k, v in zj.get("extra_short", {}).items()}
    for city, spec in raw["cities"].items():
        b.add(city, _Hit(city, CITY, city), [spec["short"]])
        for county in spec["counties"]:
            b.child(city, county, COUNTY, _shorts(county, district_short, extra_short))
        for zone, abbrevs in raw.get("zones", {}).get(city, {}).items():
            b.child(city, zone, ZONE, list(abbrevs))
    home = set(raw["cities"])
    for city, names in extra.items():
        region, _ = b.peek(city)
        if region is None:
            b.add(city, _Hit(city, CITY, city), _shorts(city, set(), {}))
            region = city
        for name in names:
            b.child(region, name, ZONE, _shorts(name, set(), {}))
    for word in zj.get("stop", ()):
        b.stop(word)
    return b.build(zj["name"], frozenset(home))


def _shorts(name: str, district_short: set[str], extra_short: Mapping[str, str]) -> list[str]:
    out = [extra_short[name]] if name in extra_short else []
    stem = name[:-1]
    if name.endswith(("市", "县")) and len(stem) >= 2:
        out.append(stem)
    elif name.endswith("区") and stem in district_short:
        out.append(stem)
    return out


class _Builder:
    def __init__(self) -> None:
        self.aliases: dict[str, set[_Hit]] = {}
        self.stops: set[str] = set()
        self.under: dict[str, dict[str, _Hit]] = {}
        self.kids: dict[str, list[str]] = {}

    def add(self, name: str, hit: _Hit, shorts: Sequence[str]) -> None:
        for alias in (name, *shorts):
            self.aliases.setdefault(normalise_place(alias), set()).add(hit)
        if hit.kind == CITY:
            self.kids.setdefault(name, [])
            self.under.setdefault(name, {})

    def child(self, city: str, name: str, kind: str, shorts: Sequence[str]) -> None:
        hit = _Hit(name, kind, city)
        self.add(name, hit, shorts)
        if name not in self.kids[city]:
            self.kids[city].append(name)
        for alias in (name, *shorts):
            self.under[city][normalise_place(alias)] = hit

    def peek(self, name: str) -> tuple[str | None, str | None]:
        hits = self.aliases.get(normalise_place(name), set())
        one = next(iter(hits)) if len(hits) == 1 else None
        return (one.name, one.city) if one is not None and one.kind == CITY else (None, None)

    def stop(self, word: str) -> None:
        self.stops.add(normalise_place(word))

    def build(self, province: str, home: frozenset[str]) -> Regions:
        bare: dict[str, _Hit | None] = {a: next(iter(h)) for a, h in self.aliases.items() if len(h) == 1}
        bare.update({w: None for w in self.stops})
        return Regions(
            province=province,
            bare=MappingProxyType(bare),
            under=MappingProxyType({c: MappingProxyType(dict(m)) for c, m in self.under.items()}),
            kids=MappingProxyType({c: tuple(v) for c, v in self.kids.items()}),
            home=home,
            longest=max(len(a) for a in (*self.aliases, *self.stops)),
        )
