"""Rows to files for people who open them in Excel: CSV, JSON and .xlsx, written atomically.

Formula injection: a scraped name such as ``=HYPERLINK("http://evil","点击")`` must stay text.

* CSV: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
  leading single quote (``'=HYPERLINK(…)``), which spreadsheets show as text. The file starts
  with a UTF-8 BOM so Excel reads Chinese correctly.
* xlsx: every text cell is written with the string data type, so nothing becomes a formula. The
  header row is bold and frozen, has an autofilter, and ``link`` cells are hyperlinks.
* JSON: values as stored (JSON is never evaluated).

openpyxl (``pip install 'clusterwatch[export]'``) is needed for xlsx only.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, Sequence

from scraper.text import display_width

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_XLSX_MAX_TEXT = 32767  # Excel's cell limit
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters XML 1.0 cannot carry
_C1 = re.compile(r"[\x7f-\x9f]")  # json.dumps escapes C0 controls (ESC too), not these
LINK_COLUMNS = frozenset({"link", "notice_link", "final_link", "url"})

Row = Sequence[object]


class ExportError(Exception):
    """An export that cannot be written (a missing optional dependency)."""


def to_csv(columns: Sequence[str], rows: Sequence[Row]) -> bytes:
    """UTF-8 CSV with a BOM; text that a spreadsheet would run as a formula is quoted with ``'``."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    w.writerows([[_csv_cell(v) for v in r] for r in rows])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_json(columns: Sequence[str], rows: Sequence[Row]) -> bytes:
    """A JSON array of objects, one per row; Chinese kept as is."""
    return (json_text([dict(zip(columns, r)) for r in rows]) + "\n").encode("utf-8")


def json_text(data: object) -> str:
    """Indented JSON with Chinese as is; C1 control characters escaped too, so no terminal reads them."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=_json_default)
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def to_xlsx(columns: Sequence[str], rows: Sequence[Row], *, sheet: str = "selections") -> bytes:
    """A one-sheet workbook: bold frozen header with an autofilter, text cells typed as strings."""
    try:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter
    except ImportError:
        raise ExportError("xlsx export needs openpyxl: pip install 'clusterwatch[export]'") from None
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    for i, w in enumerate(_widths(columns, rows), 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(max(len(columns), 1))}{len(rows) + 1}"
    bold = Font(bold=True)

    def cell(value: object, column: str | None = None) -> Any:
        c = WriteOnlyCell(ws, value=_xlsx_value(value))
        if isinstance(c.value, str):
            c.data_type = "s"  # never a formula, whatever the text starts with
            if column in LINK_COLUMNS and c.value.startswith(("http://", "https://")):
                c.hyperlink = c.value
                c.style = "Hyperlink"
        return c

    header = []
    for name in columns:
        c = cell(name)
        c.font = bold
        header.append(c)
    ws.append(header)
    for r in rows:
        ws.append([cell(v, col) for v, col in zip(r, columns)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------- internals

def _csv_cell(v: object) -> object:
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return v


def _json_default(v: object) -> object:
    if isinstance(v, bytes):
        return v.hex()
    raise TypeError(f"cannot export {type(v).__name__}")


def _xlsx_value(v: object) -> object:
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, str):
        return _XLSX_ILLEGAL.sub("", v)[:_XLSX_MAX_TEXT]
    return v


def _widths(columns: Sequence[str], rows: Sequence[Row], sample: int = 500) -> list[float]:
    """Column widths from the header and the first ``sample`` rows: CJK counts double, 8 to 60."""
    out = []
    for i, name in enumerate(columns):
        cells = [name] + [str(r[i]) for r in rows[:sample] if r[i] is not None]
        out.append(float(min(60, max(8, max(display_width(c) for c in cells) + 2))))
    return out
