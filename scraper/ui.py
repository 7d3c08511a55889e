"""Datasette over the history, read-only: what ``clusterwatch ui`` runs.

Datasette is an optional extra (``pip install 'clusterwatch[ui]'``) and is never imported here: the
command replaces itself with ``python -m datasette serve`` (same interpreter), so signals, logs and
the exit status are Datasette's own. It is given the shipped metadata, ``db/datasette/metadata.json``
(titles, descriptions from docs/schema.md, facets, sort orders, canned queries), re-keyed to the
database's name, which Datasette takes from the file name.

Read-only, in layers:

* Datasette opens a file that may change (never ``--immutable``: the daemon keeps writing, and an
  immutable reader would trust stale pages) through ``file:…?mode=ro`` connections, and SQLite refuses
  every write through them ("attempt to write a readonly database"), a ``WITH … DELETE`` included;
* ``?sql=`` accepts only ``SELECT``, ``WITH`` and ``EXPLAIN``;
* the metadata has no ``write: true`` canned query, and nobody can sign in to gain a permission: no
  ``--root``, and ``DATASETTE_SECRET`` is dropped so the cookie-signing secret is new on every run.

Datasette plugins installed in the same environment load too; :func:`plugins` names them so the
command can warn. In WAL mode a reader still updates the ``-shm`` index file beside the database,
never the database itself.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import importlib.util
import ipaddress
import json
import os
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

METADATA = ("datasette", "metadata.json")  # inside the ``db`` package
SHIPPED_DATABASE = "clusterwatch"  # the database name the shipped metadata is written for
TESTED = "0.65"  # the Datasette series the metadata is written for


class UIError(Exception):
    """Datasette cannot be started: the message says why and what to do."""


@dataclass(frozen=True)
class Launch:
    """Everything needed to start Datasette: the database, where it listens, its metadata."""

    database: Path
    host: str
    port: int
    metadata: dict[str, Any]

    @property
    def name(self) -> str:
        """The database's name in Datasette's URLs."""
        return self.database.stem

    @property
    def url(self) -> str:
        """The database's page."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/{self.name}"


def shipped_metadata() -> dict[str, Any]:
    """The metadata file shipped in the ``db`` package, as written."""
    text = importlib.resources.files("db").joinpath(*METADATA).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def metadata_for(database: Path) -> dict[str, Any]:
    """The shipped metadata with its database entry renamed to ``database``'s Datasette name."""
    data = shipped_metadata()
    data["databases"] = {database.stem: data["databases"][SHIPPED_DATABASE]}
    return data


def datasette_version() -> str | None:
    """The installed Datasette's version, or None when this interpreter cannot import it."""
    if importlib.util.find_spec("datasette") is None:
        return None
    try:
        return importlib.metadata.version("datasette")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def plugins() -> list[str]:
    """Datasette plugins installed beside it (they load into the server too)."""
    found = {ep.dist.name if ep.dist else ep.name for ep in importlib.metadata.entry_points(group="datasette")}
    return sorted(found)


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise UIError(f"cannot resolve --host {host!r}: {e.strerror}") from None
    return all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def check_port(host: str, port: int) -> None:
    """Fail early, with a clear message, when ``host:port`` cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn chooses
    try:
        socket.create_server((host, port), family=family).close()
    except OSError as e:
        reason = os.strerror(e.errno) if e.errno else str(e)
        raise UIError(f"cannot listen on {host}:{port}: {reason} (pick another --port)") from None


def prepare(database: Path, host: str, port: int) -> Launch:
    """Check that Datasette can serve ``database`` on ``host:port``; raise :class:`UIError` if not."""
    if not database.is_file():
        raise UIError(f"no database at {database} — run `clusterwatch run --once` first")
    if datasette_version() is None:
        raise UIError("Datasette is not installed in this environment: pip install 'clusterwatch[ui]'")
    check_port(host, port)
    return Launch(database=database, host=host, port=port, metadata=metadata_for(database))


def command(launch: Launch, metadata_file: str) -> list[str]:
    """The ``datasette serve`` command line: mutable (``mode=ro``) file, no root, no CORS."""
    return [
        sys.executable, "-m", "datasette", "serve", str(launch.database),
        "--metadata", metadata_file,
        "--host", launch.host, "--port", str(launch.port),
        "--setting", "default_cache_ttl", "0",  # the daemon keeps writing: never serve a cached page
        "--setting", "truncate_cells_html", "300",  # announcement bodies are long
    ]


def environment() -> dict[str, str]:
    """The environment for Datasette, without a fixed cookie-signing secret."""
    return {k: v for k, v in os.environ.items() if k != "DATASETTE_SECRET"}


def exec_datasette(launch: Launch) -> NoReturn:
    """Replace this process with Datasette.

    The metadata goes in an unlinked temporary file that Datasette reads as ``/dev/fd/N``, so
    nothing is left behind however the server stops.
    """
    fd, path = tempfile.mkstemp(prefix="clusterwatch-ui-", suffix=".json")
    try:
        with os.fdopen(os.dup(fd), "w", encoding="utf-8") as f:
            json.dump(launch.metadata, f, ensure_ascii=False)
    finally:
        os.unlink(path)
    os.lseek(fd, 0, os.SEEK_SET)
    os.set_inheritable(fd, True)
    argv = command(launch, f"/dev/fd/{fd}")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, environment())
