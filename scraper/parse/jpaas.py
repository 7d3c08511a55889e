"""``hanweb-jpaas``: Hanweb JPaaS "页面构建单元" column shells and their ``build/unit`` API.

The family (gov-sites.md section 2.2; MIIT, fzggw/kjt.zj.gov.cn, Jiaxing, MOHURD, ...):
the column page is a shell holding one or more unit tags like ::

    <script src=".../AuthorizedRead/unitbuild.js" parseType="buildstatic"
            url="/api-gateway/jpaas-publish-server/front/page/build/unit"
            queryData="{'parseType':'buildstatic','webId':'...','tagId':'右侧内容',...}">

``queryData`` is single-quoted pseudo-JSON; ``parseType`` is spelled ``buildstatic`` or
``bulidstatic`` depending on the site, so every value is copied, never written here.
The list comes from ``GET <url>?<queryData>&paramJson={"pageNo":N,"pageSize":"15"}``
(``Referer: <column page>``); paging works only through ``paramJson``. Chinese values
(``tagId=信息列表``) are sent UTF-8 percent-encoded: GBK makes the API answer
``{"success":false}``. The reply ``{"success":true,"data":{"html":"<ul>...</ul>"}}`` may
hold raw control characters, so it is read with ``strict=False``.

Small sections are rendered into the shell itself with no pager: the shell is parsed
first, and the API is called only when the pager says ``count > rows`` or when the shell
holds no dated list. Paging metadata comes from pager attributes (``count="386"
rows="15" pageNo="1"``) or ``oLayPageRender(..., {rows:"20", count:"585", pageNo:"1"})``;
without a count, a next page is offered only after a full page.

The list fragments are read with the ``static`` adapter's item logic, trying the item
shapes known from these templates in turn (``selectors.item`` overrides them).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from selectolax.lexbor import LexborNode

from config import Selectors, Source
from scraper.errors import ParseError
from scraper.models import ListItem, ListPage, Request
from scraper.parse import static
from scraper.parse.base import Adapter
from scraper.parse.common import parse_html
from scraper.text import resolve

KIND = "hanweb-jpaas"
DEFAULT_PAGE_SIZE = 15
# item shapes seen in data.html, most specific first: MIIT, Jiaxing jxszwsjb, fzggw.zj,
# Wenzhou / jshrss, MOHURD, kjt.zj and others, table rows
_SHAPES = (".page-content ul li", "li.wb-data-list", "li.clearfix", "li.cf", "li.long-deta", "li", "tr")
_PAGER_WORDS = re.compile(r"^(?:\d+|首页|尾页|末页|上一页|下一页|上页|下页|跳转|GO|>+|<+|»|«)$", re.I)
_TAG_ID_RE = re.compile(r"""tagId['"]?\s*:\s*['"]([^'"]*)""")
_LIST_TAG_RE = re.compile(r"列表|list|分页|内容", re.I)
_OLAY_RE = re.compile(r"oLayPageRender\s*\(")
_OLAY_KEY_RE = re.compile(r"""\b(rows|count|pageNo)\s*:\s*["']?(\d+)""")
_MAX_QUERY_DATA = 4000


@dataclass(frozen=True)
class _Pager:
    count: int | None = None
    rows: int | None = None
    page_no: int | None = None
    attrs: dict[str, str | None] | None = None  # the pager element's attributes (unitUrl, queryData)


class JpaasAdapter(Adapter):
    """Hanweb JPaaS: the shell's static list, else ``build/unit`` pages via ``paramJson``."""

    kind = KIND
    conditional_first = False  # the shell can be unchanged while the list behind it moved on

    def parse(self, text: str, url: str, source: Source) -> ListPage:
        try:
            body = text.lstrip("\ufeff \t\r\n")
            return _reply(body, url, source) if body.startswith("{") else _shell(text, url, source)
        except ParseError:
            raise
        except Exception as e:  # never let a parser bug look like a transport failure
            raise ParseError(f"{url}: {KIND}: unexpected {type(e).__name__}: {e}") from e


def _shell(html: str, url: str, source: Source) -> ListPage:
    """The column page: its own list when it is complete, else the first API request."""
    tree = parse_html(html)
    pager = _pager(tree, html)
    script = _unit_script(tree, pager)
    if script is None:  # no unit at all: a plain list page, read as the static adapter would
        items = static.parse(html, url, source.selectors).items
        if not items:
            raise ParseError(f"{url}: no JPaaS unit (script src=…AuthorizedRead/unitbuild.js) and no list on the page")
        return ListPage(items, KIND, None, pager.count)
    items = _items(script.parent.html or "", url, source.selectors) if script.parent else ()
    if not all(i.date for i in items):  # menus and link boxes are not the column's list
        items = ()
    more = pager.count is not None and (pager.page_no or 1) * (pager.rows or len(items) or 1) < pager.count
    if items and not more:
        return ListPage(items, KIND, None, pager.count)
    size = _page_size(source, url)
    endpoint, params = _unit_call(script, pager, url)
    api = _api_url(endpoint, params, len(items) // size + 1, size)
    return ListPage(items, KIND, Request(api, headers={"Referer": source.url}), pager.count)


def _reply(raw: str, url: str, source: Source) -> ListPage:
    """A ``build/unit`` JSON reply: ``data.html``'s items and the next ``paramJson`` page."""
    try:
        data = json.loads(raw, strict=False)
    except ValueError as e:
        raise ParseError(f"{url}: build/unit reply is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise ParseError(f"{url}: build/unit reply is not a JSON object")
    if data.get("success") in (False, "false"):
        raise ParseError(f"{url}: the build/unit API refused the request (success:false); a known cause is a "
                         "Chinese value such as tagId percent-encoded as GBK instead of UTF-8")
    html = data["data"].get("html") if isinstance(data.get("data"), dict) else None
    if not isinstance(html, str):
        raise ParseError(f"{url}: build/unit reply has no data.html")
    items = _items(html, source.url, source.selectors)  # the fragment belongs in the column page
    page, size = _asked(url, source)
    pager = _pager(parse_html(html), html)
    if pager.count is not None:
        more = page * (pager.rows or size) < pager.count
    else:
        more = len(items) >= size
    nxt = Request(_with_page(url, page + 1, size), headers={"Referer": source.url}) if items and more else None
    return ListPage(items, KIND, nxt, pager.count)


def _items(html: str, url: str, selectors: Selectors | None) -> tuple[ListItem, ...]:
    """Items of a list fragment: ``selectors.item``, else the first known shape that yields any."""
    if selectors and selectors.item:
        return static.parse(html, url, selectors).items
    tree = parse_html(html)
    for shape in _SHAPES:
        if tree.css_first(shape) is None:
            continue
        sel = Selectors(item=shape, link="a[href]", title=selectors.title if selectors else None,
                        date=selectors.date if selectors else None)
        items = tuple(i for i in static.parse(html, url, sel).items if not _PAGER_WORDS.match(i.title))
        if items:
            return items
    return static.parse(html, url, None).items  # the dated-links heuristic


def _unit_script(tree, pager: _Pager) -> LexborNode | None:
    """The list's unit tag: the pager's tagId, else a list-like tagId, else the first unit."""
    units = [s for s in tree.css("script")
             if "parsetype" in s.attributes or "authorizedread/unitbuild.js" in (s.attributes.get("src") or "").lower()]
    if not units:
        return None
    want = _tag_id((pager.attrs or {}).get("querydata"))

    def rank(s: LexborNode) -> tuple[bool, bool, bool]:
        tag = _tag_id(s.attributes.get("querydata"))
        return (bool(want) and tag == want, bool(tag and _LIST_TAG_RE.search(tag)), "querydata" in s.attributes)

    return max(units, key=rank)  # max() keeps the first of equals


def _tag_id(query_data: str | None) -> str | None:
    m = _TAG_ID_RE.search(query_data or "")
    return m.group(1) if m else None


def _unit_call(script: LexborNode, pager: _Pager, url: str) -> tuple[str, dict[str, Any]]:
    """The API endpoint and its query parameters, copied from the unit tag (or the pager)."""
    attrs, other = script.attributes, pager.attrs or {}
    raw = attrs.get("querydata") or other.get("querydata")
    endpoint = resolve(url, attrs.get("url") or other.get("uniturl"))
    if not raw or endpoint is None:
        raise ParseError(f"{url}: the JPaaS unit tag has no queryData/url to call build/unit with")
    params = _pseudo_json(raw, url)
    if "parseType" not in params and attrs.get("parsetype"):
        params["parseType"] = attrs["parsetype"]
    return endpoint, params


def _pseudo_json(raw: str, url: str) -> dict[str, Any]:
    """``{'webId':'3185',...}``: JSON after swapping quotes, else a Python literal."""
    if len(raw) > _MAX_QUERY_DATA:
        raise ParseError(f"{url}: queryData is implausibly long ({len(raw)} characters)")
    try:
        value = json.loads(raw.replace("'", '"'))
    except ValueError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ParseError(f"{url}: queryData is neither JSON nor a literal: {raw[:80]!r}") from None
    if not isinstance(value, dict):
        raise ParseError(f"{url}: queryData is not an object: {raw[:80]!r}")
    return value


def _api_url(endpoint: str, params: dict[str, Any], page: int, size: int) -> str:
    pairs = [(str(k), _text(v)) for k, v in params.items() if k != "paramJson"]
    return _join(endpoint, pairs, page, size)


def _with_page(url: str, page: int, size: int) -> str:
    """The request URL with ``paramJson`` set to ``page``; other parameters unchanged (UTF-8)."""
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "paramJson"]
    return _join(urlunsplit(parts._replace(query="", fragment="")), pairs, page, size)


def _join(endpoint: str, pairs: list[tuple[str, str]], page: int, size: int) -> str:
    param_json = json.dumps({"pageNo": page, "pageSize": str(size)}, separators=(",", ":"))
    query = urlencode(pairs + [("paramJson", param_json)])  # percent-encodes as UTF-8
    return endpoint.rstrip("?&") + ("&" if "?" in endpoint else "?") + query


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _asked(url: str, source: Source) -> tuple[int, int]:
    """The page number and size this request asked for in ``paramJson``."""
    asked: Any = None
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "paramJson":
            try:
                asked = json.loads(value)
            except ValueError:
                asked = None
    asked = asked if isinstance(asked, dict) else {}
    page, size = _positive(asked.get("pageNo")), _positive(asked.get("pageSize"))
    return page or 1, size or _page_size(source, url)


def _page_size(source: Source, url: str) -> int:
    value = source.params.get("page_size")
    if value is None:
        return DEFAULT_PAGE_SIZE
    size = _positive(value)
    if size is None or size > 1000:
        raise ParseError(f"{url}: params.page_size must be an integer from 1 to 1000, got {value!r}")
    return size


def _pager(tree, html: str) -> _Pager:
    """Paging metadata: a ``[count][rows]`` pager element, or an ``oLayPageRender`` call."""
    node = tree.css_first("[count][rows]")
    if node is not None:
        a = node.attributes
        return _Pager(_number(a.get("count")), _positive(a.get("rows")), _positive(a.get("pageno")), dict(a))
    m = _OLAY_RE.search(html)
    if m:
        found = dict(_OLAY_KEY_RE.findall(html[m.end(): m.end() + 500]))
        return _Pager(_number(found.get("count")), _positive(found.get("rows")), _positive(found.get("pageNo")))
    return _Pager()


def _number(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None  # 10**9 items is no count


def _positive(value: Any) -> int | None:
    number = _number(value)
    return number if number else None
