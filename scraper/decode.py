"""Bytes -> str for web pages, decided per response.

Order: a BOM, the Content-Type header's charset, the ``<meta>`` / XML
declaration in the first few KB, strict UTF-8, then gb18030. Every GB label
decodes as gb18030: pages labelled gb2312 routinely contain GBK-only
characters such as 镕, which Python's strict gb2312 codec rejects.
"""

from __future__ import annotations

import codecs
import re

GB_LABELS = frozenset(
    {"gb2312", "gbk", "x-gbk", "gb18030", "gb_2312-80", "chinese", "csgb2312", "csiso58gb231280",
     "iso-ir-58", "gb_2312", "cp936", "ms936", "windows-936"}
)
BIG5_LABELS = frozenset({"big5", "cn-big5", "x-x-big5", "csbig5"})
# Python codecs that no web page is written in; a label naming one is ignored
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined", "utf-7"})
_META_RE = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)|<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.\-]+)""",
    re.IGNORECASE,
)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
SNIFF_BYTES = 4096


def codec_for(label: str | None) -> str | None:
    """Map a charset label to a Python codec name, or None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in GB_LABELS:
        return "gb18030"
    if label in BIG5_LABELS:
        return "big5hkscs"
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    name = info.name
    if name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):  # hex, rot13, base64 ...
        return None
    return "gb18030" if name in ("gb2312", "gbk") else name  # euc-cn, gb2312-80, 936, ...


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", content_type, re.IGNORECASE)
    return m.group(1) if m else None


def sniff(body: bytes) -> str | None:
    """The label a BOM or an in-document declaration gives, if any."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    m = _META_RE.search(body[:SNIFF_BYTES])
    if m:
        return (m.group(1) or m.group(2)).decode("ascii", "replace")
    return None


_WEAK_HEADER = frozenset({"ascii", "latin-1", "iso8859-1", "cp1252"})  # servers' defaults, not statements


def decode(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode ``body``; return ``(text, codec used)``. Never raises.

    A BOM wins (it cannot be accidental). A header naming a Western default
    (latin-1, ascii) is only a server default: the page's own declaration beats it.
    """
    header = codec_for(header_charset(content_type))
    declared = codec_for(sniff(body))
    bom = declared if body[:3] == codecs.BOM_UTF8 or body[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else None
    if header in _WEAK_HEADER and declared:
        header = None
    for codec in (bom, header, declared, "utf-8", "gb18030"):
        if codec is None:
            continue
        try:
            text = body.decode(codec)
        except (UnicodeError, LookupError):  # UnicodeError: e.g. the 'undefined' codec, idna
            continue
        return text.removeprefix("\ufeff"), codec
    return body.decode("gb18030", errors="replace"), "gb18030"
