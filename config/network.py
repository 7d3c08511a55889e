"""``[network]``: which non-public addresses clusterwatch may connect to.

    [network]
    allow = ["127.0.0.1", "10.20.0.0/16", "intranet-relay.example.org"]

By default every outbound connection — list pages, detail pages, attachments, redirects, robots.txt,
webhooks and chat bots — must go to a public address: loopback, private, link-local, CGNAT,
multicast, reserved and other non-global addresses are refused at connect time (scraper.netguard).
``allow`` names the exceptions: IP addresses, networks in CIDR form, or host names (exact, any
address they resolve to is then accepted). The SMTP server is configured by the operator and is not
subject to this list.
"""

from __future__ import annotations

import ipaddress
import re

from config.node import ConfigError, Node
from config.settings import Network

_HOST = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?$")


def network_settings(n: Node | None) -> Network:
    """Read ``[network]``; the secure default (nothing private allowed) when absent."""
    if n is None:
        return Network()
    raw = n.strings("allow")
    n.done()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    hosts: list[str] = []
    for i, item in enumerate(raw):
        where = f"{n._join('allow')}[{i}]"
        try:
            networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = item.lower().rstrip(".")
        if "/" in item or not _HOST.match(name) or name.replace(".", "").isdigit():
            raise ConfigError(n.file, where, f"{item!r} is neither an IP address, a network (CIDR) nor a host name")
        hosts.append(name)
    return Network(allow_networks=tuple(networks), allow_hosts=tuple(hosts))
