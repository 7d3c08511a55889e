"""Email over SMTP (plain, STARTTLS or SSL), one message per recipient.

The Message-ID is derived from the delivery's idempotency key, so a retried or
duplicated send is recognisable. SMTP 4xx replies and connection problems are
transient; a 5xx reply for the recipient or the message is permanent. A 5xx to
the greeting, HELO, AUTH or MAIL FROM is a server-wide problem (a wrong
password, say): it is retried, so fixing the config delivers the backlog.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from config import Smtp
from notifier.base import Message, Notifier, PermanentError, Target, TransientError
from notifier.render import header_safe


class EmailNotifier(Notifier):
    """Send each alert as a text + HTML email to one recipient."""

    kind = "email"

    def __init__(self, smtp: Smtp):
        self.smtp = smtp

    async def send(self, target: Target, message: Message) -> None:
        assert target.address
        msg = self.build(target.address, message)
        await asyncio.to_thread(self._send_sync, msg, target.address)

    def build(self, to: str, message: Message) -> EmailMessage:
        try:
            msg = EmailMessage()
            msg["From"] = self.smtp.sender
            msg["To"] = to
            msg["Subject"] = header_safe(message.subject)
            msg["Date"] = formatdate(localtime=False)
            msg["Message-ID"] = f"<{message.key}@{self.smtp.message_id_domain}>"
            msg["X-Clusterwatch-Key"] = message.key
            if message.list_unsubscribe:
                msg["List-Unsubscribe"] = f"<{header_safe(message.list_unsubscribe, 500)}>"
            msg.set_content(message.text)
            msg.add_alternative(message.html, subtype="html")
        except (ValueError, TypeError) as e:
            raise PermanentError(f"cannot build the email: {e}") from None
        return msg

    def _tls(self) -> ssl.SSLContext:
        """Certificates are always verified; ``ca_file`` adds a private CA, it never disables checks."""
        return ssl.create_default_context(cafile=str(self.smtp.ca_file) if self.smtp.ca_file else None)

    def _send_sync(self, msg: EmailMessage, to: str) -> None:
        s = self.smtp
        try:
            if s.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._tls())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with client:
                client.ehlo()
                if s.security == "starttls":
                    client.starttls(context=self._tls())
                    client.ehlo()
                if s.username and s.password is not None:
                    client.login(s.username, s.password.reveal())
                refused = client.send_message(msg, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as e:
            code, reply = next(iter(e.recipients.values()))
            raise _classify(code, reply, f"recipient {to} refused") from None
        except smtplib.SMTPDataError as e:  # the server refused this message
            raise _classify(e.smtp_code, e.smtp_error, "message refused") from None
        except smtplib.SMTPResponseException as e:
            # Greeting, HELO, AUTH or MAIL FROM refused: a server or config problem that
            # affects every message, not this one. Retry rather than kill every pending email.
            text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
            raise TransientError(f"SMTP {s.host}:{s.port}: {type(e).__name__}: {e.smtp_code} {text}") from None
        except (smtplib.SMTPConnectError, OSError) as e:  # refused, unreachable, timed out: the server is down
            raise TransientError(f"SMTP {s.host}:{s.port}: {type(e).__name__}: {e}", target_down=True) from None
        except smtplib.SMTPException as e:
            raise TransientError(f"SMTP {s.host}:{s.port}: {type(e).__name__}: {e}") from None
        if refused:
            code, reply = refused[to]
            raise _classify(code, reply, f"recipient {to} refused")


def _classify(code: int, reply: bytes | str, what: str) -> Exception:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    message = f"{what}: {code} {text}".strip()
    return PermanentError(message) if 500 <= code < 600 else TransientError(message)
