"""``hanweb-jpage``: Hanweb (大汉) JCMS column pages and their ``dataproxy.jsp`` replies.

The family (gov-sites.md section 2.1): a column page ``/col/col<columnid>/index.html``
holds its first group of records inline, in the unit ``<div id="<unitid>">``::

    <script type="text/xml"><datastore>
      <nextgroup><![CDATA[<a href="/module/jpage/dataproxy.jsp?page=1&appid=1&...&webname=..."></a>]]></nextgroup>
      <recordset><record><![CDATA[<li><a href="/art/..." title="...">...</a><span>2026-09-11</span></li>]]></record>...

and a jQuery ``$('#<unitid>').jpage({totalRecord:..., proxyUrl:'...', ajaxParam:{...}})`` call.
Older records come from ``dataproxy.jsp``, which answers the same ``<datastore>`` as XML
with ``<totalrecord>`` / ``<totalpage>``. Its path and parameters differ per deployment
(``/module/jpage/``, ``/module/web/jpage/``, ...), so they are copied from the page --
the ``<nextgroup>`` href, else the init call -- never written here.

Paging uses the GET style: page ``n`` is the proxy URL with ``page=n`` and, sent
consistently, ``startrecord=(n-1)*per_page+1``, ``endrecord=n*per_page`` and
``perpage=per_page`` (``source.params["per_page"]``, default 15). Every other
parameter, ``webname`` included (sometimes percent-encoded twice), goes back byte
for byte. Requests carry ``Referer: <column page>`` and ``X-Requested-With``.

Both the column page and the replies are parsed here: a body starting with
``<datastore`` or ``<?xml`` is a reply. XML is read with defusedxml, DTDs refused;
a datastore that is not well formed falls back to reading the CDATA records by regex.
Each record is an HTML fragment read by the ``static`` adapter's item logic.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException
from selectolax.lexbor import LexborNode

from config import Selectors, Source
from scraper.errors import ParseError
from scraper.models import ListItem, ListPage, Request
from scraper.parse import static
from scraper.parse.base import Adapter
from scraper.parse.common import parse_html
from scraper.text import resolve

KIND = "hanweb-jpage"
DEFAULT_PER_PAGE = 15

# The documented fallback <record><![CDATA[(.*?)]]></record>, stopping early at the next
# record so that one unclosed CDATA section costs nothing but its own end marker.
_RECORD_RE = re.compile(r"<record>\s*<!\[CDATA\[(.*?)(?:\]\]>\s*</record>|</record>|(?=<record>)|</recordset>|\Z)", re.S)
_DTD_RE = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.I)
_HREF_RE = re.compile(r"""href\s*=\s*(["'])(.*?)\1""", re.S | re.I)
_INIT_RE = re.compile(r"""(?:\$|jQuery)\(\s*["']#([\w-]+)["']\s*\)\s*\.jpage\(""")
# Hostile pages repeat an opening without its end thousands of times: the regexes below only find
# where something starts; str.find() finds its end once (a lazy .*? per start made them quadratic),
# and a key starts only where a word does.
_AJAX_RE = re.compile(r"ajaxParam\s*:\s*\{")
_PAIR_RE = re.compile(r"""(?<!\w)(\w+)\s*:\s*(?:'([^']*)'|"([^"]*)"|([^,\s}]+))""")
_TABLE_PART_RE = re.compile(r"\s*<(?:tr|td|th)\b", re.I)
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # quote() only what is not ASCII-printable; keep escapes as they are
_VALUE_SAFE = "%/:,;@!$'()*[]~"  # a query value: also escape & = # + ?


@dataclass(frozen=True)
class _Store:
    records: tuple[str, ...]
    nextgroup: str | None  # the href inside <nextgroup>
    totalrecord: int | None
    totalpage: int | None


@dataclass(frozen=True)
class _Init:
    """What the page's ``.jpage({...})`` call says."""

    proxy: str | None
    total: int | None
    ajax: tuple[tuple[str, str], ...]


class JpageAdapter(Adapter):
    """Hanweb JCMS: the inline datastore, then ``dataproxy.jsp`` pages."""

    kind = KIND

    def parse(self, text: str, url: str, source: Source) -> ListPage:
        try:
            per_page = _per_page(source, url)
            body = text.lstrip("\ufeff \t\r\n")
            if re.match(r"<(?:\?xml|datastore)\b", body, re.I):
                return _reply(body, url, source, per_page)
            return _column(text, url, source, per_page)
        except ParseError:
            raise
        except Exception as e:  # never let a parser bug look like a transport failure
            raise ParseError(f"{url}: {KIND}: unexpected {type(e).__name__}: {e}") from e


def _column(html: str, url: str, source: Source, per_page: int) -> ListPage:
    """The column page: the inline records, then the first proxy page after them."""
    tree = parse_html(html)
    script = _datastore_script(tree, source.url, url)
    store = _read_store(script.text(), url)
    init = _jpage_init(tree, _unit_id(script))
    total = store.totalrecord if store.totalrecord is not None else init.total
    base = resolve(url, store.nextgroup) or _proxy_base(url, init)
    count = len(store.records)
    nxt = None
    if base and (total is None or count < total):
        # the proxy page that holds record count+1 (it may overlap the inline ones)
        nxt = _request(base, count // per_page + 1, per_page, source)
    return ListPage(_items(store.records, url, source), KIND, nxt, total)


def _reply(xml: str, url: str, source: Source, per_page: int) -> ListPage:
    """A ``dataproxy.jsp`` reply: its records, and page n+1 while the totals say there is more."""
    store = _read_store(xml, url)
    page = _query_int(url, "page") or 1
    count = len(store.records)
    if store.totalrecord is not None:
        more = page * per_page < store.totalrecord
    elif store.totalpage is not None:
        more = page < store.totalpage
    else:
        more = count >= per_page
    nxt = _request(url, page + 1, per_page, source) if count and more else None
    # the page's script inserts these records into the column page: resolve links against it
    return ListPage(_items(store.records, source.url, source), KIND, nxt, store.totalrecord)


def _read_store(text: str, url: str) -> _Store:
    raw = text.strip().lstrip("\ufeff").strip()
    try:
        root = DET.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as e:
        raise ParseError(f"{url}: datastore refused: it declares a DTD or entities ({type(e).__name__})") from None
    except ET.ParseError as e:
        return _regex_store(raw, url, f"is not well-formed XML ({e})")
    if root.tag.lower() != "datastore":
        raise ParseError(f"{url}: expected a Hanweb <datastore>, got <{root.tag}>")
    records = tuple(_record_html(r) for r in root.iter("record"))
    if any("<record>" in r for r in records):  # an unclosed CDATA swallowed the records after it
        return _regex_store(raw, url, "has a CDATA section that swallowed the next record")
    nextgroup = root.find("nextgroup")
    return _Store(
        records=records,
        nextgroup=_href(nextgroup.text if nextgroup is not None else None),
        totalrecord=_int(root.findtext("totalrecord")),
        totalpage=_int(root.findtext("totalpage")),
    )


def _regex_store(raw: str, url: str, problem: str) -> _Store:
    """A datastore that is not well-formed XML: read its CDATA records by regex."""
    if _DTD_RE.search(raw):
        raise ParseError(f"{url}: datastore refused: it declares a DTD or entities")
    records = tuple(m.group(1) for m in _RECORD_RE.finditer(raw))
    if not records and "<recordset" not in raw:
        raise ParseError(f"{url}: datastore {problem}, and no records could be read from it")
    return _Store(records, _href(_nextgroup(raw)),
                  _int(_tag_text(raw, "totalrecord")), _int(_tag_text(raw, "totalpage")))


def _nextgroup(raw: str) -> str | None:
    """What ``<nextgroup>`` holds (inside its CDATA section, if any)."""
    start = raw.find("<nextgroup>")
    end = raw.find("</nextgroup>", start) if start >= 0 else -1
    if end < 0:
        return None
    inner = raw[start + len("<nextgroup>"):end].lstrip().removeprefix("<![CDATA[")
    return inner.rstrip().removesuffix("]]>")


def _tag_text(raw: str, name: str) -> str | None:
    m = re.search(rf"<{name}>\s*([^<]*?)\s*</{name}>", raw)
    return m.group(1) if m else None


def _record_html(record: ET.Element) -> str:
    """The record's HTML: its (CDATA) text, or markup written as XML children."""
    return (record.text or "") + "".join(ET.tostring(child, encoding="unicode") for child in record)


def _href(fragment: str | None) -> str | None:
    """The href of ``<a href="...">`` read as text, so no ``&xxx`` gets decoded as an entity."""
    m = _HREF_RE.search(fragment or "")
    return m.group(2).strip().replace("&amp;", "&") if m else None


def _items(records: tuple[str, ...], url: str, source: Source) -> tuple[ListItem, ...]:
    """All records parsed as one document, each in its own wrapper (one parse instead of one per record).

    A record whose tags do not balance is parsed on its own, so its debris (an
    unclosed ``<a>``) cannot leak into the next record.
    """
    sel = source.selectors
    inner = sel.item if sel and sel.item else None
    per_record = Selectors(item=f"div.cw-record {inner}" if inner else "div.cw-record",
                           link=(sel.link if sel and sel.link not in (None, "a") else "a[href]"),
                           title=sel.title if sel else None, date=sel.date if sel else None)
    wrapped, alone = [], []
    for html in records:
        if _TABLE_PART_RE.match(html):  # a bare <tr> outside a table would lose its cells
            html = f"<table><tbody>{html}</tbody></table>"
        (wrapped if _balanced(html) else alone).append(f'<div class="cw-record">{html}</div>')
    out: dict[str, ListItem] = {}
    for doc in ["".join(wrapped)] + alone:
        for item in static.parse(f"<html><body>{doc}</body></html>", url, per_record).items:
            out.setdefault(item.url, item)
    return tuple(out.values()) if not alone else _in_record_order(out, records)


_BALANCE_TAGS = ("a", "li", "p", "span", "td", "tr")


def _balanced(html: str) -> bool:
    """Cheap check that a record closes what it opens."""
    low = html.lower()
    return all(len(re.findall(rf"<{t}[\s>]", low)) == low.count(f"</{t}>") for t in _BALANCE_TAGS)


def _in_record_order(items: dict[str, ListItem], records: tuple[str, ...]) -> tuple[ListItem, ...]:
    """Items in the order their records came, when some records were parsed apart."""
    def pos(item: ListItem) -> int:
        path = urlsplit(item.url).path
        return next((i for i, r in enumerate(records) if path and path in r), len(records))
    return tuple(sorted(items.values(), key=pos))


def _datastore_script(tree, source_url: str, url: str) -> LexborNode:
    """The unit's datastore: the one named by ``?uid=`` in the source URL, else the largest."""
    stores = [s for s in tree.css("script") if "<datastore" in (s.text() or "").lower()]
    if not stores:
        raise ParseError(f"{url}: no Hanweb datastore (<script type=\"text/xml\"><datastore>) on the page")
    uid = parse_qs(urlsplit(source_url).query).get("uid", [None])[0]
    chosen = [s for s in stores if uid and _unit_id(s) == uid]
    return chosen[0] if chosen else max(stores, key=lambda s: (s.text() or "").count("<record"))


def _unit_id(node: LexborNode) -> str | None:
    parent = node.parent
    while parent is not None and parent.tag not in ("body", "html"):
        if parent.attributes.get("id"):
            return parent.attributes["id"]
        parent = parent.parent
    return None


def _jpage_init(tree, unit: str | None) -> _Init:
    """Options of the unit's ``.jpage({...})`` call (or of the page's first one)."""
    js = "\n".join(s.text() or "" for s in tree.css("script") if "<datastore" not in (s.text() or "").lower())
    calls = list(_INIT_RE.finditer(js))
    text = js
    for i, m in enumerate(calls):
        if m.group(1) == unit:
            text = js[m.end(): calls[i + 1].start() if i + 1 < len(calls) else len(js)]
    ajax = _AJAX_RE.search(text)
    close = text.find("}", ajax.end()) if ajax else -1
    pairs = tuple((m.group(1), next(g for g in m.groups()[1:] if g is not None))
                  for m in _PAIR_RE.finditer(text[ajax.end():close] if ajax and close >= 0 else ""))
    return _Init(_option(text, "proxyUrl"), _int(_option(text, "totalRecord")), pairs)


def _option(js: str, name: str) -> str | None:
    m = re.search(rf"""\b{name}\s*:\s*(?:'([^']*)'|"([^"]*)"|(\d+))""", js)
    return next((g for g in m.groups() if g is not None), None) if m else None


def _proxy_base(url: str, init: _Init) -> str | None:
    """The proxy URL built from the init call when the datastore has no ``<nextgroup>``."""
    proxy = resolve(url, init.proxy)
    if proxy is None:
        return None
    query = "&".join(["page=1"] + [f"{k}={quote(v, safe=_VALUE_SAFE)}" for k, v in init.ajax])
    return proxy.split("?", 1)[0] + "?" + query


def _request(base: str, page: int, per_page: int, source: Source) -> Request:
    return Request(_page_url(base, page, per_page),
                   headers={"Referer": source.url, "X-Requested-With": "XMLHttpRequest"})


def _page_url(base: str, page: int, per_page: int) -> str:
    """``base`` with the paging parameters set; every other parameter kept verbatim."""
    head, _, query = base.split("#", 1)[0].partition("?")
    wanted = {"page": page, "startrecord": (page - 1) * per_page + 1, "endrecord": page * per_page,
              "perpage": per_page}
    pieces, done = [], set()
    for piece in filter(None, query.split("&")):
        key = piece.split("=", 1)[0]
        if key.lower() in wanted:
            if key.lower() not in done:
                pieces.append(f"{key}={wanted[key.lower()]}")
                done.add(key.lower())
            continue
        pieces.append(piece)
    pieces += [f"{k}={v}" for k, v in wanted.items() if k not in done]
    return quote(f"{head}?{'&'.join(pieces)}", safe=_URL_SAFE)


def _per_page(source: Source, url: str) -> int:
    """What the request asked for (``perpage=``), else the source's ``per_page``, else 15."""
    asked = _query_int(url, "perpage")
    if asked:
        return asked
    value = source.params.get("per_page")
    if value is None:
        return DEFAULT_PER_PAGE
    number = _int(value)
    if not number or number > 1000:
        raise ParseError(f"{url}: params.per_page must be an integer from 1 to 1000, got {value!r}")
    return number


def _query_int(url: str, name: str) -> int | None:
    for piece in urlsplit(url).query.split("&"):
        key, _, value = piece.partition("=")
        if key.lower() == name:
            return _int(value)
    return None


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None  # 10**9 records is no count
