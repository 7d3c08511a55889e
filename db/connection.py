"""Open the database with the connection contract every caller relies on.

WAL, ``synchronous=FULL`` (a lost commit would be a lost alert),
``foreign_keys=ON``, a busy timeout, explicit transactions, and the
migrations applied. Writes go through :func:`write`, which issues
``BEGIN IMMEDIATE`` so a read-then-write transaction can never fail half way
with SQLITE_BUSY.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Iterator

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 10_000


def open_db(path: str | os.PathLike[str] | None) -> Database:
    """Open (creating if needed) and migrate the database at ``path``; ``None`` = in memory."""
    from db.migrations import migrations

    if path is None:
        conn = sqlite3.connect(":memory:", isolation_level=None)
    else:
        p = Path(path)
        _create_private(p)
        conn = sqlite3.connect(str(p), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if path is not None:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    db = Database(conn)
    migrations.apply(db)
    return db


def _create_private(p: Path) -> None:
    """Create the folder and an empty file readable by the owner only."""
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not p.exists():
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


@contextlib.contextmanager
def write(db: Database) -> Iterator[Database]:
    """One write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rollback on error)."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # including a failed COMMIT: never leave the connection mid-transaction
            conn.execute("ROLLBACK")
        raise


def pragmas(db: Database) -> dict[str, object]:
    """The connection settings, read back (for ``config check`` and tests)."""
    return {
        name: db.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
    }
