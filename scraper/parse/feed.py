"""``feed``: RSS 2.0 (and RSS 1.0) and Atom feeds.

Some bureaus and most mirrors (RSSHub's ``/gov/...`` routes among them) offer a
feed of a column. One feed document is the whole list: there is no paging.

* RSS: ``channel/item`` with ``link`` (else a permalink ``guid``), ``title`` and
  ``pubDate`` (RFC 822) or ``dc:date`` (ISO 8601).
* Atom: ``entry`` with ``link[rel=alternate]`` (else the first ``link`` with an
  ``href``), ``title`` (text, html or xhtml) and ``published`` / ``updated`` (ISO 8601).

Titles lose their markup and entities. Dates with a zone are read in China time
(UTC+8), as the bureaus date their notices. Feeds are untrusted XML: they are
parsed with ``defusedxml``, which refuses entity declarations (billion laughs)
and external entities (XXE); a refused or not well-formed feed is a ParseError.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Iterator
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XmlError

import defusedxml.ElementTree as SafeXml
from defusedxml import DefusedXmlException

from config import Source
from scraper.errors import ParseError
from scraper.models import ListItem, ListPage
from scraper.parse.base import Adapter
from scraper.parse.common import parse_html
from scraper.parse.dates import find_date
from scraper.text import clean, resolve

KIND = "feed"
ATOM = "http://www.w3.org/2005/Atom"
CHINA = timezone(timedelta(hours=8))
_RSS_DATES = ("pubDate", "date", "published", "updated")  # "date" is dc:date
_ATOM_DATES = ("published", "updated")


class FeedAdapter(Adapter):
    """RSS and Atom feeds: one document, no paging."""

    kind = KIND

    def parse(self, text: str, url: str, source: Source) -> ListPage:
        return parse(text, url)


def parse(text: str, url: str) -> ListPage:
    """Items of an RSS or Atom feed, in document order."""
    root = load(text, url)
    name, ns = _local(root.tag), _namespace(root.tag)
    if name in ("rss", "RDF"):
        found = (_rss_item(e, url) for e in root.iter() if _local(e.tag) == "item")
    elif name == "feed" and ns == ATOM:
        found = (_atom_entry(e, url) for e in root.iter(f"{{{ATOM}}}entry"))
    else:
        raise ParseError(f"{url}: not an RSS or Atom feed (the root element is <{root.tag}>)")
    items: dict[str, ListItem] = {}
    for item in found:
        if item is not None and item.url not in items:
            items[item.url] = item
    return ListPage(tuple(items.values()), KIND)


def load(text: str, url: str) -> Element:
    """Parse untrusted XML; refuse entity declarations and external references."""
    try:
        return SafeXml.fromstring(text.lstrip("\ufeff").strip(), forbid_dtd=False, forbid_entities=True,
                                  forbid_external=True)
    except DefusedXmlException as e:
        raise ParseError(f"{url}: feed refused: it declares entities or external references ({e!r})") from None
    except XmlError as e:
        raise ParseError(f"{url}: not well-formed XML ({e})") from None
    except ValueError as e:  # expat on an unusable encoding declaration, and the like
        raise ParseError(f"{url}: unreadable XML ({e})") from None


def _rss_item(item: Element, base: str) -> ListItem | None:
    link = None
    for child in _children(item, "link"):
        link = link or resolve(base, clean(child.text) or child.get("href"))
    for guid in _children(item, "guid"):
        if link is None and guid.get("isPermaLink", "true").lower() != "false":
            link = resolve(base, clean(guid.text))
    return _item(link, _first(item, "title"), _first_date(item, _RSS_DATES))


def _atom_entry(entry: Element, base: str) -> ListItem | None:
    links = [e for e in entry.findall(f"{{{ATOM}}}link") if e.get("href")]
    best = next((e for e in links if e.get("rel", "alternate") == "alternate"), links[0] if links else None)
    link = resolve(base, best.get("href")) if best is not None else None
    return _item(link, entry.find(f"{{{ATOM}}}title"), _first_date(entry, _ATOM_DATES))


def _item(link: str | None, title_node: Element | None, date: str | None) -> ListItem | None:
    title = strip_markup("".join(title_node.itertext())) if title_node is not None else ""
    if link is None or not title:
        return None
    return ListItem(url=link, title=title, date=date)


def _first_date(node: Element, names: tuple[str, ...]) -> str | None:
    for name in names:
        child = _first(node, name)
        if child is not None and clean(child.text):
            iso = feed_date(clean(child.text))
            if iso:
                return iso
    return None


def feed_date(text: str) -> str | None:
    """RFC 822 or ISO 8601 -> ISO date (China time when a zone is given); else any date in the text."""
    when: datetime | None = None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):  # OverflowError: a year past any C int
        try:
            when = datetime.fromisoformat(text.replace("z", "Z"))
        except (ValueError, OverflowError):
            when = None
    if when is None:
        return find_date(text)
    if when.tzinfo is not None:
        try:
            when = when.astimezone(CHINA)
        except OverflowError:  # 0001-01-01T00:00+14:00 has no date in China time; keep the one written
            pass
    return find_date(when.date().isoformat())


def strip_markup(text: str) -> str:
    """Text without tags and with entities decoded (titles of type html, CDATA with markup)."""
    if "<" not in text and "&" not in text:
        return clean(text)
    return clean(parse_html(text, fragment=True).text(deep=True))


def _children(node: Element, name: str) -> Iterator[Element]:
    return (c for c in node if _local(c.tag) == name)


def _first(node: Element, name: str) -> Element | None:
    return next(_children(node, name), None)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _namespace(tag: object) -> str:
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""
