"""Shared fixtures: real servers on 127.0.0.1 and a config writer."""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
from pathlib import Path
from typing import Callable, Iterator

import pytest

import config
from tests.servers.http import FixtureServer
from tests.servers.smtp import SmtpServer
from tests.servers.webhook import WebhookReceiver

PAGES = Path(__file__).with_name("pages")

# The test servers listen on loopback, which the SSRF guard refuses by default. Tests opt in the
# way an operator would: through the config's [network] allow-list (config/network.py).
LOOPBACK_ALLOW = 'network = { allow = ["127.0.0.0/8", "::1"] }\n'
LOOPBACK = config.Network(allow_networks=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")))


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def site() -> Iterator[FixtureServer]:
    server = FixtureServer()
    yield server
    server.close()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = new_secret()
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", secret)
    return secret


@pytest.fixture
def receiver(webhook_secret: str) -> Iterator[WebhookReceiver]:
    r = WebhookReceiver(webhook_secret)
    yield r
    r.close()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a TOML config into tmp_path and return its path."""

    def _write(text: str, name: str = "clusterwatch.toml") -> Path:
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        return p

    return _write


@pytest.fixture
def load_config(write_config: Callable[[str], Path]) -> Callable[[str], config.Settings]:
    def _load(text: str) -> config.Settings:
        return config.load(write_config(text), environ=dict(os.environ))

    return _load


@pytest.fixture
def adhoc_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A minimal config allowing loopback, found through $CLUSTERWATCH_CONFIG by ad hoc commands
    (`check URL`, `extract URL`) that are not given --config."""
    path = tmp_path_factory.mktemp("adhoc") / "clusterwatch.toml"
    path.write_text('database = "adhoc.db"\n' + LOOPBACK_ALLOW, encoding="utf-8")
    monkeypatch.setenv("CLUSTERWATCH_CONFIG", str(path))
    return path
