"""Shared pieces of the command line: the ``--config`` option, loading settings, terminal tables.

Command modules (``scraper.cli`` and the ``scraper.cli_*`` modules it registers) import these, so
every command reads its config and prints tables the same way.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import click

import config
from config import ConfigError, Settings
from scraper.text import display_width

DEFAULT_CONFIG = "clusterwatch.toml"

config_option = click.option(
    "--config", "config_path", default=lambda: os.environ.get("CLUSTERWATCH_CONFIG", DEFAULT_CONFIG),
    show_default=f"$CLUSTERWATCH_CONFIG or {DEFAULT_CONFIG}", help="The TOML config file.",
)


def load_settings(path: str) -> Settings:
    """The config at ``path``; a config error becomes a clean one-line CLI error."""
    try:
        return config.load(path)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def optional_settings(config_path: str) -> Settings:
    """The config when there is one; built-in defaults otherwise (for one-off commands)."""
    if Path(config_path).exists():
        return load_settings(config_path)
    return Settings(path=Path(config_path), database=Path(os.devnull))


class _NoSecrets(Mapping[str, str]):
    """The environment for commands that never send: a secret that is not set reads as a placeholder."""

    PLACEHOLDER = "whsec_" + base64.b64encode(bytes(32)).decode()

    def __getitem__(self, name: str) -> str:
        return os.environ.get(name) or self.PLACEHOLDER

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)


def reading_settings(config_path: str) -> Settings:
    """The config for a command that only reads (its secrets need not be set), or defaults without one."""
    if not Path(config_path).exists():
        return Settings(path=Path(config_path), database=Path(os.devnull))
    try:
        return config.load(config_path, environ=_NoSecrets())
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def db_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--config`` plus ``--db FILE`` (a database without a config, e.g. a copy or a backup)."""
    f = click.option("--db", "db_path", type=click.Path(dir_okay=False),
                     help="The SQLite file (default: the config's database).")(f)
    return config_option(f)


def database_path(settings: Settings | str, db_path: str | None) -> Path:
    """``--db``, else the config's database (``settings`` may be the config's path, read only when needed)."""
    if db_path:
        return Path(db_path)
    if isinstance(settings, str):
        settings = reading_settings(settings)
    if not settings.path.exists():
        raise click.ClickException(f"no config at {settings.path}: pass --config FILE or --db FILE")
    return settings.database


# CSI/OSC/other escape sequences, then any C0/C1 control character except tab and newline.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: object) -> str:
    """Scraped text made safe for a terminal: no ANSI escape sequences, no control characters."""
    s = "" if text is None else str(text)
    return _CONTROL.sub("", _ANSI.sub("", s))


width = display_width  # terminal columns: CJK characters are two wide


def echo_table(header: Sequence[str], rows: Sequence[Sequence[object]],
               out: Callable[[str], None] = click.echo) -> None:
    """Print rows as aligned columns (CJK-aware), cleaning every cell."""
    table = [[clean(c) for c in header]] + [[clean(c).replace("\n", " ") for c in r] for r in rows]
    widths = [max(width(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        out("  ".join(cell + " " * (w - width(cell)) for cell, w in zip(row, widths)).rstrip())


EX_TEMPFAIL = 75  # sysexits.h: "try again later" — what cron wrappers and systemd expect for a busy lock


@contextlib.contextmanager
def exclusive(settings: Settings, command: str) -> Iterator[None]:
    """Hold the database's writer lock for a writing command; exit 75 at once if another process has it."""
    from db.lock import Locked, writer_lock

    try:
        with writer_lock(settings.database, command):
            yield
    except Locked as e:
        click.echo(f"clusterwatch {command}: {e}", err=True)
        raise SystemExit(EX_TEMPFAIL) from None
