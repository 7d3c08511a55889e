"""TLS is always verified; a per-host CA bundle adds trust for that host only."""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import trustme

from config import Politeness
from scraper.errors import FetchError
from scraper.fetch import Fetcher
from tests.conftest import LOOPBACK

ROOT = Path(__file__).resolve().parent.parent
POL = Politeness(delay=0, retries=0, timeout=5, deadline=10)


@pytest.fixture(scope="module")
def https_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    pem = tmp_path_factory.mktemp("tls") / "site-ca.pem"
    ca.cert_pem.write_to_path(str(pem))

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = "<html><body><ul><li><a href='/a.html'>关于公布名单的通知</a><span>2026-11-30</span></li></ul></body></html>".encode()
            self.send_response(200 if self.path != "/robots.txt" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/col/index.html", pem
    httpd.shutdown()


def get(url: str, extra_ca: dict[str, Path] | None = None):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with Fetcher(POL, "test-agent/1.0", extra_ca=extra_ca, network=LOOPBACK) as f:
            return await f.get(url)
    return asyncio.run(main())


def test_unknown_ca_is_refused_by_default(https_site: tuple[str, Path]) -> None:
    url, _ = https_site
    with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
        get(url)


def test_extra_ca_for_that_host_is_trusted(https_site: tuple[str, Path]) -> None:
    url, pem = https_site
    fetched = get(url, {"127.0.0.1": pem})
    assert fetched.status == 200 and "关于公布名单的通知" in fetched.text


def test_extra_ca_for_another_host_does_not_help(https_site: tuple[str, Path]) -> None:
    url, pem = https_site
    with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
        get(url, {"127.0.0.2": pem})


def test_no_code_turns_verification_off() -> None:
    pattern = re.compile(r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context")
    for pkg in ("scraper", "notifier", "config", "db"):
        for path in (ROOT / pkg).rglob("*.py"):
            assert not pattern.search(path.read_text(encoding="utf-8")), path
