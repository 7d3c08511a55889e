"""A webhook receiver on 127.0.0.1 that verifies signatures with the reference
``standardwebhooks`` package and answers with scripted statuses."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    error: str | None


class WebhookReceiver:
    def __init__(self, secret: str, statuses: list[int] | None = None, extra_headers: dict[str, str] | None = None):
        self.verifier = Webhook(secret)
        self.statuses = list(statuses or [204])
        self.extra_headers = extra_headers or {}
        self.received: list[Received] = []
        receiver = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    receiver.verifier.verify(body, headers)
                    ok, err = True, None
                except Exception as e:  # standardwebhooks raises WebhookVerificationError
                    ok, err = False, str(e)
                receiver.received.append(Received(headers, body, ok, err))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                for k, v in receiver.extra_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ReceiverPool:
    """Receivers reused across a module's tests (closing one waits for the server's poll).

    ``take`` hands out the next receiver, reset: its signing secret, scripted statuses and headers.
    """

    def __init__(self) -> None:
        self.all: list[WebhookReceiver] = []
        self.used = 0

    def take(self, secret: str, statuses: list[int] | None = None,
             extra_headers: dict[str, str] | None = None) -> WebhookReceiver:
        if self.used == len(self.all):
            self.all.append(WebhookReceiver(secret))
        r = self.all[self.used]
        self.used += 1
        r.verifier = Webhook(secret)
        r.statuses = list(statuses or [204])
        r.extra_headers = dict(extra_headers or {})
        r.received = []
        return r

    def close(self) -> None:
        threads = [threading.Thread(target=r.close) for r in self.all]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
