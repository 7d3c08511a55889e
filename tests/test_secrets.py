"""Secrets never reach logs, error messages, `config check` output or the database."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

import config
from db import open_db
from scraper.runner import run_once
from tests.conftest import new_secret
from tests.servers.http import FixtureServer
from tests.servers.smtp import SmtpServer
from tests.servers.webhook import WebhookReceiver
from tests.test_pipeline import ITEMS, LIST, NEW, serve

PASSWORD = "correct-horse-battery-staple-7f3a"


def test_a_failing_run_logs_no_secret(tmp_path: Path, site: FixtureServer, monkeypatch: pytest.MonkeyPatch,
                                      caplog: pytest.LogCaptureFixture) -> None:
    secret = new_secret()
    monkeypatch.setenv("CW_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("CW_HOOK_SECRET", secret)
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    sink = SmtpServer()
    ctl = Controller(sink, hostname="127.0.0.1", port=sink.port, server_hostname="localhost",
                     tls_context=server_ctx, require_starttls=True, auth_require_tls=True,
                     authenticator=lambda *a: AuthResult(success=False, handled=False))  # every login fails
    ctl.start()
    hook = WebhookReceiver(secret, statuses=[500])
    try:
        serve(site, ITEMS)
        cfg = tmp_path / "cw.toml"
        cfg.write_text(f'''database = "cw.db"
network = {{ allow = ["127.0.0.0/8", "::1"] }}
[politeness]
delay = 0
[smtp]
host = "127.0.0.1"
port = {sink.port}
security = "starttls"
username = "alerts@example.org"
password_env = "CW_SMTP_PASSWORD"
ca_file = "{pem}"
timeout = 5
[[sources]]
name = "jxj"
url = "{site.url(LIST)}"
[sources.selectors]
item = "ul.news-list > li"
[[subscribers]]
name = "desk"
[[subscribers.channels]]
kind = "email"
to = ["desk@example.org"]
[[subscribers.channels]]
kind = "webhook"
url = "{hook.url}"
secret_env = "CW_HOOK_SECRET"
''', encoding="utf-8")
        settings = config.load(cfg)
        db = open_db(settings.database)
        with caplog.at_level(logging.DEBUG):
            asyncio.run(run_once(settings, db, force=True))
            serve(site, [NEW, *ITEMS])
            report = asyncio.run(run_once(settings, db, force=True))
        assert report.deliveries.retried == 2  # SMTP refused the login, the webhook answered 500
        assert len(hook.received) == 1 and hook.received[0].verified
        dumped = repr(settings) + caplog.text + "\n".join(
            str(row) for table in db.table_names() for row in db.execute(f"select * from [{table}]"))
        for value in (PASSWORD, secret, secret.removeprefix("whsec_")):
            assert value not in dumped
        assert "535" in caplog.text  # the failure itself is reported
    finally:
        ctl.stop()
        hook.close()
