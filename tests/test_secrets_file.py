"""The secrets file: values for the variables a config names, warned about when too open, and never
shown in errors, `config check` output, logs or the database."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import config
from db import open_db
from scraper.cli import main
from scraper.runner import run_once
from tests.conftest import LOOPBACK_ALLOW, new_secret
from tests.servers.http import FixtureServer
from tests.servers.webhook import WebhookReceiver
from tests.test_pipeline import ITEMS, LIST, NEW, serve


def write(tmp_path: Path, body: str, mode: int = 0o600, name: str = "secrets.env") -> Path:
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    p.chmod(mode)
    return p


def hook_config(tmp_path: Path, url: str, secrets_file: str = "secrets.env") -> Path:
    cfg = tmp_path / "cw.toml"
    cfg.write_text(f'''database = "cw.db"
secrets_file = "{secrets_file}"
{LOOPBACK_ALLOW}[politeness]
delay = 0
retries = 0
[[subscribers]]
name = "desk"
[[subscribers.channels]]
kind = "webhook"
url = "{url}"
secret_env = "CW_FILE_HOOK_SECRET"
''', encoding="utf-8")
    return cfg


def test_a_secret_comes_from_the_file_and_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CW_FILE_HOOK_SECRET", raising=False)
    from_file, from_env = new_secret(), new_secret()
    write(tmp_path, f"# clusterwatch secrets\n\nexport CW_FILE_HOOK_SECRET='{from_file}'\nOTHER=\"x\"\n")
    cfg = hook_config(tmp_path, "https://hooks.example.org/a")
    settings = config.load(cfg)
    assert settings.secrets_file == tmp_path / "secrets.env"
    assert settings.subscribers[0].channels[0].secrets[0].reveal() == from_file
    monkeypatch.setenv("CW_FILE_HOOK_SECRET", from_env)
    assert config.load(cfg).subscribers[0].channels[0].secrets[0].reveal() == from_env


def test_a_group_readable_file_is_used_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("CW_FILE_HOOK_SECRET", raising=False)
    secret = new_secret()
    write(tmp_path, f"CW_FILE_HOOK_SECRET={secret}\n", mode=0o640)
    cfg = hook_config(tmp_path, "https://hooks.example.org/a")
    with caplog.at_level(logging.WARNING, logger="clusterwatch.config"):
        config.load(cfg)
    assert f"secrets file {tmp_path / 'secrets.env'} is accessible by group or others (mode 0640); " \
           f"run: chmod 600 {tmp_path / 'secrets.env'}" in caplog.text
    res = CliRunner().invoke(main, ["config", "check", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert f"secrets file: {tmp_path / 'secrets.env'}" in res.output and "warning: secrets file" in res.output
    assert secret not in res.output and secret.removeprefix("whsec_") not in res.output
    caplog.clear()
    (tmp_path / "secrets.env").chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="clusterwatch.config"):
        config.load(cfg)
    assert "accessible by group or others" not in caplog.text


@pytest.mark.parametrize("body, problem", [
    ("CW_FILE_HOOK_SECRET whsec_c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhaw==\n", "line 1: expected NAME=value"),
    ("# ok\n1BAD=whsec_c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhaw==\n", "line 2: expected NAME=value"),
])
def test_a_malformed_line_is_named_by_number_never_by_content(tmp_path: Path, body: str, problem: str) -> None:
    write(tmp_path, body)
    cfg = hook_config(tmp_path, "https://hooks.example.org/a")
    with pytest.raises(config.ConfigError) as info:
        config.load(cfg)
    assert str(info.value) == f"config error: {cfg}: secrets_file: {tmp_path / 'secrets.env'}: {problem}"
    assert "c2VjcmV0" not in str(info.value)


def test_a_missing_or_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    cfg = hook_config(tmp_path, "https://hooks.example.org/a", secrets_file="nope.env")
    with pytest.raises(config.ConfigError, match=r"secrets_file: no such file: .*nope.env"):
        config.load(cfg)
    (tmp_path / "bin.env").write_bytes(b"A=\xff\xfe\n")
    cfg = hook_config(tmp_path, "https://hooks.example.org/a", secrets_file="bin.env")
    with pytest.raises(config.ConfigError, match=r"secrets_file: .*bin.env is not UTF-8"):
        config.load(cfg)


def test_a_variable_in_neither_place_is_still_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CW_FILE_HOOK_SECRET", raising=False)
    write(tmp_path, "SOMETHING_ELSE=1\n")
    with pytest.raises(config.ConfigError, match="CW_FILE_HOOK_SECRET is not set"):
        config.load(hook_config(tmp_path, "https://hooks.example.org/a"))


def test_secrets_from_the_file_never_reach_logs_or_the_database(tmp_path: Path, site: FixtureServer,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("CW_FILE_HOOK_SECRET", raising=False)
    secret = new_secret()
    write(tmp_path, f"CW_FILE_HOOK_SECRET={secret}\n")
    hook = WebhookReceiver(secret, statuses=[500, 200])
    try:
        serve(site, ITEMS)
        cfg = hook_config(tmp_path, hook.url)
        with open(cfg, "a", encoding="utf-8") as f:
            f.write(f'[[sources]]\nname = "jxj"\nurl = "{site.url(LIST)}"\n[sources.selectors]\nitem = "ul.news-list > li"\n')
        settings = config.load(cfg, environ=dict(os.environ))
        db = open_db(settings.database)
        with caplog.at_level(logging.DEBUG):
            asyncio.run(run_once(settings, db, force=True))
            serve(site, [NEW, *ITEMS])
            first = asyncio.run(run_once(settings, db, force=True))
            db.execute("UPDATE deliveries SET next_attempt_at = '2000-01-01T00:00:00Z' WHERE status = 'pending'")
            second = asyncio.run(run_once(settings, db, force=True))
        assert first.deliveries.retried == 1 and second.deliveries.sent == 1
        assert [r.verified for r in hook.received] == [True, True]  # signed with the file's secret
        dumped = repr(settings) + caplog.text + "\n".join(
            str(row) for table in db.table_names() for row in db.execute(f"select * from [{table}]"))
        for value in (secret, secret.removeprefix("whsec_")):
            assert value not in dumped
    finally:
        hook.close()
