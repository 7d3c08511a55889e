"""notifier.email: message construction and SMTP reply classes (reliability.md §1.3 Email, §7 items 10-11).

Sends go to a real aiosmtpd server (or a raw socket) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import smtplib
import socket
import threading
import time
from email.message import EmailMessage
from typing import Iterator

import pytest

from config import Smtp
from notifier.base import Message, PermanentError, Target, TransientError
from notifier.email import EmailNotifier
from notifier.render import render
from tests.servers.smtp import SmtpServer, free_port

KEY = "msg_0123456789abcdef0123456789abcdef"
DOMAIN = "alerts.example.org"
SENDER = "clusterwatch <alerts@example.org>"


def _smtp(port: int = 25, **kw: object) -> Smtp:
    args: dict[str, object] = dict(host="127.0.0.1", port=port, security="plain", sender=SENDER, timeout=2.0,
                                   message_id_domain=DOMAIN)
    args.update(kw)
    return Smtp(**args)  # type: ignore[arg-type]


def _message(title: str = "关于公布2026年度专精特新中小企业名单的通知", url: object = "https://example.org/a.html",
             **payload: object) -> Message:
    return render(key=KEY, event_type="announcement.new", event_key="announcement.new:abc",
                  created_at="2026-03-01T08:00:00Z", payload={"title": title, "url": url, **payload})


def _reparse(msg: EmailMessage) -> EmailMessage:
    """What a receiver sees: the bytes on the wire, parsed again."""
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def _send(smtp: Smtp, to: str, message: Message) -> None:
    asyncio.run(EmailNotifier(smtp).send(Target(kind="email", address=to), message))


# --- construction --------------------------------------------------------------------------------------------


def test_build_headers_and_parts() -> None:
    m = _message(issuer="嘉兴市经济和信息化局")
    msg = _reparse(EmailNotifier(_smtp()).build("alice@example.org", m))
    assert msg["From"] == SENDER
    assert msg["To"] == "alice@example.org"
    assert msg["Subject"] == "[clusterwatch] 关于公布2026年度专精特新中小企业名单的通知"
    assert msg["Message-ID"] == f"<{KEY}@{DOMAIN}>"
    assert msg["X-Clusterwatch-Key"] == KEY
    assert msg["Date"] is not None and abs(msg["Date"].datetime.timestamp() - time.time()) < 60
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content_charset() == "utf-8"
    assert text.get_content() == m.text
    assert html.get_content().rstrip("\n") == m.html
    assert "嘉兴市经济和信息化局" in text.get_content()


def test_message_id_is_the_key_and_stable() -> None:
    n = EmailNotifier(_smtp())
    a = n.build("a@example.org", _message())
    b = n.build("a@example.org", _message())
    assert a["Message-ID"] == b["Message-ID"] == f"<{KEY}@{DOMAIN}>"
    other = render(key="msg_" + "f" * 32, event_type="announcement.new", event_key="e", created_at="x",
                   payload={"title": "t"})
    assert n.build("a@example.org", other)["Message-ID"] == f"<msg_{'f' * 32}@{DOMAIN}>"


def test_scraped_html_is_escaped() -> None:
    msg = _reparse(EmailNotifier(_smtp()).build("a@example.org", _message("<img src=x onerror=alert(1)>")))
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x onerror=alert(1)>" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_title_cannot_inject_a_header() -> None:
    msg = EmailNotifier(_smtp()).build("a@example.org", _message("批次\r\nBcc: x@example.com\r\nX-Evil: 1"))
    headers = msg.as_bytes().split(b"\n\n", 1)[0]  # the top-level header block
    assert not any(line.lower().startswith((b"bcc:", b"x-evil:")) for line in headers.split(b"\n"))
    got = _reparse(msg)
    assert got["Bcc"] is None and got["X-Evil"] is None
    assert got["Subject"] == "[clusterwatch] 批次 Bcc: x@example.com X-Evil: 1"
    assert "\n" not in got["Subject"]


def test_subject_is_sanitised_even_if_the_message_was_not_rendered() -> None:
    """Defence in depth: build() cleans the subject itself."""
    raw = Message(key=KEY, subject="hi\r\nBcc: x@example.com", text="t\n", html="<p>t</p>", json_body=b"{}")
    got = _reparse(EmailNotifier(_smtp()).build("a@example.org", raw))
    assert got["Bcc"] is None
    assert got["Subject"] == "hi Bcc: x@example.com"


def test_javascript_url_is_not_a_link() -> None:
    msg = _reparse(EmailNotifier(_smtp()).build("a@example.org", _message(url="javascript:alert(1)")))
    for kind in ("plain", "html"):
        assert "javascript" not in msg.get_body((kind,)).get_content()  # type: ignore[union-attr]
    assert "href" not in msg.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_huge_title_with_nul_bytes_builds_a_valid_message() -> None:
    msg = EmailNotifier(_smtp()).build("a@example.org", _message("批" * 10_000 + "\x00\x00"))
    wire = msg.as_bytes()
    assert b"\x00" not in wire
    assert max(len(line) for line in wire.split(b"\n")) <= 998  # RFC 5322 line limit
    got = _reparse(msg)
    assert len(got["Subject"]) == 200
    assert "\x00" not in got["Subject"]


def test_construction_error_is_permanent() -> None:
    """config does not validate message_id_domain; a line break there must not become a header."""
    n = EmailNotifier(_smtp(message_id_domain="example.org\r\nBcc: x@example.com"))
    with pytest.raises(PermanentError, match="cannot build the email"):
        n.build("a@example.org", _message())


# --- sending ---------------------------------------------------------------------------------------------------------


def test_send_delivers_one_message_to_one_recipient(smtp: SmtpServer) -> None:
    _send(_smtp(smtp.port), "alice@example.org", _message())
    assert len(smtp.messages) == 1
    env = smtp.envelopes[0]
    assert env.mail_from == "alerts@example.org"
    assert env.rcpt_tos == ["alice@example.org"]
    got = smtp.messages[0]
    assert got["Message-ID"] == f"<{KEY}@{DOMAIN}>"
    assert got["Subject"] == "[clusterwatch] 关于公布2026年度专精特新中小企业名单的通知"


@pytest.mark.parametrize("reply, exc", [("450 mailbox busy", TransientError), ("451 local error", TransientError),
                                        ("452 insufficient storage", TransientError),
                                        ("550 no such user", PermanentError), ("553 bad address", PermanentError)])
def test_rcpt_reply_classes(reply: str, exc: type[Exception], smtp: SmtpServer) -> None:
    smtp.rcpt_reply = reply
    with pytest.raises(exc, match=f"recipient alice@example.org refused: {reply}"):
        _send(_smtp(smtp.port), "alice@example.org", _message())
    assert smtp.messages == []


@pytest.mark.parametrize("reply, exc", [("451 try again", TransientError), ("554 rejected", PermanentError),
                                        ("552 too big", PermanentError)])
def test_data_reply_classes(reply: str, exc: type[Exception], smtp: SmtpServer) -> None:
    smtp.data_reply = reply
    with pytest.raises(exc, match=reply.split()[0]):
        _send(_smtp(smtp.port), "alice@example.org", _message())
    assert smtp.messages == []


def test_connection_refused_is_transient() -> None:
    port = free_port()
    with pytest.raises(TransientError, match=f"SMTP 127.0.0.1:{port}: ConnectionRefusedError"):
        _send(_smtp(port), "alice@example.org", _message())


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening TCP socket on 127.0.0.1 that, by itself, never says anything."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    yield lsock
    lsock.close()


def _accept_and_say(lsock: socket.socket, lines: list[bytes]) -> None:
    try:
        conn, _ = lsock.accept()
    except OSError:
        return
    with conn:
        for line in lines:
            conn.sendall(line)
        try:
            conn.recv(1024)
        except OSError:
            pass


@pytest.mark.parametrize("greeting", [b"421 service not available, closing\r\n",
                                      b"421-busy\r\n421 try later\r\n"])
def test_421_greeting_is_transient(greeting: bytes, listener: socket.socket) -> None:
    t = threading.Thread(target=_accept_and_say, args=(listener, [greeting]), daemon=True)
    t.start()
    with pytest.raises(TransientError, match="421"):
        _send(_smtp(listener.getsockname()[1]), "alice@example.org", _message())
    t.join(2)


def test_silent_server_times_out_as_transient(listener: socket.socket) -> None:
    start = time.monotonic()  # the connection sits in the backlog: no greeting ever comes
    with pytest.raises(TransientError, match="timed out"):
        _send(_smtp(listener.getsockname()[1], timeout=0.5), "alice@example.org", _message())
    assert time.monotonic() - start < 0.5 + 1.0


def test_starttls_required_but_not_offered_is_not_sent_in_clear(smtp: SmtpServer) -> None:
    with pytest.raises(TransientError, match="STARTTLS"):
        _send(_smtp(smtp.port, security="starttls"), "alice@example.org", _message())
    assert smtp.messages == []


def test_ssl_against_a_plain_server_fails_without_sending(smtp: SmtpServer) -> None:
    with pytest.raises(TransientError):
        _send(_smtp(smtp.port, security="ssl"), "alice@example.org", _message())
    assert smtp.messages == []


@pytest.mark.parametrize("code, exc", [(550, PermanentError), (452, TransientError)])
def test_partially_refused_result_is_checked(code: int, exc: type[Exception], smtp: SmtpServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """send_message returns refused recipients instead of raising when some were accepted: check it."""
    def fake_send_message(self: smtplib.SMTP, msg: EmailMessage, *a: object, **kw: object) -> dict:
        return {"alice@example.org": (code, b"refused late")}

    monkeypatch.setattr(smtplib.SMTP, "send_message", fake_send_message)
    with pytest.raises(exc, match=f"{code} refused late"):
        _send(_smtp(smtp.port), "alice@example.org", _message())
