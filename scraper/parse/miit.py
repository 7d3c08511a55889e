"""``miit-search``: MIIT's site-search JSON API (gov-sites.md section 2.3).

MIIT's policy-document library (https://www.miit.gov.cn/search/zcwjk.html) is
a front end over one JSON endpoint; the old column pages answer 403. We ask it
directly, the way the page's own script does::

    GET /search-front-server/api/search/info?websiteid=110000000000000&scope=basic
        &q=<keyword, UTF-8>&p=<page>&pg=<size>[&cateid=<category>]&pos=...&group=distinct...
    Referer: https://www.miit.gov.cn/search/zcwjk.html

The reply holds ``data.searchResult.dataResults[]``. With ``group=distinct`` a
record is ``groupData[0].data``; other callers get ``data`` directly. A record
has ``title`` (or ``title_text``) that may carry ``<em>`` highlights and
entities, a relative ``url``, and a date as epoch milliseconds (``deploytime``,
``publishtime``, ``cdate``) or a string (``jsearch_date``). Epoch dates are read
in China time (UTC+8). ``searchResult.totalCount`` is the hit count; with zero
hits ``searchResult`` may be missing altogether, which is a valid empty page.

Source parameters: ``query``, ``cateid``, ``page_size`` (default 20) and ``api``
(another endpoint URL instead of the source's ``url``).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from config import Source
from scraper.errors import ParseError
from scraper.models import ListItem, ListPage, Request
from scraper.parse.base import Adapter
from scraper.parse.dates import find_date
from scraper.parse.feed import CHINA, strip_markup
from scraper.text import clean, resolve

KIND = "miit-search"
API = "https://www.miit.gov.cn/search-front-server/api/search/info"
REFERER = "https://www.miit.gov.cn/search/zcwjk.html"
HEADERS = {"Referer": REFERER, "Accept": "application/json, text/plain, */*"}
DEFAULT_PAGE_SIZE = 20
_FIXED = (  # the search page's own settings; q, p, pg and cateid are set per request
    ("websiteid", "110000000000000"),
    ("scope", "basic"),
    ("pos", "title_text,infocontent,titlepy"),
    ("dateField", "deploytime"),
    ("selectFields", "title,content,deploytime,url"),
    ("group", "distinct"),
    ("sortFields", json.dumps([{"name": "deploytime", "type": "desc"}], separators=(",", ":"))),
    ("level", "6"),
)
_EPOCH_FIELDS = ("deploytime", "publishtime", "cdate")
_DATE_FIELDS = _EPOCH_FIELDS + ("jsearch_date", "createdate")


class MiitSearchAdapter(Adapter):
    """MIIT's search API: JSON pages of hits, paged with ``p``."""

    kind = KIND
    conditional_first = False  # an API answer is never a 304 target

    def first_request(self, source: Source) -> Request:
        base = source.params.get("api") or source.url
        return Request(search_url(base, source.params, page=1, where=source.name), headers=dict(HEADERS))

    def parse(self, text: str, url: str, source: Source) -> ListPage:
        return parse(text, url, source.params)


def page_size(params: Mapping[str, str], where: str = "source") -> int:
    raw = params.get("page_size", str(DEFAULT_PAGE_SIZE))
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise ParseError(f"{where}: params.page_size must be a positive whole number, not {raw!r}")
    return size


def search_url(base: str, params: Mapping[str, str], *, page: int, where: str = "source") -> str:
    """The API URL for ``page`` (1-based); values are UTF-8 percent-encoded."""
    ours = [("q", params.get("query", "")), ("p", str(page)), ("pg", str(page_size(params, where)))]
    if params.get("cateid"):
        ours.append(("cateid", params["cateid"]))
    fields = list(_FIXED[:2]) + ours + list(_FIXED[2:])
    parts = urlsplit(base)
    set_keys = {k for k, _ in fields}
    extra = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in set_keys]
    return urlunsplit(parts._replace(query=urlencode(fields + extra, quote_via=quote), fragment=""))


def parse(text: str, url: str, params: Mapping[str, str] | None = None) -> ListPage:
    """Read one API reply. Raises ParseError when it is not the expected JSON."""
    results, total = _results(_load(text, url), url)
    base = _origin(url)
    items: list[ListItem] = []
    seen: set[str] = set()
    for i, entry in enumerate(results):
        item = _item(_record(entry, i, url), base)
        if item and item.url not in seen:
            seen.add(item.url)
            items.append(item)
    if results and not items:
        raise ParseError(f"{url}: none of the {len(results)} records has both a title and a url")
    return ListPage(tuple(items), KIND, _next(url, len(results), total, params or {}), total)


def _load(text: str, url: str) -> Any:
    try:
        return json.loads(text.lstrip("\ufeff"), strict=False)
    except ValueError as e:
        raise ParseError(f"{url}: the search API reply is not JSON ({e})") from None


def _results(doc: Any, url: str) -> tuple[list[Any], int | None]:
    """``data.searchResult.dataResults`` and the hit count; zero hits may omit searchResult."""
    if not isinstance(doc, dict):
        raise ParseError(f"{url}: the search API reply is not a JSON object")
    said = clean(str(doc.get("msg") or doc.get("message") or ""))[:200]
    if doc.get("success") is False:
        raise ParseError(f"{url}: the search API answered success=false ({said or 'no message'})")
    data = doc.get("data")
    if not isinstance(data, dict):
        raise ParseError(f"{url}: the search API reply has no 'data' object" + (f" ({said})" if said else ""))
    found = data.get("searchResult")
    if found is None:
        return [], 0
    if not isinstance(found, dict):
        raise ParseError(f"{url}: data.searchResult is not an object")
    total = _int(found.get("totalCount", found.get("total")))
    total = total if total is None or total >= 0 else None  # a negative count is no count
    results = found.get("dataResults")
    if results is None and not total:
        return [], total
    if not isinstance(results, list):
        raise ParseError(f"{url}: data.searchResult has no dataResults list")
    return results, total


def _record(entry: Any, i: int, url: str) -> Mapping[str, Any]:
    """``groupData[0].data`` (group=distinct) or ``data``."""
    group = entry.get("groupData") if isinstance(entry, dict) else None
    if isinstance(group, list) and group and isinstance(group[0], dict):
        entry = group[0]
    data = entry.get("data") if isinstance(entry, dict) else None
    if not isinstance(data, dict):
        raise ParseError(f"{url}: dataResults[{i}] has neither groupData[0].data nor data")
    return data


def _item(data: Mapping[str, Any], base: str) -> ListItem | None:
    title = strip_markup(str(data.get("title") or data.get("title_text") or ""))
    link = resolve(base, str(data.get("url") or "").strip() or None)
    if not title or link is None:
        return None
    return ListItem(url=link, title=title, date=_date(data))


def _date(data: Mapping[str, Any]) -> str | None:
    for name in _DATE_FIELDS:
        value = data.get(name)
        if value in (None, ""):
            continue
        iso = epoch_date(value) if name in _EPOCH_FIELDS else None
        iso = iso or find_date(str(value))
        if iso:
            return iso
    return None


def epoch_date(value: Any) -> str | None:
    """Epoch milliseconds (or seconds) -> the ISO date in China time; None if it is not a number."""
    n = _int(value)
    if n is None or n <= 0:
        return None
    try:  # OverflowError: n / 1000 is no float, or the date is past year 9999
        seconds = n / 1000 if n > 100_000_000_000 else n
        return find_date(datetime.fromtimestamp(seconds, CHINA).date().isoformat())
    except (OverflowError, OSError, ValueError):
        return None


def _next(url: str, count: int, total: int | None, params: Mapping[str, str]) -> Request | None:
    """The request for page p+1 while hits remain (a full page when the count is unknown)."""
    if not count:
        return None
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    page = _int(query.get("p")) or 1
    size = _int(query.get("pg")) or _int(params.get("page_size")) or count
    more = (page - 1) * size + count < total if total is not None else count >= size
    if not more:
        return None
    return Request(_with_page(url, page + 1), headers=dict(HEADERS))


def _with_page(url: str, page: int) -> str:
    parts = urlsplit(url)
    pairs = [(k, str(page) if k == "p" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    if not any(k == "p" for k, _ in pairs):
        pairs.append(("p", str(page)))
    return urlunsplit(parts._replace(query=urlencode(pairs, quote_via=quote)))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/" if parts.scheme and parts.netloc else API


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
