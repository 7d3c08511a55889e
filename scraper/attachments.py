"""Attachment files as tables: .xlsx, .xls, .docx, .pdf, .doc/.wps (the only home of their libraries).

``read_tables(data, name)`` sniffs the real format from the bytes (a ``.xls`` that is really
xlsx or HTML, a ``.wps`` that is an OLE Word file), refuses hostile zips before opening them
(member count, total uncompressed size, compression ratio, any DTD or entity declaration in any
member, XML in an encoding a byte scan cannot see through), reads PDFs within a page cap, a time
cap checked between pages and a cap on what their streams inflate to, and returns every table as
text rows (``scraper.models.Table``). Text without tables (a .docx of paragraphs, a PDF page of
lines, a .doc) comes back as one-column rows.

Errors are typed and name the file: :class:`UnsupportedFormat` (unknown format, a missing
library or converter) and :class:`UnsafeAttachment` (a zip bomb, entities, a truncated
PDF), both :class:`AttachmentError`. An unsupported file never reads as an empty list.
The libraries come with ``pip install clusterwatch[attachments]``.
"""

from __future__ import annotations

import codecs
import contextvars
import datetime as dt
import io
import itertools
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterable

from scraper.errors import ScraperError
from scraper.models import Table
from scraper.parse.tables import tables as html_tables

MAX_MEMBERS = 2_000
MAX_UNZIPPED = 200 * 1024 * 1024  # sum of the members' declared sizes
MAX_RATIO = 150  # per member, for members over RATIO_FLOOR bytes
RATIO_FLOOR = 1024 * 1024
MAX_ROWS = 100_000  # per sheet
MAX_COLS = 200
MAX_PAGES = 200
MAX_SECONDS = 60.0  # PDF work per file, checked between pages
MAX_PDF_INFLATED = 100 * 1024 * 1024  # what one PDF's streams may inflate to, in all
CONVERT_TIMEOUT = 60.0
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_INSTALL = "install clusterwatch[attachments]"


class AttachmentError(ScraperError):
    """An attachment that could not be read; the message names the file and the problem."""


class UnsupportedFormat(AttachmentError):
    """A format we cannot read here (or a library / converter is missing)."""


class UnsafeAttachment(AttachmentError):
    """A file refused as hostile or broken: zip bomb, XML entities, truncated."""


def read_tables(data: bytes, name: str) -> tuple[Table, ...]:
    """Every table in the file as text rows; see the module docstring."""
    kind = "file"
    try:
        kind = sniff(data, name)
        found = _READERS[kind](data, name)
    except AttachmentError:
        raise
    except (MemoryError, RecursionError) as e:
        raise UnsafeAttachment(f"{name}: {kind} too complex to read ({type(e).__name__})") from None
    except Exception as e:  # noqa: BLE001 -- library errors of every kind become one typed error
        raise AttachmentError(f"{name}: not a readable {kind} file ({type(e).__name__}: {_short(e)})") from None
    return tuple(t for t in found if t)


def sniff(data: bytes, name: str) -> str:
    """The real format: xlsx, docx, xls, doc, pdf or html (raises UnsupportedFormat otherwise)."""
    ext = Path(name.split("?")[0]).suffix.lower()
    head = data[:1024]
    if data[:4] == b"PK\x03\x04":
        return _zip_kind(data, name)
    if data[:8] == _OLE:
        return _ole_kind(data, ext, name)
    if b"%PDF-" in head:
        return "pdf"
    text = head.lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n").lower()
    if text.startswith((b"<", b"\x00<", b"<\x00")) and re.search(rb"<(?:html|table|meta|head|body|!doctype)", head.lower()):
        return "html"
    raise UnsupportedFormat(f"{name}: unsupported format (not xlsx, xls, docx, doc, pdf or html; starts {data[:8]!r})")


def _zip_kind(data: bytes, name: str) -> str:
    names = set(_safe_zip(data, name).namelist())
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise UnsupportedFormat(f"{name}: unsupported format (a zip that is neither .docx nor .xlsx)")


def _ole_kind(data: bytes, ext: str, name: str) -> str:
    """Directory entry names are UTF-16LE: look for the Excel and Word streams."""
    if "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data and ext in (".xls", ".et"):
        return "xls"
    if "WordDocument".encode("utf-16-le") in data:
        return "doc"
    raise UnsupportedFormat(f"{name}: unsupported format (an OLE file that is neither Excel nor Word)")


# ---------------------------------------------------------------------- zip safety


def _safe_zip(data: bytes, name: str) -> zipfile.ZipFile:
    """Open the zip only after its directory passes the caps; refuse any DTD in its XML."""
    problem = _directory_problem(data)
    if problem:
        raise UnsafeAttachment(f"{name}: {problem}")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise UnsafeAttachment(f"{name}: broken zip ({_short(e)})") from None
    infos = z.infolist()
    if len(infos) > MAX_MEMBERS:
        raise UnsafeAttachment(f"{name}: zip has {len(infos)} members (cap {MAX_MEMBERS})")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED:
        raise UnsafeAttachment(f"{name}: zip unpacks to {total} bytes (cap {MAX_UNZIPPED})")
    for i in infos:
        if i.file_size > RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise UnsafeAttachment(f"{name}: zip member {i.filename!r} compressed {i.file_size // max(i.compress_size, 1)}:1 "
                                   f"(cap {MAX_RATIO}:1)")
    for i in infos:  # every member, whatever its name: a package's relationships may point at any part
        try:
            problem = _xml_problem(z, i)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as e:
            raise UnsafeAttachment(f"{name}: broken zip member {i.filename!r} ({_short(e)})") from None
        if problem:
            raise UnsafeAttachment(f"{name}: {i.filename} {problem}")
    return z


def _directory_problem(data: bytes) -> str | None:
    """The member count and directory size the zip's end record declares (ZIP64 too), checked before
    ``zipfile`` builds an object per directory entry (600,000 of them fit in 30 MB)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535))
    if end < 0 or end + 22 > len(data):
        return None  # no end record: zipfile says the zip is broken
    count, size = int.from_bytes(data[end + 10:end + 12], "little"), int.from_bytes(data[end + 12:end + 16], "little")
    locator = end - 20
    if locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":  # ZIP64: the real numbers are elsewhere
        at = int.from_bytes(data[locator + 8:locator + 16], "little")
        if data[at:at + 4] == b"PK\x06\x06":
            count, size = int.from_bytes(data[at + 32:at + 40], "little"), int.from_bytes(data[at + 40:at + 48], "little")
    if count > MAX_MEMBERS:
        return f"zip has {count} members (cap {MAX_MEMBERS})"
    if size > MAX_MEMBERS * 1024:
        return f"zip directory is {size} bytes (cap {MAX_MEMBERS * 1024})"
    return None


_CHUNK = 256 * 1024
_DECL = re.compile(r"\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([^\"']*)")
# Encodings in which "<!DOCTYPE" is always those very bytes (UTF-16 is decoded before the scan).
_ASCII_SAFE = frozenset({"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252",
                         "cp1252", "gbk", "gb2312", "gb18030"})


def _xml_problem(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    """Why a member must not reach an XML parser: a DTD or entity declaration, or an encoding that could
    hide one from this scan (UTF-7, UTF-32, EBCDIC: libxml2 reads them). Bounded reads; the overlap keeps
    a marker split between chunks visible."""
    with z.open(info) as f:
        chunk = f.read(_CHUNK)
        codec = _scan_codec(chunk[:4])
        if codec is None:
            return "is XML in UTF-32 or EBCDIC (refused: its markup cannot be checked)"
        decoder = codecs.getincrementaldecoder(codec)("replace")
        tail = ""
        first = True
        while chunk:
            text = decoder.decode(chunk)
            if first:
                m = _DECL.match(text.removeprefix("\ufeff"))
                declared = m.group(1).strip().lower() if m else ""
                if declared and declared not in _ASCII_SAFE and not (codec.startswith("utf-16") and
                                                                     declared.startswith(("utf-16", "utf16"))):
                    return f"declares the encoding {declared!r} (refused: its markup cannot be checked)"
                first = False
            window = (tail + text).upper()
            if "<!DOCTYPE" in window or "<!ENTITY" in window:
                return "declares a DTD or entities (refused: XXE / billion laughs)"
            tail = text[-16:]
            chunk = f.read(_CHUNK)
    return None


def _scan_codec(head: bytes) -> str | None:
    """How to read a member for the scan, from its first bytes (XML's own detection): UTF-16 by its BOM or
    a ``<`` next to a zero byte, latin-1 for everything ASCII-compatible, None for UTF-32 and EBCDIC."""
    if head in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"<\x00\x00\x00", b"\x00\x00\x00<", b"\x4c\x6f\xa7\x94"):
        return None
    if head[:2] in (b"\xff\xfe", b"<\x00"):
        return "utf-16-le"
    if head[:2] in (b"\xfe\xff", b"\x00<"):
        return "utf-16-be"
    return "latin-1"  # one character per byte: ASCII markers stay visible in any ASCII-compatible encoding


# ---------------------------------------------------------------------- readers


def _need(module: str, ext: str, name: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise UnsupportedFormat(f"{name}: reading {ext} needs {module.split('.')[0]}: {_INSTALL}") from None


def _read_xlsx(data: bytes, name: str) -> list[Table]:
    _safe_zip(data, name)
    openpyxl = _need("openpyxl", ".xlsx", name)
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        out = []
        for ws in wb.worksheets:
            width = min(ws.max_column or MAX_COLS, MAX_COLS)
            rows = ws.iter_rows(max_col=width, values_only=True)
            out.append(_table(_cap(rows, MAX_ROWS)))
        return out
    finally:
        wb.close()


def _read_xls(data: bytes, name: str) -> list[Table]:
    xlrd = _need("xlrd", ".xls", name)
    # ragged_rows: a merged range running to row 65535 must not pad every row to full width
    # (fuzzing found a 5.6 KB file that made xlrd build 65,536 x 768 cells: 1.6 s and 570 MB).
    book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True, ragged_rows=True,
                              logfile=io.StringIO())  # xlrd prints warnings to stdout by default
    try:
        out = []
        for sheet in book.sheets():
            # A merged range (or formatting) can stretch nrows/ncols to 65536 x 768 with nothing in
            # them: the grid ends at the last row holding a value and the widest such row.
            last = -1
            for r in range(min(sheet.nrows, MAX_ROWS)):
                n = min(sheet.row_len(r), MAX_COLS)
                if any(t not in (0, 6) for t in sheet.row_types(r, 0, n)):  # XL_CELL_EMPTY, XL_CELL_BLANK
                    last = r
            width = min(max((sheet.row_len(r) for r in range(last + 1)), default=0), MAX_COLS)
            grid = [[_xls_value(sheet.cell(r, c), book.datemode) if c < sheet.row_len(r) else ""
                     for c in range(width)] for r in range(last + 1)]
            for r0, r1, c0, c1 in sheet.merged_cells:  # the top-left value fills the merged block
                for r in range(r0, min(r1, len(grid))):
                    for c in range(c0, min(c1, width)):
                        grid[r][c] = grid[r0][c0]
            out.append(_table(grid))
        return out
    finally:
        book.release_resources()


def _xls_value(cell: Any, datemode: int) -> Any:
    if cell.ctype == 3:  # XL_CELL_DATE
        try:
            return _xldate(cell.value, datemode)
        except Exception:  # noqa: BLE001 -- an out-of-range date stays a number
            return cell.value
    return cell.value


def _xldate(value: float, datemode: int) -> dt.date | dt.datetime:
    import xlrd

    d = xlrd.xldate_as_datetime(value, datemode)
    return d.date() if d.time() == dt.time(0) else d


def _read_docx(data: bytes, name: str) -> list[Table]:
    """Every table, each led by the short paragraph just before it (a sub-category heading)
    as a full-width caption row; the paragraphs as one-column rows when there is no table."""
    _safe_zip(data, name)
    docx = _need("docx", ".docx", name)
    doc = docx.Document(io.BytesIO(data))
    out, caption = [], ""
    for block in doc.iter_inner_content():
        if not hasattr(block, "rows"):
            caption = block.text.strip() or caption
            continue
        rows = [[cell.text for cell in row.cells] for row in _cap(block.rows, MAX_ROWS)]
        width = max((len(r) for r in rows), default=0)
        lead = [[caption] * width] if caption and len(caption) <= 40 and width else []
        out.append(_table(lead + rows))
        caption = ""
    if not any(out):
        out = [_table([[p.text] for p in doc.paragraphs])]
    return out


def _read_pdf(data: bytes, name: str) -> list[Table]:
    """The first MAX_PAGES pages, in at most MAX_SECONDS (checked between pages), inflating at most
    MAX_PDF_INFLATED bytes of streams (see :class:`_Inflate`)."""
    if b"%%EOF" not in data[-2048:]:
        raise UnsafeAttachment(f"{name}: truncated PDF (no %%EOF at the end)")
    pdfplumber = _need("pdfplumber", ".pdf", name)
    _Inflate.install()
    budget = _PdfBudget(name)
    token = _PDF_BUDGET.set(budget)
    started, out = time.monotonic(), []
    try:
        # pdfplumber builds a Page for every page of the file on first use of ``pdf.pages``, and
        # ``pdf.close()`` does so too: 20,000 one-line pages take seconds before any cap. So the pages
        # are built one at a time, and closing is the stream's.
        pdf = pdfplumber.open(io.BytesIO(data))
        try:
            for number, page in enumerate(itertools.islice(_pdf_pages(pdf), MAX_PAGES), 1):
                if time.monotonic() - started > MAX_SECONDS:
                    raise UnsafeAttachment(f"{name}: PDF took over {MAX_SECONDS:.0f}s by page {number}")
                found = [_table(t) for t in page.extract_tables()]
                if any(found):
                    out += found
                else:
                    out.append(_table([[line] for line in (page.extract_text() or "").splitlines()]))
                page.close()
        finally:
            pdf.stream.close()
    except Exception:
        if budget.left < 0:  # pdfplumber wraps what pdfminer raised: name the real problem
            raise budget.error() from None
        raise
    finally:
        _PDF_BUDGET.reset(token)
    return out


def _pdf_pages(pdf: Any) -> Iterable[Any]:
    """pdfplumber pages built one at a time from pdfminer's page tree walk."""
    from pdfminer.pdfpage import PDFPage
    from pdfplumber.page import Page

    doctop = 0.0
    for number, obj in enumerate(PDFPage.create_pages(pdf.doc), 1):
        page = Page(pdf, obj, page_number=number, initial_doctop=doctop)
        doctop += page.height
        yield page


class _PdfBudget:
    """Bytes the streams of the PDF being read may still inflate to."""

    def __init__(self, name: str):
        self.name = name
        self.left = MAX_PDF_INFLATED

    def charge(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise self.error()

    def error(self) -> UnsafeAttachment:
        return UnsafeAttachment(f"{self.name}: PDF streams inflate to more than {MAX_PDF_INFLATED} bytes "
                                f"(cap; a PDF bomb?)")


_PDF_BUDGET: contextvars.ContextVar[_PdfBudget | None] = contextvars.ContextVar("pdf_budget", default=None)


def _charge(n: int) -> None:
    budget = _PDF_BUDGET.get()
    if budget is not None:
        budget.charge(n)


class _Inflate:
    """Stands in for ``zlib`` (and the LZW and RunLength decoders) inside pdfminer.pdftypes.

    pdfminer inflates every stream it needs whole (``zlib.decompress``), so a 30 MB PDF could ask for
    30 GB, and an encrypted one hides its streams from any scan of the file. Here each stream inflates in
    bounded steps, every byte charged to the PDF being read (outside :func:`_read_pdf` nothing is
    charged). pdfminer's CCITT decoder is left alone: no text needs it, and its cost is CPU time
    rather than memory.
    """

    error = zlib.error
    MAX_WBITS = zlib.MAX_WBITS

    @staticmethod
    def install() -> None:
        import pdfminer.pdftypes as pt

        if not isinstance(pt.zlib, _Inflate):
            pt.zlib, pt.lzwdecode, pt.rldecode = _Inflate(), _lzw, _rl  # type: ignore[assignment]

    def __getattr__(self, attr: str) -> Any:
        return getattr(zlib, attr)

    @staticmethod
    def decompress(data: bytes, wbits: int = zlib.MAX_WBITS, bufsize: int = 0) -> bytes:
        d = _Inflater(zlib.decompressobj(wbits))
        out = d.decompress(data)
        if not d.eof:
            raise zlib.error("incomplete or truncated stream")
        return out

    @staticmethod
    def decompressobj(*args: Any, **kwargs: Any) -> "_Inflater":
        return _Inflater(zlib.decompressobj(*args, **kwargs))


class _Inflater:
    """A zlib decompress object that inflates in bounded steps and charges what it makes."""

    def __init__(self, inner: Any):
        self.inner = inner

    @property
    def eof(self) -> bool:
        return bool(self.inner.eof)

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        out = bytearray()
        buf, step = data, 64 * 1024
        while True:
            chunk = self.inner.decompress(buf, step)
            _charge(len(chunk))
            out += chunk
            buf = self.inner.unconsumed_tail
            if not buf and len(chunk) < step:
                return bytes(out)


def _lzw(data: bytes) -> bytes:
    from pdfminer.lzw import LZWDecoder

    out = bytearray()
    for piece in LZWDecoder(io.BytesIO(data)).run():
        _charge(len(piece))
        out += piece
    return bytes(out)


def _rl(data: bytes) -> bytes:
    """RunLength: the decoded size is charged (walking the length bytes) before decoding."""
    from pdfminer.runlength import rldecode

    size, i = 0, 0
    while i < len(data) and data[i] != 128:
        n = data[i]
        size, i = (size + n + 1, i + n + 2) if n < 128 else (size + 257 - n, i + 2)
        if size > 1024 * 1024:
            _charge(size)
            size = 0
    _charge(size)
    return rldecode(data)


def _read_html(data: bytes, name: str) -> list[Table]:
    text = _decode_html(data)
    return list(html_tables(text))


def _decode_html(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    m = re.search(rb"charset\s*=\s*[\"']?([A-Za-z0-9_-]+)", data[:4096])
    enc = m.group(1).decode("ascii").lower() if m else "utf-8"
    enc = "gb18030" if enc in ("gb2312", "gbk", "gb18030") else enc
    try:
        return data.decode(enc)
    except (LookupError, UnicodeDecodeError):
        return data.decode("gb18030", errors="replace")


def _read_doc(data: bytes, name: str) -> list[Table]:
    """Word 97-2003 (and OLE .wps) through antiword, else catdoc; cells of ``|a|b|`` lines split."""
    tools: list[tuple[str, Callable[[str, str], list[str]]]] = [
        ("antiword", lambda exe, path: [exe, "-m", "UTF-8.txt", "-w", "0", path]),
        ("catdoc", lambda exe, path: [exe, "-d", "utf-8", "-w", path]),
    ]
    for tool, argv in tools:
        exe = shutil.which(tool)
        if exe is None:
            continue
        with tempfile.TemporaryDirectory(prefix="clusterwatch-doc-") as tmp:
            path = Path(tmp) / "attachment.doc"
            path.write_bytes(data)
            done = subprocess.run(argv(exe, str(path)), capture_output=True, timeout=CONVERT_TIMEOUT, check=False)
        if done.returncode != 0:
            raise AttachmentError(f"{name}: {tool} failed ({_short(done.stderr.decode('utf-8', 'replace'))})")
        return _text_tables(done.stdout.decode("utf-8", errors="replace"))
    raise UnsupportedFormat(f"{name}: .doc / .wps needs antiword or catdoc (apt-get install antiword)")


def _text_tables(text: str) -> list[Table]:
    """Converter output: ``|a |b |`` runs become tables, the other lines one-column rows."""
    out: list[Table] = []
    rows: list[list[str]] = []
    lines: list[list[str]] = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|") and s.endswith("|") and len(s) > 1:
            rows.append([c.strip() for c in s.strip("|").split("|")])
        elif "\t" in s:
            rows.append([c.strip() for c in s.split("\t")])
        else:
            if rows:
                out.append(_table(rows))
                rows = []
            lines.append([s])
    if rows:
        out.append(_table(rows))
    if lines:
        out.append(_table(lines))
    return out


# ---------------------------------------------------------------------- cells


def _cap(items: Iterable[Any], limit: int) -> Iterable[Any]:
    for i, item in enumerate(items):
        if i >= limit:
            return
        yield item


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return " ".join(str(value).replace("\u3000", " ").replace("\xa0", " ").split())


def _table(rows: Iterable[Iterable[Any]]) -> Table:
    """Text cells, rows padded to one width, rows without text dropped."""
    cooked = [r for r in (tuple(_cell(v) for v in row) for row in rows) if any(r)]  # streamed: empties never kept
    width = max((len(r) for r in cooked), default=0)
    while width and not any(len(r) >= width and r[width - 1] for r in cooked):
        width -= 1  # trailing columns that are empty everywhere
    return tuple(tuple(r[:width]) + ("",) * (width - len(r[:width])) for r in cooked)


def _short(e: object) -> str:
    return " ".join(str(e).split())[:200]


_READERS: dict[str, Callable[[bytes, str], list[Table]]] = {
    "xlsx": _read_xlsx, "xls": _read_xls, "docx": _read_docx, "pdf": _read_pdf, "doc": _read_doc, "html": _read_html,
}

__all__ = ["AttachmentError", "UnsafeAttachment", "UnsupportedFormat", "read_tables", "sniff"]
