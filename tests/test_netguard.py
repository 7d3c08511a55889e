"""The SSRF guard: refused addresses, connect-time checks after DNS, and the pipeline and notifiers
going through it. No test sends a byte to a private address: refusals are asserted at httpcore's
socket layer (every connection attempt is recorded) and on the local servers that would have been
hit."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from pathlib import Path
from typing import Any, Iterator

import httpcore
import pytest

import config
from db import open_db
from notifier.base import Message, PermanentError, Target
from notifier.slack import SlackNotifier
from notifier.webhook import WebhookNotifier
from scraper.errors import Refused
from scraper.fetch import Fetcher
from scraper.netguard import GuardedBackend, Policy, embedded_ipv4, refusal
from scraper.runner import run_once
from tests.conftest import LOOPBACK
from tests.servers.http import FixtureServer, Resp
from tests.test_pipeline import detail_page, list_page

POL = config.Politeness(delay=0, retries=0, timeout=5)
UA = "clusterwatch-test"


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "::1", "10.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1",
    "169.254.169.254", "100.64.0.1", "100.127.255.254", "0.0.0.0", "::", "224.0.0.1", "239.255.255.250",
    "255.255.255.255", "240.0.0.1", "198.18.0.1", "192.0.2.1", "fe80::1", "fd12:3456::1", "ff02::1",
    "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "2002:0a00:0001::1",                         # 6to4 wrapping 10.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",      # Teredo whose client is 10.0.0.1
    "64:ff9b::a9fe:a9fe",                        # NAT64 of 169.254.169.254
    "2001:db8::1", "3fff::1",
])
def test_non_public_addresses_are_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert refusal(ip) is not None
    with pytest.raises(Refused, match="not in \\[network\\] allow"):
        Policy().check("x.example", ip)


@pytest.mark.parametrize("address", ["8.8.8.8", "223.5.5.5", "2400:3200::1", "::ffff:8.8.8.8", "64:ff9b::808:808",
                                     "2002:0808:0808::1"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None
    Policy().check("x.example", ipaddress.ip_address(address))


def test_embedded_ipv4_is_found() -> None:
    assert str(embedded_ipv4(ipaddress.ip_address("::ffff:10.0.0.1"))) == "10.0.0.1"
    assert str(embedded_ipv4(ipaddress.ip_address("2002:0a00:0001::1"))) == "10.0.0.1"
    assert embedded_ipv4(ipaddress.ip_address("10.0.0.1")) is None


def test_the_allow_list_admits_exactly_what_it_names() -> None:
    policy = Policy.from_settings(config.Network(allow_networks=(ipaddress.ip_network("10.20.0.0/16"),),
                                                 allow_hosts=("relay.intranet",)))
    policy.check("a", ipaddress.ip_address("10.20.3.4"))
    policy.check("a", ipaddress.ip_address("::ffff:10.20.3.4"))  # the mapped form of an allowed address
    with pytest.raises(Refused):
        policy.check("a", ipaddress.ip_address("10.21.0.1"))
    assert policy.host_allowed("Relay.Intranet.") and not policy.host_allowed("relay.intranet.evil.example")


# --- the backend: resolve once, check every record, connect to a checked address -------------------

class Recorder(httpcore.AsyncNetworkBackend):
    """Stands in for the socket layer: records each connection attempt and never makes one."""

    def __init__(self) -> None:
        self.connects: list[str] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> Any:
        self.connects.append(host)
        raise httpcore.ConnectError("recorder: not connecting anywhere")

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - unused
        await asyncio.sleep(seconds)


def connect(backend: GuardedBackend, host: str) -> None:
    asyncio.run(backend.connect_tcp(host, 443, timeout=5))


def test_one_private_record_among_public_ones_refuses_the_name() -> None:
    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["93.184.216.34", "10.0.0.1"]

    rec = Recorder()
    with pytest.raises(Refused, match=r"rebind.example \(10.0.0.1\): a private address"):
        connect(GuardedBackend(Policy(), rec, resolver), "rebind.example")
    assert asked == ["rebind.example"] and rec.connects == []


def test_dns_rebinding_cannot_slip_between_check_and_connect() -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # public when checked, loopback if asked again

    async def resolver(host: str, port: int) -> list[str]:
        return next(answers)

    rec = Recorder()
    with pytest.raises(httpcore.ConnectError, match="recorder"):
        connect(GuardedBackend(Policy(), rec, resolver), "rebind.example")
    assert rec.connects == ["93.184.216.34"]  # the checked address, never the name (no second lookup)


def test_literal_private_addresses_are_refused_without_a_lookup() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        raise AssertionError("no lookup for a literal address")

    rec = Recorder()
    for host in ("10.0.0.1", "::ffff:127.0.0.1", "[::1]", "169.254.169.254"):
        with pytest.raises(Refused):
            connect(GuardedBackend(Policy(), rec, resolver), host)
    assert rec.connects == []


def test_an_allowed_host_name_is_connected_by_name() -> None:
    rec = Recorder()
    policy = Policy(allow_hosts=frozenset({"relay.intranet"}))
    with pytest.raises(httpcore.ConnectError):
        connect(GuardedBackend(policy, rec), "relay.intranet")
    assert rec.connects == ["relay.intranet"]


def test_an_unresolvable_name_is_an_ordinary_connect_error() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    with pytest.raises(httpcore.ConnectError, match="cannot resolve nowhere.invalid"):
        connect(GuardedBackend(Policy(), Recorder(), resolver), "nowhere.invalid")


# --- the real clients ---------------------------------------------------------------------------------

@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Every TCP connection httpcore opens, as (host, port): the socket layer under every client."""
    seen: list[tuple[str, int]] = []
    real = httpcore.AnyIOBackend.connect_tcp

    async def spy(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        seen.append((host, port))
        return await real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", spy)
    yield seen


def fetch(url: str, network: config.Network | Policy = config.Network()) -> Any:
    async def go() -> Any:
        async with Fetcher(POL, UA, network=network) as f:
            return await f.get(url, obey_robots=False)
    return asyncio.run(go())


def test_fetching_loopback_is_refused_by_default_and_allowed_by_the_list(
        site: FixtureServer, sockets: list[tuple[str, int]]) -> None:
    site.routes["/p"] = Resp(200, "<html><body><a href='/x'>正文链接</a> 内容</body></html>")
    with pytest.raises(Refused, match=rf"{site.url('/p')}: refused to connect to 127.0.0.1: a loopback address"):
        fetch(site.url("/p"))
    assert sockets == [] and site.requests == []
    assert fetch(site.url("/p"), LOOPBACK).status == 200
    assert sockets == [("127.0.0.1", site.port)]


def test_a_redirect_to_loopback_is_refused(sockets: list[tuple[str, int]], site: FixtureServer) -> None:
    public = FixtureServer("127.0.0.2")  # stands for a public site: only it is allowed
    try:
        public.routes["/go"] = Resp(302, "", headers={"Location": site.url("/secret")})
        site.routes["/secret"] = Resp(200, "<html>secret</html>")
        allow = config.Network(allow_networks=(ipaddress.ip_network("127.0.0.2/32"),))
        with pytest.raises(Refused, match="refused to connect to 127.0.0.1: a loopback address"):
            fetch(public.url("/go"), allow)
        assert [r.path for r in public.requests] == ["/go"]
        assert site.requests == [] and ("127.0.0.1", site.port) not in sockets
    finally:
        public.close()


@pytest.mark.parametrize("url", ["http://127.0.0.2:1\\@example.org/", "http://user@127.0.0.2/", "file:///etc/passwd",
                                 "ftp://127.0.0.2/x", "gopher://127.0.0.2:70/"])
def test_odd_urls_are_refused_before_any_connection(url: str, sockets: list[tuple[str, int]]) -> None:
    from scraper.errors import FetchError

    with pytest.raises(FetchError):
        fetch(url, LOOPBACK)
    assert sockets == []


def test_proxy_variables_are_ignored(site: FixtureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = FixtureServer()
    try:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy.base)
        site.routes["/p"] = Resp(200, "<html><body>直连内容页面</body></html>")
        assert fetch(site.url("/p"), LOOPBACK).status == 200
        target = Target(kind="webhook", url=site.url("/hook"), secrets=("whsec_" + "A" * 32,))
        site.routes["/hook"] = Resp(204, "")
        asyncio.run(_send(WebhookNotifier(network=LOOPBACK), target))
        assert proxy.requests == [] and [r.path for r in site.requests] == ["/p", "/hook"]
    finally:
        proxy.close()


MESSAGE = Message(key="msg_" + "0" * 32, subject="s", text="t", html="<p>t</p>", json_body=b"{}")


async def _send(notifier: Any, target: Target) -> None:
    try:
        await notifier.send(target, MESSAGE)
    finally:
        await notifier.aclose()


def test_a_webhook_into_a_private_network_is_dead_not_retried(site: FixtureServer,
                                                              sockets: list[tuple[str, int]]) -> None:
    target = Target(kind="webhook", url=site.url("/hook"), secrets=("whsec_" + "A" * 32,))
    with pytest.raises(PermanentError, match="webhook: refused to connect to 127.0.0.1: a loopback address"):
        asyncio.run(_send(WebhookNotifier(), target))
    target = Target(kind="webhook", url="http://169.254.169.254/latest/meta-data/", secrets=("whsec_" + "A" * 32,))
    with pytest.raises(PermanentError, match="169.254.169.254: a link-local address"):
        asyncio.run(_send(WebhookNotifier(), target))
    assert site.requests == [] and sockets == []


def test_a_chat_bot_url_into_a_private_network_is_refused(sockets: list[tuple[str, int]]) -> None:
    target = Target(kind="slack", url="http://10.0.0.1/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX")
    with pytest.raises(PermanentError, match="refused to connect to 10.0.0.1: a private address") as info:
        asyncio.run(_send(SlackNotifier(), target))
    assert "XXXXXXXX" not in str(info.value)  # the bot token stays hidden
    assert sockets == []


# --- the pipeline: a public list page leading into a private network ----------------------------------

def test_a_list_page_cannot_lead_the_scraper_into_the_private_network(
        tmp_path: Path, site: FixtureServer, sockets: list[tuple[str, int]],
        caplog: pytest.LogCaptureFixture) -> None:
    public = FixtureServer("127.0.0.2")  # the "public" bureau site; only it is allowed
    try:
        lst = "/col/col1229399350/index.html"
        old = ("/art/2026/11/1/art_1.html", "关于公布2025年度嘉兴市小微企业园名单的通知", "2026-11-01")
        public.routes[lst] = Resp(200, list_page([old]))
        public.routes[old[0]] = Resp(200, detail_page(old[1], old[2]))
        cfg = tmp_path / "cw.toml"
        cfg.write_text(f'''database = "cw.db"
network = {{ allow = ["127.0.0.2"] }}
[politeness]
delay = 0
retries = 0
timeout = 5
[[sources]]
name = "jxj"
url = "{public.url(lst)}"
[sources.selectors]
item = "ul.news-list > li"
date = "span.date"
[[subscribers]]
name = "desk"
[[subscribers.channels]]
kind = "console"
''', encoding="utf-8")
        settings = config.load(cfg, environ=dict(os.environ))
        db = open_db(settings.database)
        asyncio.run(run_once(settings, db, force=True))  # the baseline
        # Then the page links one notice into 10.0.0.1 and one detail page carries an attachment on
        # loopback (the other local server), and one notice redirects there.
        into_lan = ("http://10.0.0.1/art/2026/11/30/art_2.html", "关于公布2026年浙江省中小企业特色产业集群（第二批）名单的通知",
                    "2026-11-30")
        redirected = ("/art/2026/11/29/art_3.html", "关于公示2026年嘉兴市专精特新中小企业名单的通知", "2026-11-29")
        with_attachment = ("/art/2026/11/28/art_4.html", "关于公布2026年嘉兴市专精特新中小企业名单的通知", "2026-11-28")
        public.routes[lst] = Resp(200, list_page([into_lan, redirected, with_attachment, old]))
        public.routes[redirected[0]] = Resp(302, "", headers={"Location": site.url("/admin")})
        page = detail_page(with_attachment[1], with_attachment[2]).replace(
            "/module/download/downfile.jsp?classid=0&amp;filename=3f2b9c1d7e8a4b6c9d0e1f2a3b4c5d6e.pdf",
            site.url("/internal/list.xlsx"))
        public.routes[with_attachment[0]] = Resp(200, page)
        site.routes["/admin"] = Resp(200, "<html>internal admin</html>")
        site.routes["/internal/list.xlsx"] = Resp(200, b"PK\x03\x04")
        with caplog.at_level("WARNING"):
            asyncio.run(run_once(settings, db, force=True))
    finally:
        public.close()
    assert site.requests == []  # nothing on loopback was asked for
    assert all(host == "127.0.0.2" for host, _ in sockets), sockets  # no socket opened to anything else
    titles = {r[0] for r in db.execute("select title from announcements")}
    assert {into_lan[1], redirected[1], with_attachment[1]} <= titles  # all three still announced, from the list
    assert db.execute("select count(*) from events where type = 'announcement.new'").fetchone()[0] == 3
    errors = [r[0] for r in db.execute("select error from fetches where error like '%refused to connect%'")]
    assert any("http://10.0.0.1/art/2026/11/30/art_2.html: refused to connect to 10.0.0.1: a private address" in e
               for e in errors), errors
    assert any("refused to connect to 127.0.0.1: a loopback address" in e for e in errors), errors
    [att_error] = [r[0] for r in db.execute("select error from attachments")]
    assert "refused to connect to 127.0.0.1" in att_error
    assert any("refused to connect to 10.0.0.1" in r.getMessage() for r in caplog.records)  # and logged
