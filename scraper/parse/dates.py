"""Dates as bureau sites write them -> ISO ``YYYY-MM-DD``. Pure."""

from __future__ import annotations

import re
from datetime import date

_CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
DATE_RE = re.compile(r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)")
_CN_DATE_RE = re.compile(r"([〇零○一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日")


def _cn_small(s: str) -> int:
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + _CN_DIGITS[s[1]]
    if s.endswith("十"):
        return _CN_DIGITS[s[0]] * 10
    if "十" in s:
        a, b = s.split("十")
        return _CN_DIGITS[a] * 10 + _CN_DIGITS[b]
    return _CN_DIGITS[s]


def find_date(text: str) -> str | None:
    """The first plausible date in ``text`` as ``YYYY-MM-DD``, or None."""
    for m in DATE_RE.finditer(text):
        iso = _valid(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if iso:
            return iso
    m = _CN_DATE_RE.search(text)
    if m:
        try:
            year = int("".join(str(_CN_DIGITS[c]) for c in m.group(1)))
            return _valid(year, _cn_small(m.group(2)), _cn_small(m.group(3)))
        except (KeyError, ValueError):
            return None
    return None


def _valid(y: int, m: int, d: int) -> str | None:
    if not 1990 <= y <= 2100:
        return None
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None
