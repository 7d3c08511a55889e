"""``clusterwatch demo``: the whole product, offline, in a few seconds.

Starts three real servers on 127.0.0.1 -- the bundled sample bureau site, an
SMTP server (aiosmtpd) and a webhook receiver that checks signatures -- writes
a config for them, and runs the same code as ``run --once`` twice: a silent
baseline, then again after a new batch is "published" on the sample site.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from aiosmtpd.controller import Controller

import config
from db import open_db
from notifier.webhook import verify
from notifier.relay import relay_once
from scraper.runner import OnceReport, run_once
from scraper.timeutil import parse_iso, utcnow

SITE = Path(__file__).with_name("demo_site")
LIST_PATH = "/col/col1229399350/index.html"
SECRET_ENV = "CLUSTERWATCH_DEMO_WEBHOOK_SECRET"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SampleSite:
    """The sample bureau site. ``publish()`` adds the new batch to the list page."""

    def __init__(self) -> None:
        self.published = False
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                site.requests.append(self.path)
                body = site.page(self.path.split("?", 1)[0])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def page(self, path: str) -> bytes | None:
        if path == LIST_PATH:
            return (SITE / ("list_after.html" if self.published else "list_before.html")).read_bytes()
        target = (SITE / "site" / path.lstrip("/")).resolve()
        if target.is_relative_to((SITE / "site").resolve()) and target.is_file():
            return target.read_bytes()
        return None

    def publish(self) -> None:
        self.published = True


@dataclass
class WebhookReceiver:
    """Receives webhooks and records whether each signature verified."""

    secrets: tuple[str, ...]
    received: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                ok = verify(receiver.secrets, headers, body)
                receiver.received.append({"headers": headers, "body": body, "verified": ok})
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/clusterwatch"


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"


def write_config(workdir: Path, site_url: str, smtp_port: int, webhook_url: str) -> Path:
    path = workdir / "clusterwatch.toml"
    path.write_text(f'''# Written by `clusterwatch demo`: every server below runs on 127.0.0.1.
database = "clusterwatch.db"

# The demo's site, SMTP server and webhook receiver all run on this machine. Loopback is refused
# by default (the SSRF guard); this allow-list is how a config opts in.
[network]
allow = ["127.0.0.1"]

[politeness]
delay = 0.2
timeout = 10
retries = 0

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
from = "clusterwatch demo <clusterwatch@localhost>"
timeout = 10

[[sources]]
name = "jiaxing-jxj-notices"
url = "{site_url}{LIST_PATH}"
kind = "static"
interval = "30m"
[sources.selectors]
item = "ul.news-list > li"
link = "a"
date = "span.date"

[[subscribers]]
name = "jiaxing-desk"
[[subscribers.channels]]
kind = "email"
to = ["analyst@example.org"]
[[subscribers.channels]]
kind = "webhook"
url = "{webhook_url}"
secret_env = "{SECRET_ENV}"

# Side by side: a digest subscriber for Jiaxing gets one message a day at 08:30 Shanghai time.
[[subscribers]]
name = "jiaxing-morning-digest"
mode = "digest"
digest_at = "08:30"
[subscribers.filters]
regions = ["嘉兴市"]
[[subscribers.channels]]
kind = "email"
to = ["director@example.org"]
''', encoding="utf-8")
    return path


def run_demo(workdir: Path, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the demo in ``workdir``; return what arrived (for tests)."""
    workdir.mkdir(parents=True, exist_ok=True)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    os.environ[SECRET_ENV] = secret
    site = SampleSite()
    threading.Thread(target=site.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    receiver = WebhookReceiver((secret,))
    webhook_url = receiver.start()
    smtp = SmtpSink()
    smtp.controller.start()
    try:
        cfg_path = write_config(workdir, site.url, smtp.port, webhook_url)
        settings = config.load(cfg_path)
        db = open_db(settings.database)
        out(f"Sample bureau site: {site.url}{LIST_PATH}")
        out(f"Config:             {cfg_path}\n")
        first = asyncio.run(run_once(settings, db, force=True))
        _summary(out, "1. First check (silent baseline, nobody is alerted)", first)
        site.publish()
        out("2. The bureau publishes a new batch on its list page ...\n")
        second = asyncio.run(run_once(settings, db, force=True))
        _summary(out, "3. Second check", second)
        _show_email(out, smtp.messages, "4. Instant email received by the local SMTP server")
        _show_webhooks(out, receiver.received)
        instant = list(smtp.messages)
        digest = asyncio.run(relay_once(settings, db, now=_digest_time(db)))
        out(f"6. Next morning at 08:30 the digest goes out ({digest}):")
        _show_email(out, smtp.messages[len(instant):], "   Digest email")
        db.close()
        _show_history(out, settings.database)
        return {"emails": instant, "digests": smtp.messages[len(instant):], "webhooks": receiver.received,
                "database": settings.database, "first": first, "second": second}
    finally:
        smtp.controller.stop()
        site.server.shutdown()
        receiver.server.shutdown()


def _summary(out: Callable[[str], None], heading: str, report: OnceReport) -> None:
    out(heading)
    for r in report.results:
        out(f"   {r}")
    out(f"   deliveries: {report.deliveries}\n")


def _digest_time(db: Any) -> datetime:
    """When the pending digest rows are due (the demo does not wait until tomorrow morning)."""
    row = db.execute("SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'").fetchone()
    return parse_iso(row[0]) if row and row[0] else utcnow()


def _show_email(out: Callable[[str], None], messages: list[Any], heading: str) -> None:
    out(f"{heading} ({len(messages)}):")
    for msg in messages:
        for h in ("From", "To", "Subject", "Message-ID"):
            out(f"   {h}: {msg[h]}")
        text = msg.get_body(preferencelist=("plain",)).get_content()
        out("   " + "\n   ".join(text.rstrip().splitlines()))
        kinds = [p.get_content_type() for p in msg.iter_parts()]
        out(f"   (parts: {', '.join(kinds)})\n")


def _show_webhooks(out: Callable[[str], None], received: list[dict[str, Any]]) -> None:
    out(f"5. Webhook received ({len(received)}):")
    for hook in received:
        out(f"   webhook-id: {hook['headers'].get('webhook-id')}")
        out(f"   signature verified: {'yes' if hook['verified'] else 'NO'}")
        data = json.loads(hook["body"])
        out("   " + "\n   ".join(json.dumps(data, ensure_ascii=False, indent=2).splitlines()))
    out("")


def _show_history(out: Callable[[str], None], database: Path) -> None:
    out(f"7. History is in SQLite: {database}")
    out("   Try:")
    out(f"   sqlite-utils query {database} \\\n"
        "     \"select first_seen, pub_date, title from announcements order by first_seen desc, pub_date desc limit 5\" -t")
