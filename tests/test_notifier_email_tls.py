"""SMTP over STARTTLS and implicit TLS, with AUTH, against aiosmtpd and a trustme CA."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any, Iterator

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from config import Secret, Smtp
from notifier.base import Target, TransientError
from notifier.email import EmailNotifier
from notifier.render import render
from tests.servers.smtp import SmtpServer, free_port

USER, PASSWORD = "alerts@example.org", "s3cret-pw"


class Auth:
    def __init__(self) -> None:
        self.attempts: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, pw = data.login.decode(), data.password.decode()
        self.attempts.append((user, pw))
        ok = (user, pw) == (USER, PASSWORD)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path, ssl.SSLContext]]:
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    pem = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(pem))
    yield authority, pem, server_ctx


def start(mode: str, server_ctx: ssl.SSLContext) -> tuple[SmtpServer, Auth, Controller]:
    sink, auth = SmtpServer(), Auth()
    kw: dict[str, Any] = {"authenticator": auth}
    if mode == "starttls":
        kw.update(tls_context=server_ctx, require_starttls=True, auth_require_tls=True)
    else:  # implicit TLS: aiosmtpd cannot tell the socket is TLS, so it must not insist on STARTTLS
        kw.update(ssl_context=server_ctx, auth_require_tls=False)
    ctl = Controller(sink, hostname="127.0.0.1", port=sink.port, server_hostname="localhost", **kw)
    ctl.start()
    return sink, auth, ctl


def send(smtp: Smtp) -> None:
    msg = render(key="msg_" + "a" * 32, event_type="announcement.new", event_key="e",
                 created_at="2026-11-30T00:00:00Z", payload={"title": "关于公布名单的通知", "url": "https://example.org/"})
    asyncio.run(EmailNotifier(smtp).send(Target(kind="email", address="desk@example.org"), msg))


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_with_auth_delivers(ca: tuple[trustme.CA, Path, ssl.SSLContext], mode: str) -> None:
    _, pem, server_ctx = ca
    sink, auth, ctl = start(mode, server_ctx)
    try:
        send(Smtp(host="127.0.0.1", port=sink.port, security=mode, username=USER,
                  password=Secret(PASSWORD, "PW"), ca_file=pem, timeout=5))
    finally:
        ctl.stop()
    assert auth.attempts == [(USER, PASSWORD)]
    assert len(sink.messages) == 1 and sink.messages[0]["Subject"] == "[clusterwatch] 关于公布名单的通知"


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_unknown_certificate_is_refused(ca: tuple[trustme.CA, Path, ssl.SSLContext], mode: str) -> None:
    _, _, server_ctx = ca
    sink, auth, ctl = start(mode, server_ctx)
    try:
        with pytest.raises(TransientError, match="CERTIFICATE_VERIFY_FAILED"):
            send(Smtp(host="127.0.0.1", port=sink.port, security=mode, username=USER,
                      password=Secret(PASSWORD, "PW"), timeout=5))
    finally:
        ctl.stop()
    assert auth.attempts == [] and sink.messages == []  # the password never left


def test_wrong_password_is_retried_not_dead(ca: tuple[trustme.CA, Path, ssl.SSLContext]) -> None:
    """A 535 is a config problem for every message: retry, so fixing the password delivers the backlog."""
    _, pem, server_ctx = ca
    sink, auth, ctl = start("starttls", server_ctx)
    try:
        with pytest.raises(TransientError, match="535") as exc:
            send(Smtp(host="127.0.0.1", port=sink.port, security="starttls", username=USER,
                      password=Secret("wrong-password", "PW"), ca_file=pem, timeout=5))
    finally:
        ctl.stop()
    assert "wrong-password" not in str(exc.value)
    assert sink.messages == []


def test_mail_from_refused_is_retried(smtp: SmtpServer) -> None:
    class Refuser(SmtpServer):
        async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
            return "553 sender not allowed"

    r = Refuser(port=free_port()).start()
    try:
        with pytest.raises(TransientError, match="553"):
            send(Smtp(host="127.0.0.1", port=r.port, security="plain", timeout=5))
    finally:
        r.stop()
