"""The attachment archive: files stored by content, next to the database.

    <database folder>/attachments/<first two hex digits>/<sha256>

A server-supplied name never becomes a path (``../`` and absolute names are
harmless); the original name is kept as data. Files are written to a private
temporary name, fsynced, then linked into place, so a crash never leaves a
half-written file under a hash name. Folders are owner-only.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class Archive:
    def __init__(self, root: Path):
        self.root = root

    @classmethod
    def beside(cls, database: Path) -> "Archive":
        return cls(database.parent / "attachments")

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def store(self, data: bytes) -> str:
        """Keep ``data``; return its sha256. Storing the same bytes twice is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        final = self.path_for(digest)
        if final.exists():
            return digest
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        tmp = final.parent / f".{digest}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, final)  # fails if another writer got there first: same bytes, fine
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
        return digest
