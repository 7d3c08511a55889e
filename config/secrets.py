"""Secrets: a string that never shows itself in reprs, logs or error messages, and the secrets file.

Secrets are named in the config by variable (``password_env``, ``secret_env``) and read from the
environment, or from the file that ``secrets_file`` names (environment variables win). A secrets
file readable by group or others is used but warned about, at every start and by ``config check``.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path


class Secret:
    __slots__ = ("_value", "env")

    def __init__(self, value: str, env: str):
        self._value = value
        self.env = env  # the environment variable it came from (safe to show)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(from ${self.env})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# --- the secrets file -----------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_secrets_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (``#`` comments, blank lines, an optional ``export``, optional quotes).

    Raises ``ValueError`` with a message naming the line number, never the line's text (it may hold
    a secret).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"no such file: {path}") from None
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8") from None
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not _NAME.match(name):
            raise ValueError(f"{path}: line {number}: expected NAME=value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name] = value
    return out


def loose_permissions(path: Path) -> str | None:
    """Why ``path`` is too open for a secrets file (readable or writable by group or others), or None."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & 0o077:
        return (f"secrets file {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
                f"run: chmod 600 {path}")
    return None
