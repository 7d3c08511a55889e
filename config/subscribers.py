"""``[[subscribers]]``: channels and filters."""

from __future__ import annotations

import base64
import dataclasses
import re
from typing import Callable, Mapping

from config.node import NAME_RE, ConfigError, Node, http_url
from config.secrets import Secret
from config.settings import Channel, Filters, Source, Subscriber


CHANNEL_KINDS = ("email", "webhook", "console", "dingtalk", "wecom", "feishu", "slack")
CHAT_KINDS = ("dingtalk", "wecom", "feishu", "slack")  # group bots: url (+ signing secret for dingtalk, feishu)
EVENT_TYPES = ("announcement.new", "new_batch", "stage_advanced", "selections_added", "list_changed",
               "announcement_revised", "attachment_replaced", "source.failing", "source.recovered", "delivery.dead")


_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def _filters(n: Node | None, sources: tuple[Source, ...]) -> Filters:
    if n is None:
        return Filters()
    known = {s.name for s in sources}
    srcs = n.strings("sources")
    for i, s in enumerate(srcs):
        if s not in known:
            raise ConfigError(n.file, f"{n.path}.sources[{i}]", f"no source named {s!r}")
    types = n.strings("event_types")
    for i, t in enumerate(types):
        if t not in EVENT_TYPES:
            raise ConfigError(n.file, f"{n.path}.event_types[{i}]",
                              f"unknown event type {t!r} (known: {', '.join(EVENT_TYPES)})")
    out = Filters(sources=srcs, keywords=n.strings("keywords"), event_types=types)
    n.done()
    return out


def _channel(n: Node, environ: Mapping[str, str], ordinal: int) -> Channel:
    kind = n.choice("kind", CHANNEL_KINDS, None)
    cid = n.get("id", str)
    if cid is not None and not NAME_RE.match(cid):
        raise n.err("id", "must be 1-64 letters, digits, '-', '_' or '.'")
    builders: dict[str, Callable[[], Channel]] = {
        "email": lambda: _email_channel(n),
        "webhook": lambda: _webhook_channel(n, environ),
        "console": lambda: Channel(kind="console"),
        **{k: (lambda k=k: _chat_channel(n, environ, k)) for k in CHAT_KINDS},
    }
    out = builders[kind]()
    if kind != "email":
        out = dataclasses.replace(out, id=cid or (kind if ordinal == 1 else f"{kind}-{ordinal}"))
    n.done()
    return out


def _chat_channel(n: Node, environ: Mapping[str, str], kind: str) -> Channel:
    """A chat group bot: its webhook URL (it holds the bot's token: keep the config private) and, for
    DingTalk and Feishu, the optional signing secret from an environment variable."""
    url = http_url(n, "url")
    secrets: tuple[Secret, ...] = ()
    if kind in ("dingtalk", "feishu"):
        var = n.get("secret_env", str)
        if var is not None:
            value = environ.get(var)
            if not value:
                raise n.err("secret_env", f"environment variable {var} is not set")
            secrets = (Secret(value, var),)
    return Channel(kind=kind, url=url, secrets=secrets)


def _email_channel(n: Node) -> Channel:
    to = n.strings("to")
    if not to:
        raise n.err("to", "is required: at least one email address")
    for i, addr in enumerate(to):
        if not _EMAIL_RE.match(addr):
            raise ConfigError(n.file, f"{n.path}.to[{i}]", f"not an email address: {addr!r}")
    return Channel(kind="email", to=to)


def _webhook_channel(n: Node, environ: Mapping[str, str]) -> Channel:
    url = http_url(n, "url")
    names = n.strings("secret_env")
    if not names:
        raise n.err("secret_env", "is required: the environment variable holding the whsec_ signing secret")
    secrets = []
    for i, var in enumerate(names):
        where = f"{n.path}.secret_env[{i}]" if len(names) > 1 else f"{n.path}.secret_env"
        value = environ.get(var)
        if not value:
            raise ConfigError(n.file, where, f"environment variable {var} is not set")
        if not _valid_whsec(value):
            raise ConfigError(n.file, where,
                              f"environment variable {var} does not hold a whsec_ secret of 24-64 base64 bytes")
        secrets.append(Secret(value, var))
    return Channel(kind="webhook", url=url, secrets=tuple(secrets))


def _valid_whsec(value: str) -> bool:
    if not value.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except (ValueError, TypeError):
        return False
    return 24 <= len(key) <= 64


def subscriber(n: Node, environ: Mapping[str, str], sources: tuple[Source, ...]) -> Subscriber:
    name = n.get("name", str, required=True)
    if not NAME_RE.match(name):
        raise n.err("name", "must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")
    nodes = n.tables("channels")
    kinds: list[str] = []
    channels = []
    for c in nodes:
        kind = c.data.get("kind")
        kinds.append(kind if isinstance(kind, str) else "")
        channels.append(_channel(c, environ, kinds.count(kinds[-1])))
    if not channels:
        raise n.err("channels", "at least one channel is required")
    ids = [i for c in channels for i in c.ids()]
    for i, cid in enumerate(ids):
        if cid in ids[:i]:
            raise n.err("channels", f"two channels share the id {cid!r}; give one an `id`")
    out = Subscriber(name=name, channels=channels, filters=_filters(n.table("filters"), sources),
                     operator=n.get("operator", bool, False))
    n.done()
    return out
