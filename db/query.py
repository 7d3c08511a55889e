"""Read-only access to the history: ad hoc SQL for ``clusterwatch query`` and the reads behind
``search``, ``history`` and ``export``.

Every connection here is opened with ``file:…?mode=ro`` (a missing file is an error, never
created), ``PRAGMA query_only``, and an authorizer that lets through reads only: SELECT, READ,
FUNCTION (``load_extension`` excepted), recursive CTEs and introspection PRAGMAs. Statements that
the authorizer never sees (``VACUUM INTO``, ``REINDEX``) are refused by their first keyword. WAL
readers never block the daemon's writer, and it never blocks them.

    QueryError            what the user is shown: str(e) is the whole message
     ├── NoDatabase       "no database at PATH — run `clusterwatch run --once` first"
     ├── QueryRefused     "query refused: writes are not allowed (INSERT)"
     └── QueryTimeout     "query timed out after 10 s"

A bad statement is a plain ``QueryError``: ``query error: near "SELEC": syntax error``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from sqlite_utils import Database

DEFAULT_TIMEOUT = 10.0  # seconds, for one ad hoc statement
READ_TIMEOUT = 60.0  # seconds, for a whole open_readonly() session (search, history, export)
_PROGRESS_STEPS = 1000  # VM instructions between deadline checks

# Statements refused by their first keyword (VACUUM and REINDEX never reach the authorizer).
_WRITES = frozenset({"INSERT", "REPLACE", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH",
                     "VACUUM", "REINDEX", "ANALYZE"})
_TRANSACTIONS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))*([A-Za-z]*)", re.S)

_ALLOWED = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"})
_ACTION = {
    sqlite3.SQLITE_INSERT: "INSERT", sqlite3.SQLITE_UPDATE: "UPDATE", sqlite3.SQLITE_DELETE: "DELETE",
    sqlite3.SQLITE_CREATE_INDEX: "CREATE INDEX", sqlite3.SQLITE_CREATE_TABLE: "CREATE TABLE",
    sqlite3.SQLITE_CREATE_TEMP_INDEX: "CREATE INDEX", sqlite3.SQLITE_CREATE_TEMP_TABLE: "CREATE TABLE",
    sqlite3.SQLITE_CREATE_TEMP_TRIGGER: "CREATE TRIGGER", sqlite3.SQLITE_CREATE_TEMP_VIEW: "CREATE VIEW",
    sqlite3.SQLITE_CREATE_TRIGGER: "CREATE TRIGGER", sqlite3.SQLITE_CREATE_VIEW: "CREATE VIEW",
    sqlite3.SQLITE_CREATE_VTABLE: "CREATE VIRTUAL TABLE", sqlite3.SQLITE_DROP_INDEX: "DROP INDEX",
    sqlite3.SQLITE_DROP_TABLE: "DROP TABLE", sqlite3.SQLITE_DROP_TEMP_INDEX: "DROP INDEX",
    sqlite3.SQLITE_DROP_TEMP_TABLE: "DROP TABLE", sqlite3.SQLITE_DROP_TEMP_TRIGGER: "DROP TRIGGER",
    sqlite3.SQLITE_DROP_TEMP_VIEW: "DROP VIEW", sqlite3.SQLITE_DROP_TRIGGER: "DROP TRIGGER",
    sqlite3.SQLITE_DROP_VIEW: "DROP VIEW", sqlite3.SQLITE_DROP_VTABLE: "DROP VIRTUAL TABLE",
    sqlite3.SQLITE_ALTER_TABLE: "ALTER TABLE", sqlite3.SQLITE_ATTACH: "ATTACH", sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_REINDEX: "REINDEX", sqlite3.SQLITE_ANALYZE: "ANALYZE",
    sqlite3.SQLITE_TRANSACTION: "BEGIN/COMMIT", sqlite3.SQLITE_SAVEPOINT: "SAVEPOINT",
}
# PRAGMAs that only read, with or without an argument (table_info(x) passes its table as the argument).
_READ_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
    "foreign_key_check", "integrity_check", "quick_check",
})
# PRAGMAs that only read when they have no argument (``PRAGMA journal_mode``, not ``= delete``).
_SETTING_PRAGMAS = frozenset({
    "application_id", "auto_vacuum", "busy_timeout", "cache_size", "collation_list", "compile_options",
    "data_version", "database_list", "encoding", "foreign_keys", "freelist_count", "function_list",
    "journal_mode", "module_list", "page_count", "page_size", "pragma_list", "query_only", "schema_version",
    "synchronous", "user_version",
})


class QueryError(Exception):
    """A query that could not run; ``str(e)`` is the message for the user."""


class NoDatabase(QueryError):
    """There is no database file at the configured path."""


class QueryRefused(QueryError):
    """The statement would write, or is not allowed on a read-only connection."""


class QueryTimeout(QueryError):
    """The statement ran past its time limit."""


@dataclass(frozen=True)
class Rows:
    """A result: column names, rows, and whether ``max_rows`` cut it short."""

    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    truncated: bool = False

    def dicts(self) -> list[dict[str, object]]:
        return [dict(zip(self.columns, r)) for r in self.rows]


def run_query(path: str | os.PathLike[str], sql: str, *, timeout: float = DEFAULT_TIMEOUT,
              max_rows: int | None = None) -> Rows:
    """Run one user statement read-only, within ``timeout`` seconds, keeping at most ``max_rows`` rows.

        >>> run_query("clusterwatch.db", "select count(*) from v_selections").rows   # doctest: +SKIP
        ((10,),)
    """
    _check_keyword(sql)
    with _connect(path, timeout) as (conn, guard):
        with guard(timeout):
            try:
                cur = conn.execute(sql)
            except sqlite3.ProgrammingError as e:
                if "one statement" in str(e):
                    raise QueryRefused("query refused: one statement at a time") from None
                raise QueryError(f"query error: {e}") from None
            if cur.description is None:
                return Rows((), ())
            columns = tuple(c[0] for c in cur.description)
            rows = cur.fetchall() if max_rows is None else cur.fetchmany(max_rows + 1)
    kept = rows if max_rows is None else rows[:max_rows]
    return Rows(columns, tuple(tuple(r) for r in kept), truncated=len(kept) < len(rows))


@contextlib.contextmanager
def open_readonly(path: str | os.PathLike[str], *, timeout: float = READ_TIMEOUT) -> Iterator[Database]:
    """A read-only clusterwatch database (views included), closed on exit; its reads share ``timeout`` seconds."""
    with _connect(path, timeout) as (conn, guard):
        with guard(timeout):
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        if not {"announcements", "v_selections"} <= names:
            raise QueryError(f"{path} is not an up-to-date clusterwatch database (no v_selections view) "
                             "— run `clusterwatch run --once` to create or migrate it")
        with guard(timeout):
            yield Database(conn, recursive_triggers=False, execute_plugins=False)


def selections(db: Database, *, program: str | None = None, since: str | None = None) -> Rows:
    """``v_selections`` rows (oldest list first, in list order), plus ``issuer_region``, the list's issuer."""
    where, args = _filters(program=("v.program", program), since=("v.published", since))
    cur = db.execute(
        "SELECT v.*, a.region AS issuer_region FROM v_selections v "
        "JOIN announcements a ON a.key = v.announcement_key "
        "JOIN selections s ON s.announcement_key = v.announcement_key AND s.name = v.entity "
        f"AND s.provenance = v.provenance AND s.role = v.role {where} "
        "ORDER BY v.published, a.first_seen, v.announcement_key, s.row, s.id", args)
    return _rows(cur)


def timeline(db: Database, *, program: str | None = None, since: str | None = None,
             stage: str | None = None) -> Rows:
    """Announcements of known programs, oldest first, with their batch fields and entity count."""
    where, args = _filters(program=("a.program", program), since=("published", since), stage=("a.stage", stage))
    where = (where + " AND" if where else "WHERE") + " a.program IS NOT NULL"
    cur = db.execute(
        "SELECT a.key, COALESCE(a.pub_date, substr(a.first_seen, 1, 10)) AS published, a.program, "
        "COALESCE(p.name_zh, a.program_name) AS program_name, a.level, a.year, a.batch, a.review, a.stage, "
        "a.title, a.url AS link, a.source, a.region AS issuer_region, "
        "(SELECT count(*) FROM selections s WHERE s.announcement_key = a.key) AS entities "
        f"FROM announcements a LEFT JOIN programs p ON p.key = a.program {where} "
        "ORDER BY published, a.first_seen, a.key", args)
    return _rows(cur)


def entities_of(db: Database, keys: Sequence[str]) -> dict[str, list[tuple[str, str | None, str | None]]]:
    """Announcement key -> its selected entities as (name, region, city), in list order."""
    out: dict[str, list[tuple[str, str | None, str | None]]] = {k: [] for k in keys}
    for i in range(0, len(keys), 500):
        chunk = list(keys[i:i + 500])
        for key, name, region, city in db.execute(
                "SELECT announcement_key, name, region, city FROM selections "
                f"WHERE announcement_key IN ({','.join('?' * len(chunk))}) ORDER BY row, id", chunk):
            out[key].append((name, region, city))
    return out


def entity_matches(db: Database, keys: Sequence[str], text: str) -> dict[str, list[str]]:
    """Announcement key -> names of its entities that contain ``text`` (for ``search`` output)."""
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    out: dict[str, list[str]] = {}
    for i in range(0, len(keys), 500):
        chunk = list(keys[i:i + 500])
        for key, name in db.execute(
                "SELECT announcement_key, name FROM selections WHERE name LIKE ? ESCAPE '\\' "
                f"AND announcement_key IN ({','.join('?' * len(chunk))}) ORDER BY row, id", [like, *chunk]):
            out.setdefault(key, []).append(name)
    return out


# ---------------------------------------------------------------------------------------- internals

Guard = Callable[[float], "contextlib.AbstractContextManager[None]"]


@contextlib.contextmanager
def _connect(path: str | os.PathLike[str], timeout: float) -> Iterator[tuple[sqlite3.Connection, Guard]]:
    p = Path(path)
    if not p.is_file():
        raise NoDatabase(f"no database at {p} — run `clusterwatch run --once` first")
    try:
        conn = sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None,
                               timeout=timeout, check_same_thread=False)
    except sqlite3.Error as e:
        raise QueryError(f"cannot open {p}: {e}") from None
    try:
        conn.execute("PRAGMA query_only = ON")
        refused: list[str] = []
        conn.set_authorizer(_authorizer(refused))
        yield conn, _guard(conn, refused)
    finally:
        conn.close()


def _guard(conn: sqlite3.Connection, refused: list[str]) -> Guard:
    """A context that gives statements run inside it ``seconds`` and turns sqlite errors into QueryErrors."""

    @contextlib.contextmanager
    def guard(seconds: float) -> Iterator[None]:
        deadline = time.monotonic() + seconds
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), _PROGRESS_STEPS)
        refused.clear()
        try:
            yield
        except sqlite3.Error as e:
            if refused:
                raise QueryRefused(f"query refused: {refused[0]}") from None
            if isinstance(e, sqlite3.OperationalError) and str(e) == "interrupted" and time.monotonic() > deadline:
                raise QueryTimeout(f"query timed out after {seconds:g} s") from None
            raise QueryError(f"query error: {e}") from None
        finally:
            conn.set_progress_handler(None, _PROGRESS_STEPS)

    return guard


def _authorizer(refused: list[str]) -> Callable[[int, str | None, str | None, str | None, str | None], int]:
    """Allow reads only; the first refusal's reason is appended to ``refused``."""

    def check(action: int, arg1: str | None, arg2: str | None, _db: str | None, _source: str | None) -> int:
        if action in _ALLOWED:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_UPDATE and arg1 in _SCHEMA_TABLES:
            # Asked while preparing table-valued PRAGMA functions (pragma_table_info('x')). SQLite itself
            # refuses real writes to the schema table (writable_schema is a PRAGMA we refuse).
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() != "load_extension":
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if name in _READ_PRAGMAS or (arg2 is None and name in _SETTING_PRAGMAS):
                return sqlite3.SQLITE_OK
            reason = f"writes are not allowed (PRAGMA {name}{'' if arg2 is None else '=' + arg2})"
        elif action == sqlite3.SQLITE_FUNCTION:
            reason = f"function {arg2}() is not allowed"
        else:
            reason = f"writes are not allowed ({_ACTION.get(action, f'action {action}')})"
        refused.append(reason)
        return sqlite3.SQLITE_DENY

    return check


def _check_keyword(sql: str) -> None:
    if not sql.strip():
        raise QueryError("query error: empty query")
    m = _LEADING.match(sql)
    word = (m.group(1) if m else "").upper()
    if word in _WRITES:
        raise QueryRefused(f"query refused: writes are not allowed ({word})")
    if word in _TRANSACTIONS:
        raise QueryRefused(f"query refused: transactions are not allowed ({word})")


def _filters(**conds: tuple[str, str | None]) -> tuple[str, list[object]]:
    parts: list[str] = []
    args: list[object] = []
    for name, (column, value) in conds.items():
        if value is not None:
            parts.append(f"{column} >= ?" if name == "since" else f"{column} = ?")
            args.append(value)
    return ("WHERE " + " AND ".join(parts) if parts else ""), args


def _rows(cur: sqlite3.Cursor) -> Rows:
    return Rows(tuple(c[0] for c in cur.description), tuple(tuple(r) for r in cur.fetchall()))
