"""Online backups and restores with SQLite's backup API, verified with ``integrity_check``.

``backup`` copies the live database — while the daemon writes to it — into a temporary file in the
destination folder, checks the copy, fsyncs it and only then renames it into place, so a backup path
never holds a half-written or corrupt file. ``restore`` checks the backup first, keeps a copy of the
current database, and copies the backup in through the same API (which takes SQLite's own locks and
handles the WAL), then applies any newer migrations.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from db.connection import _create_private


class BackupError(Exception):
    """A backup or restore could not be made; nothing was replaced."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    bytes: int
    seconds: float
    integrity: str


def default_name(now: float | None = None) -> str:
    return time.strftime("clusterwatch-%Y%m%dT%H%M%SZ.db", time.gmtime(now))


def backup(database: str | os.PathLike[str], target: str | os.PathLike[str], *, overwrite: bool = False) -> BackupReport:
    """Copy ``database`` to ``target`` (a file, or an existing folder to put a timestamped file in)."""
    started = time.monotonic()
    src_path = Path(database)
    if not src_path.is_file():
        raise BackupError(f"no database at {src_path}")
    dest = Path(target)
    if dest.is_dir():
        dest = dest / default_name()
    if dest.exists() and not overwrite:
        raise BackupError(f"{dest} already exists (use --force to replace it)")
    if dest.resolve() == src_path.resolve():
        raise BackupError(f"{dest} is the database itself")
    if not dest.parent.is_dir():
        raise BackupError(f"no folder {dest.parent}")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        os.close(fd)
        src = sqlite3.connect(f"{src_path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)  # one step: a consistent snapshot even while another process writes
            dst.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
        except sqlite3.Error as e:
            raise BackupError(f"backup of {src_path} failed: {e}") from None
        finally:
            src.close()
            dst.close()
        integrity = check(tmp)
        _fsync(tmp)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except OSError as e:
        raise BackupError(f"cannot write {dest}: {e.strerror or e}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return BackupReport(dest, dest.stat().st_size, time.monotonic() - started, integrity)


def check(path: str | os.PathLike[str]) -> str:
    """``integrity_check`` of a database file plus a check that it is a clusterwatch database."""
    p = Path(path)
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise BackupError(f"{p}: cannot open: {e}") from None
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if rows != ["ok"]:
            raise BackupError(f"{p}: integrity_check failed: {'; '.join(map(str, rows[:5]))}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"_sqlite_migrations", "announcements", "events", "deliveries"} <= tables:
            raise BackupError(f"{p}: not a clusterwatch database (its tables are missing)")
        return "ok"
    except sqlite3.DatabaseError as e:
        raise BackupError(f"{p}: not a readable SQLite database: {e}") from None
    finally:
        conn.close()


def newer_migrations(path: str | os.PathLike[str], known: set[str]) -> list[str]:
    """Migrations recorded in the file at ``path`` that this version does not know."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
    finally:
        conn.close()
    return sorted(set(names) - known)


def restore(backup_path: str | os.PathLike[str], database: str | os.PathLike[str],
            known_migrations: set[str]) -> Path | None:
    """Replace ``database``'s contents with the backup's. The caller holds the writer lock.

    Returns the path of the safety copy of the replaced database (``None`` when there was none).
    """
    src_path = Path(backup_path)
    if not src_path.is_file():
        raise BackupError(f"no backup at {src_path}")
    check(src_path)
    unknown = newer_migrations(src_path, known_migrations)
    if unknown:
        raise BackupError(f"{src_path} was made by a newer clusterwatch (migrations {', '.join(unknown)}); "
                          "upgrade before restoring it")
    db_path = Path(database)
    kept = None
    if db_path.exists() and db_path.stat().st_size > 0:
        kept = db_path.with_name(db_path.name + time.strftime(".before-restore-%Y%m%dT%H%M%SZ", time.gmtime()))
        backup(db_path, kept)
    _create_private(db_path)  # a restore onto a fresh machine still gets an owner-only file
    src = sqlite3.connect(f"{src_path.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(db_path, timeout=10)
    try:
        src.backup(dst)
    except sqlite3.Error as e:
        raise BackupError(f"restore into {db_path} failed: {e}"
                          + (f"; the previous database is kept at {kept}" if kept else "")) from None
    finally:
        src.close()
        dst.close()
    check(db_path)
    return kept


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def known_migrations() -> set[str]:
    """The names of every migration this version ships (applied to a scratch in-memory database)."""
    from db.connection import open_db
    from db.migrations import migrations

    scratch = open_db(None)
    try:
        return {m.name for m in migrations.applied(scratch)}
    finally:
        scratch.close()
