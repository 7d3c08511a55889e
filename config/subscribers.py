"""``[[subscribers]]``: channels and filters."""

from __future__ import annotations

import base64
import dataclasses
import re
from typing import Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.node import NAME_RE, ConfigError, Node, http_url
from config.secrets import Secret
from config.settings import Channel, Filters, Source, Subscriber


CHANNEL_KINDS = ("email", "webhook", "console", "dingtalk", "wecom", "feishu", "slack")
CHAT_KINDS = ("dingtalk", "wecom", "feishu", "slack")  # group bots: url (+ signing secret for dingtalk, feishu)
EVENT_TYPES = ("announcement.new", "new_batch", "stage_advanced", "selections_added", "list_changed",
               "announcement_revised", "attachment_replaced", "source.failing", "source.recovered", "delivery.dead")


_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


LEVELS = ("national", "provincial", "municipal", "county")
STAGES = ("call", "notice", "final", "revocation", "evaluation", "other")


def _filters(n: Node | None, sources: tuple[Source, ...], programs: frozenset[str]) -> Filters:
    if n is None:
        return Filters()
    srcs = _known(n, "sources", {s.name for s in sources}, "no source named {!r}")
    types = _known(n, "event_types", set(EVENT_TYPES), "unknown event type {!r} (known: " + ", ".join(EVENT_TYPES) + ")")
    progs = _known(n, "programs", programs, "unknown program {!r} (see config/programs.toml or add [[programs]])")
    levels = _known(n, "levels", set(LEVELS), "unknown level {!r} (known: " + ", ".join(LEVELS) + ")")
    stages = _known(n, "stages", set(STAGES), "unknown stage {!r} (known: " + ", ".join(STAGES) + ")")
    out = Filters(sources=srcs, keywords=n.strings("keywords"), event_types=types, programs=progs, levels=levels,
                  stages=stages, regions=n.strings("regions"), entities=n.strings("entities"))
    n.done()
    return out


def _known(n: Node, key: str, allowed: set[str] | frozenset[str], problem: str) -> tuple[str, ...]:
    values = n.strings(key)
    for i, v in enumerate(values):
        if v not in allowed:
            raise ConfigError(n.file, f"{n.path}.{key}[{i}]", problem.format(v))
    return values


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


def subscriber(n: Node, environ: Mapping[str, str], sources: tuple[Source, ...],
               programs: frozenset[str] = frozenset(), timezone: str = "Asia/Shanghai") -> Subscriber:
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
    mode = n.choice("mode", ("instant", "digest"), "instant")
    digest_at = n.get("digest_at", str, "08:30")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", digest_at):
        raise n.err("digest_at", f"expected HH:MM (24-hour), got {digest_at!r}")
    tz = n.get("timezone", str, timezone)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise n.err("timezone", f"unknown time zone {tz!r}") from None
    unsub = n.get("list_unsubscribe", str)
    if unsub is not None and (not re.match(r"^(mailto:|https://)", unsub) or any(ord(c) < 32 for c in unsub)):
        raise n.err("list_unsubscribe", "must be a mailto: or https: URL")
    out = Subscriber(name=name, channels=channels, filters=_filters(n.table("filters"), sources, programs),
                     operator=n.get("operator", bool, False), mode=mode, digest_at=digest_at, timezone=tz,
                     list_unsubscribe=unsub)
    n.done()
    return out
