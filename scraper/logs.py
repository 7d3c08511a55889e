"""Structured logging: one line per record, as text or JSON, with scraped text escaped.

Log messages carry text from strangers' servers (titles, URLs, error bodies). A title holding
``\\n2026-11-30 ERROR ...`` must not be able to forge a second log line, and an ANSI escape must not
repaint an operator's terminal. Both formatters therefore escape every control character in the
message, the exception text and every extra field: the text format as ``\\n``/``\\x1b``/``\\u2028``
escapes, the JSON format through JSON's own string escaping (plus the few line separators JSON
leaves alone).

Extra fields (``log.info("...", extra={"source": name})``) are emitted as ``key=value`` pairs in
text and as members of the JSON object.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import IO

FORMATS = ("text", "json")

# Every C0/C1 control character, DEL, and the Unicode line/paragraph separators.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def escape(text: object) -> str:
    """``text`` on one line: control characters become visible escapes (``\\n``, ``\\x1b``, ``\\u2028``)."""
    s = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(lambda m: _NAMED.get(m.group()) or (
        f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"), s)


def _when(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception as e:  # a bad %-format in a log call must not lose the record
        return f"{record.msg!r} (log formatting failed: {e})"


class TextFormatter(logging.Formatter):
    """``2026-11-30T13:50:14.123Z WARNING scraper.pipeline: message key=value``, always one line."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_when(record), record.levelname, f"{record.name}:", escape(_message(record))]
        for key, value in _extras(record).items():
            parts.append(f"{escape(key)}={escape(value)}")
        line = " ".join(parts)
        if record.exc_info:
            line += " | " + escape(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, extra fields, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {"ts": _when(record), "level": record.levelname, "logger": record.name,
                                  "msg": _message(record)}
        for key, value in _extras(record).items():
            out.setdefault(key, value if isinstance(value, (int, float, bool, type(None))) else str(value))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        # JSON escapes C0 controls; escape C1, DEL and U+2028/2029 too so no terminal or line splitter trips.
        return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}",
                           json.dumps(out, ensure_ascii=False, default=str))


def setup(*, verbose: int = 0, quiet: int = 0, fmt: str = "text", stream: IO[str] | None = None) -> None:
    """Configure the root logger once per process: WARNING by default, ``-v`` INFO, ``-vv`` DEBUG."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    level = max(logging.DEBUG, min(logging.CRITICAL, logging.WARNING - 10 * verbose + 10 * quiet))
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_clusterwatch", False):
            root.removeHandler(old)
    handler._clusterwatch = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, level))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
