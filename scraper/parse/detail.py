"""Detail pages: government meta tags first, then the visible page.

Title, publish date and issuing office come from ``ArticleTitle``, ``PubDate``
and ``ContentSource``; the fallbacks are the page's ``<h1>`` / ``<title>`` and
the ``发布日期: ... 来源: ...`` line. The body is the first known content
container, without scripts and styles; its HTML tables are also kept as text
rows (``scraper.parse.tables``). Attachment links are recorded with their link
text.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from selectolax.lexbor import LexborNode

from scraper.errors import ParseError
from scraper.models import Attachment, Detail
from scraper.parse.common import parse_html
from scraper.text import clean, resolve
from scraper.parse.dates import find_date
from scraper.parse.tables import tables as html_tables

BODY_SELECTORS = (
    "#zoom", ".zoom", "#zoomcon", "div.TRS_Editor", "div.TRS_UEDITOR", "#UCAP-CONTENT",
    "#con_con", "div.ccontent", "div.article-content", "div.wrapper_detail_text", "div.bt-box-1170.c1",
    "div.art_con", "div.nr", "div.content", "article",
)
TITLE_SELECTORS = ("h1#con_title", "h1.art-title", "h1", "h2", "title")
_DATE_LINE = re.compile(r"(?:发布(?:日期|时间)|日期)\s*[:：]\s*([0-9]{4}[-/.年][0-9]{1,2}[-/.月][0-9]{1,2})")
# the value stops at whitespace; a blank value must not capture the next label ("来源: 浏览次数:")
_SOURCE_LINE = re.compile(r"(?:来源|信息来源|发布机构)\s*[:：]\s*([^\s<|:：]{2,40}+)(?![:：])")
_ATTACH_EXT = re.compile(r"\.(pdf|docx?|xlsx?|wps|et|zip|rar|7z|ofd)(?:$|[?#&])", re.IGNORECASE)
_BLOCK_TAGS = frozenset({
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "caption",
    "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "blockquote", "pre", "center", "form",
    "header", "footer", "figure", "figcaption", "address", "hr", "main", "nav", "aside",
})
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "-comment"})
_MAX_DEPTH = 32  # tables within table cells


def parse(html: str, page_url: str) -> Detail:
    tree = parse_html(html)
    if tree.body is None:
        raise ParseError(f"{page_url}: not an HTML page")
    meta = _meta(tree)
    body_node = _body_node(tree)
    tree.strip_tags(["script", "style", "noscript"])
    header_text = clean(tree.body.text(deep=True, separator=" "))[:3000] if tree.body else ""
    title = meta.get("articletitle") or _visible_title(tree)
    pub = meta.get("pubdate") or meta.get("publishdate")
    pub_date = find_date(pub) if pub else None
    if pub_date is None:
        m = _DATE_LINE.search(header_text)
        pub_date = find_date(m.group(1)) if m else None
    source = meta.get("contentsource") or meta.get("source")
    if not source:
        m = _SOURCE_LINE.search(header_text)
        source = m.group(1) if m else None
    body = _text(body_node) if body_node is not None else ""
    attachments = _attachments(body_node if body_node is not None else tree.body, page_url)
    tables = html_tables(body_node) if body_node is not None else ()
    return Detail(url=page_url, title=clean(title) or None, pub_date=pub_date, source=clean(source) or None,
                  column=clean(meta.get("columnname")) or None, body=body, attachments=attachments, tables=tables)


def _meta(tree) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in tree.css("meta[name]"):
        name = (node.attributes.get("name") or "").strip().lower()
        content = node.attributes.get("content")
        if name and content and name not in out:
            out[name] = content.strip()
    return out


def _visible_title(tree) -> str | None:
    for sel in TITLE_SELECTORS:
        node = tree.css_first(sel)
        if node is not None:
            text = clean(node.text(deep=True))
            if text:
                return text
    return None


def _body_node(tree):
    for sel in BODY_SELECTORS:
        node = tree.css_first(sel)
        if node is not None and clean(node.text(deep=True)):
            return node
    return None


def _text(node, depth: int = 0) -> str:
    """Body text with one line per block element; table rows as ``a | b | c``.

    Text sitting directly in a ``div`` or between ``<br>``s counts as well:
    Hanweb and Word-pasted bodies often put paragraphs in bare ``div``s.
    Inline elements (``span``, ``font``, ``a``) join without extra spaces.
    A cell is read by recursion, so tables nested deeper than ``_MAX_DEPTH`` are read flat
    (a hostile page nests hundreds, which exhausted the interpreter's stack).
    """
    lines: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        line = clean("".join(buf))
        buf.clear()
        if line:
            lines.append(line)

    # an explicit stack, not recursion: Word-pasted pages can nest spans thousands deep
    stack: list[tuple[LexborNode, bool]] = [(c, False) for c in reversed(list(node.iter(include_text=True)))]
    while stack:
        child, closing = stack.pop()
        if closing:  # the end of a block element
            flush()
            continue
        tag = child.tag
        if tag == "-text":
            buf.append(child.text_content or "")
        elif tag in _SKIP_TAGS:
            continue
        elif tag == "br":
            flush()
        elif tag == "tr":
            flush()
            cells = [clean(_text(c, depth + 1) if depth < _MAX_DEPTH else c.text(deep=True, separator=" "))
                     for c in child.iter() if c.tag in ("td", "th")]
            row = " | ".join(cells)
            if row.strip(" |"):
                lines.append(row)
        else:
            if tag in _BLOCK_TAGS:
                flush()
                stack.append((child, True))
            stack.extend((c, False) for c in reversed(list(child.iter(include_text=True))))
    flush()
    return "\n".join(lines)


def _attachments(node, page_url: str) -> tuple[Attachment, ...]:
    out: list[Attachment] = []
    seen: set[str] = set()
    for a in node.css("a[href]"):
        url = resolve(page_url, a.attributes.get("href"))
        if url is None:
            continue
        url = _viewer_target(url, page_url) or url
        if not is_attachment(url) or url in seen:
            continue
        seen.add(url)
        out.append(Attachment(url=url, text=clean(a.text(deep=True)) or clean(a.attributes.get("title"))))
    return tuple(out)


def _viewer_target(url: str, page_url: str) -> str | None:
    """PDF viewer links (``viewer.html?file=/cms_files/...pdf``) point at the real file."""
    q = parse_qs(urlsplit(url).query)
    if "file" in q and q["file"]:
        return resolve(url, q["file"][0])
    return None


def is_attachment(url: str) -> bool:
    parts = urlsplit(url)
    path = parts.path.lower()
    if "downfile.jsp" in path or "/cms_files/filemanager/" in path:
        return True
    return bool(_ATTACH_EXT.search(path))
