"""Docs that cannot drift: the schema page against the live schema, commands in the README."""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.testing import CliRunner

from db import open_db
from scraper.cli import main

ROOT = Path(__file__).resolve().parent.parent


def documented_schema() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    out: dict[str, set[str]] = {}
    table = None
    for line in text.splitlines():
        m = re.match(r"^## `(\w+)`", line)
        if m:
            table = m.group(1)
            out[table] = set()
            continue
        m = re.match(r"^\| `(\w+)` \|", line)
        if m and table:
            out[table].add(m.group(1))
    return out


def test_schema_doc_matches_live_schema() -> None:
    db = open_db(None)
    names = db.table_names()
    shadow = {t for t in names for v in names if t.startswith(v + "_") and t != v}  # FTS5's own tables
    live = {t: {c.name for c in db[t].columns} for t in names if not t.startswith("_") and t not in shadow}
    live.update({v: {c.name for c in db[v].columns} for v in db.view_names()})
    assert documented_schema() == live


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```sh") + 1: lines.index("```sh") + 3]
    assert block[0].startswith("python -m pip install -e . && clusterwatch demo")
    assert block[1].startswith("python -m pip install -e '.[test]' && python -m pytest")


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ctx = click.Context(main, info_name="clusterwatch")
    for name in main.list_commands(ctx):
        assert f"clusterwatch {name}" in readme, name
    assert CliRunner().invoke(main, ["--help"]).exit_code == 0


def test_every_adapter_and_channel_is_documented() -> None:
    from config.loader import ADAPTER_KINDS, CHANNEL_KINDS
    from notifier.base import Notifier
    from scraper.parse import ADAPTERS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / "config" / "example.toml").read_text(encoding="utf-8")
    assert set(ADAPTERS) == set(ADAPTER_KINDS)
    assert set(Notifier.registry) == set(CHANNEL_KINDS)
    for kind in ADAPTERS:
        assert f"| `{kind}` |" in readme
    for kind in CHANNEL_KINDS:
        assert f'kind = "{kind}"' in example
