"""One writing process per database, enforced with an advisory lock file beside it.

``run --once`` from cron, the daemon, ``backfill`` and ``restore`` take the lock before they touch
the database; a second one started while the first still runs gets :class:`Locked` at once (it does
not queue up behind the first), with the holder's pid, command and start time in the message.

The lock is ``flock(2)`` on ``<database>.lock``: the kernel drops it when the holder exits, however it
exits (SIGKILL and power loss included), so a stale lock cannot outlive its process. The file is
never deleted — deleting a lock file another process has open is how two holders happen.
Readers (``status``, ``query``, ``ui``, ``backup``) never take it: SQLite's WAL lets them read while
the writer writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Iterator


class Locked(Exception):
    """Another process holds the database's writer lock."""


def lock_path(database: str | os.PathLike[str]) -> Path:
    p = Path(database)
    return p.with_name(p.name + ".lock")


@contextlib.contextmanager
def writer_lock(database: str | os.PathLike[str], command: str) -> Iterator[Path]:
    """Hold the writer lock for ``database`` for the ``with`` block, or raise :class:`Locked` at once."""
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Locked(_busy_message(Path(database), fd)) from None
        info = json.dumps({"pid": os.getpid(), "command": command,
                           "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode() + b"\n", 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # the holder is gone; the next reader of the file sees no stale pid
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def holder(database: str | os.PathLike[str]) -> dict[str, object] | None:
    """Who holds the lock now (pid, command, since), or ``None`` when nobody does."""
    path = lock_path(database)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_info(fd: int) -> dict[str, object]:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return info if isinstance(info, dict) else {}
    except (ValueError, OSError):
        return {}


def _busy_message(database: Path, fd: int) -> str:
    info = _read_info(fd)
    who = ", ".join(f"{k} {info[k]}" for k in ("pid", "command", "since") if k in info)
    return (f"{database} is in use by another clusterwatch process ({who or 'details unknown'}); "
            "only one process may write to a database at a time")
