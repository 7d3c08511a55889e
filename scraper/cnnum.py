"""Pure numeral helpers for titles: Chinese numbers and ordinals, Chinese-numeral years, English ordinals.

    >>> cn_to_int("十一"), cn_to_int("两"), cn_to_int("一百零五")
    (11, 2, 105)
    >>> to_int("１２"), to_int("首"), cn_year("二〇二三")
    (12, 1, 2023)
    >>> en_ordinal("twenty-first"), en_ordinal("11th"), en_ordinal("2nd")
    (21, 11, 2)
"""

from __future__ import annotations

import re
import unicodedata

DIGITS = {"〇": 0, "零": 0, "○": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4,
          "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
CN_NUMERAL = "〇零○一二两兩三四五六七八九十拾百佰千仟"

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_ORD_ONES = ("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
             "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth").split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_ORD_TENS = {"twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50, "sixtieth": 60,
             "seventieth": 70, "eightieth": 80, "ninetieth": 90}
ORDINAL_WORDS = {w: i for i, w in enumerate(_ORD_ONES) if i} | _ORD_TENS
_SUFFIXED = re.compile(r"^(\d{1,9})(st|nd|rd|th)$")
# "twenty-first", "twenty first", "first", "21st": used by titles' regexes to find an English ordinal
EN_ORDINAL = (r"(?:(?:" + "|".join(_TENS) + r")[\s-]?(?:" + "|".join(_ORD_ONES[1:10]) + r")|"
              + "|".join(sorted(ORDINAL_WORDS, key=len, reverse=True)) + r"|\d+(?:st|nd|rd|th))")


def cn_to_int(s: str) -> int:
    """A Chinese number: 一…九, 十, 十一, 二十, 二十三, 百, 一百零五, 两, 〇/零. Raises ValueError."""
    s = s.strip()
    if not s:
        raise ValueError("empty number")
    total, num, last = 0, 0, None
    for ch in s:
        if ch in DIGITS:
            if last == "digit" and num:
                raise ValueError(f"not a Chinese number: {s!r}")
            num, last = DIGITS[ch], "digit"
        elif ch in UNITS:
            total += (num or 1) * UNITS[ch]
            num, last = 0, "unit"
        else:
            raise ValueError(f"not a Chinese number: {s!r}")
    return total + num


def to_int(s: str) -> int:
    """Arabic or full-width digits, a Chinese number, or 首 (= 1)."""
    s = unicodedata.normalize("NFKC", s).strip()
    if s.isdecimal():
        return int(s)
    if s == "首":
        return 1
    return cn_to_int(s)


def cn_year(s: str) -> int:
    """A year written digit by digit in Chinese numerals (二〇二三, 二零二四) or in Arabic digits."""
    s = unicodedata.normalize("NFKC", s).strip()
    if s.isdecimal():
        return int(s)
    if not s or any(ch not in DIGITS for ch in s):
        raise ValueError(f"not a year: {s!r}")
    return int("".join(str(DIGITS[ch]) for ch in s))


def en_number(word: str) -> int | None:
    """An English cardinal up to ninety-nine ("three", "twenty-one") or digits; None otherwise."""
    w = word.strip().lower()
    if w.isdecimal():
        return int(w) if len(w) <= 9 else None
    if w in _ONES:
        return _ONES.index(w)
    head, _, tail = w.replace(" ", "-").partition("-")
    if head in _TENS and (not tail or tail in _ONES[1:10]):
        return _TENS[head] + (_ONES.index(tail) if tail else 0)
    return None


def en_ordinal(word: str) -> int | None:
    """An English ordinal: first…twentieth, twenty-first…, 1st/2nd/3rd/11th/21st; None otherwise."""
    w = re.sub(r"[\s-]+", "-", word.strip().lower())
    m = _SUFFIXED.match(w)
    if m:
        return int(m.group(1))
    if w in ORDINAL_WORDS:
        return ORDINAL_WORDS[w]
    head, _, tail = w.partition("-")
    if head in _TENS and tail in _ORD_ONES[1:10]:
        return _TENS[head] + _ORD_ONES.index(tail)
    return None
