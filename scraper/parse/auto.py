"""``auto``: detect the CMS family of a page, then read it with that family's adapter.

Detection follows the fingerprints of gov-sites.md section 2.6, strongest first:

=============================================================  ================
signal                                                         family
=============================================================  ================
JSON with ``searchResult`` (MIIT's search API)                 ``miit-search``
XML rooted at ``<rss>``, ``<rdf:RDF>`` or an Atom ``<feed>``   ``feed``
XML rooted at ``<datastore>`` (a ``dataproxy.jsp`` reply)      ``hanweb-jpage``
``<script type="text/xml"><datastore>``                        ``hanweb-jpage``
``AuthorizedRead/unitbuild.js``                                ``hanweb-jpaas``
``dataproxy.jsp``                                              ``hanweb-jpage``
``jpaas-publish-server``                                       ``hanweb-jpaas``
``createPageHTML(`` or ``var countPage =``                     ``trs``
none of these                                                  ``static``
=============================================================  ================

The inline datastore and the unitbuild script tag are what the list is built
from; a bare ``dataproxy.jsp`` or ``jpaas-publish-server`` mention is weaker
(a side widget can carry one), so those come after both.

:func:`detect` is pure and needs no adapter. :meth:`AutoAdapter.parse` looks the
detected adapter up in ``ADAPTERS`` at call time, reports itself as
``"auto: <family>"`` and routes the follow-up requests to that family directly.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

from config import Source
from scraper.errors import ParseError
from scraper.models import ListPage
from scraper.parse.base import ADAPTERS, Adapter

KIND = "auto"
ATOM = "http://www.w3.org/2005/Atom"
_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\]\s*)?>)", re.S | re.I)
_ROOT = re.compile(r"\s*<([A-Za-z_][\w:.-]*)([^>]*)>")
# [^<>]: a tag's scan stops at the next tag, so thousands of unclosed "<script " stay linear
_DATASTORE = re.compile(r"""<script[^<>]*type\s*=\s*["']?text/xml["']?[^<>]*>\s*(?:<!\[CDATA\[\s*)?<datastore\b""",
                        re.I)
_UNITBUILD = re.compile(r"AuthorizedRead/unitbuild\.js", re.I)
_TRS = re.compile(r"createPageHTML\s*\(|\bvar\s+countPage\s*=")
_FEED_ROOTS = {"rss": "feed", "rdf:rdf": "feed", "datastore": "hanweb-jpage"}


class AutoAdapter(Adapter):
    """Detect the family from the page, then parse with that family's adapter."""

    kind = KIND

    def parse(self, text: str, url: str, source: Source) -> ListPage:
        family = detect(text)
        adapter = ADAPTERS.get(family)
        if adapter is None or adapter is self:
            raise ParseError(f"{url}: the page looks like {family}, but no {family!r} adapter is installed")
        page = adapter.parse(text, url, source)
        nxt = replace(page.next, adapter=page.next.adapter or family) if page.next else None
        return replace(page, adapter=f"{KIND}: {family}", next=nxt)


def detect(text: str) -> str:
    """The adapter kind for a list response: one of the families above, else "static"."""
    body = text.lstrip("\ufeff").lstrip()
    if body[:1] in ("{", "["):
        return "miit-search" if _is_miit(body) else "static"
    root = _root(body)
    if root is not None:
        family = _FEED_ROOTS.get(root[0].lower())
        if family:
            return family
        if root[0].lower() == "feed" and ATOM in root[1]:
            return "feed"
    return _html_family(text)


def _html_family(text: str) -> str:
    if _DATASTORE.search(text):
        return "hanweb-jpage"
    if _UNITBUILD.search(text):
        return "hanweb-jpaas"
    if "dataproxy.jsp" in text:
        return "hanweb-jpage"
    if "jpaas-publish-server" in text:
        return "hanweb-jpaas"
    if _TRS.search(text):
        return "trs"
    return "static"


def _is_miit(body: str) -> bool:
    try:
        doc = json.loads(body, strict=False)
    except ValueError:
        return False
    if not isinstance(doc, dict):
        return False
    data = doc.get("data")
    return "searchResult" in doc or (isinstance(data, dict) and "searchResult" in data)


def _root(body: str) -> tuple[str, str] | None:
    """The first element's name and attributes, past the XML declaration, comments and DOCTYPE."""
    pos = 0
    while m := _PROLOG.match(body, pos):
        if m.end() == pos:
            break
        pos = m.end()
    m = _ROOT.match(body, pos)
    return (m.group(1), m.group(2)) if m else None
