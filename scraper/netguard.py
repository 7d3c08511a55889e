"""The SSRF guard: every outbound connection goes to a public address, checked at connect time.

List pages lead to detail pages, attachments and redirects chosen by strangers; webhook and chat
URLs come from subscribers. Any of them could point into the operator's own network (a cloud
metadata service at 169.254.169.254, an admin panel on 10.0.0.1, a database on 127.0.0.1).

The check sits in the HTTP client's network layer (an httpcore network backend), so no code path can
skip it: the host is resolved once, **every** address it resolves to must be allowed, and the
connection is made to one of those checked addresses — a DNS answer that changes between check and
connect (DNS rebinding) cannot slip through. TLS still verifies the certificate against the host
name, not the address.

Refused: loopback, private, link-local, CGNAT (100.64.0.0/10), multicast, reserved, unspecified,
benchmarking, documentation and anything else Python's ``ipaddress`` does not call global, IPv6
included; and IPv4 addresses embedded in IPv4-mapped (``::ffff:10.0.0.1``), 6to4, Teredo and NAT64
addresses are judged as IPv4. ``[network] allow`` (config/network.py) lists the exceptions.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Sequence

import httpcore
import httpx

from config import Network
from scraper.errors import Refused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_EXTRA_BLOCKED = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15",
    "224.0.0.0/4", "240.0.0.0/4", "64:ff9b:1::/48", "2001:db8::/32", "3fff::/20", "fc00::/7", "fe80::/10",
    "ff00::/8",
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4, Teredo (client) or NAT64 IPv6 address."""
    if ip.version != 6:
        return None
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (``None`` when it is)."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        why = refusal(inner)
        return f"{why} (inside {ip})" if why else None
    for what, flag in (("loopback", ip.is_loopback), ("unspecified", ip.is_unspecified),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if flag:
            return what
    if ip.version == 4 and ip in ipaddress.ip_network("100.64.0.0/10"):
        return "shared (CGNAT)"
    if any(ip.version == n.version and ip in n for n in _EXTRA_BLOCKED) or not ip.is_global:
        return "non-public"
    return None


@dataclass(frozen=True)
class Policy:
    """Public addresses, plus the operator's ``[network] allow`` exceptions."""

    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    allow_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, network: Network) -> "Policy":
        return cls(tuple(network.allow_networks), frozenset(network.allow_hosts))

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.allow_hosts

    def check(self, host: str, ip: IPAddress) -> None:
        """Raise :class:`Refused` unless ``ip`` (what ``host`` resolved to) may be connected to."""
        candidates = [ip] + [x for x in (embedded_ipv4(ip),) if x is not None]
        if any(c.version == n.version and c in n for c in candidates for n in self.allow_networks):
            return
        why = refusal(ip)
        if why:
            shown = host if host == str(ip) else f"{host} ({ip})"
            raise Refused(f"refused to connect to {shown}: a {why} address, not in [network] allow")


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """Every address ``host`` resolves to (A and AAAA), in the resolver's order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks every address, then connects to a checked one."""

    def __init__(self, policy: Policy, inner: httpcore.AsyncNetworkBackend | None = None,
                 resolver: Resolver = system_resolver):
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()
        self.resolver = resolver

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        if self.policy.host_allowed(host):
            return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = await self._addresses(host, port, timeout)
        for ip in addresses:  # every record must pass, or a second A record could point inside
            self.policy.check(host, ip)
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self.inner.connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        assert last is not None
        raise last

    async def _addresses(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass
        try:
            async with asyncio.timeout(timeout):
                raw = await self.resolver(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as e:  # socket.gaierror: the name does not resolve
            raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from None
        out = []
        for a in raw:
            try:
                out.append(ipaddress.ip_address(a.split("%", 1)[0]))  # drop an IPv6 zone id
            except ValueError:
                raise Refused(f"refused to connect to {host}: the resolver returned {a!r}") from None
        if not out:
            raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        return out

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise Refused(f"refused to connect to the unix socket {path}")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(network: Network | Policy, *, backend: httpcore.AsyncNetworkBackend | None = None,
                      **kwargs: Any) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection passes the guard. Never reads proxy variables."""
    policy = network if isinstance(network, Policy) else Policy.from_settings(network)
    transport = httpx.AsyncHTTPTransport(trust_env=False, **kwargs)
    # httpx 0.28 (pinned <0.29) builds its httpcore pool without a way to pass a network backend;
    # the pool reads this attribute for every new connection. tests/test_netguard.py proves it is used.
    transport._pool._network_backend = backend or GuardedBackend(policy)
    return transport
