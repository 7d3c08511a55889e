"""The notifier interface and its registry.

A notifier declares ``kind`` and implements ``send(target, message)``. It raises

    NotifyError
     +-- TransientError   try again later (honouring retry_after when given)
     +-- PermanentError   never retry this delivery; it becomes ``dead``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping


class NotifyError(Exception):
    pass


class TransientError(NotifyError):
    """``target_down``: the server could not be reached at all, so other deliveries
    to it are postponed rather than each waiting for its own timeout."""

    def __init__(self, message: str, retry_after: float | None = None, *, target_down: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.target_down = target_down


class PermanentError(NotifyError):
    """``disable``: the receiver asked us to stop using this endpoint (HTTP 410 Gone)."""

    def __init__(self, message: str, *, disable: bool = False):
        super().__init__(message)
        self.disable = disable


@dataclass(frozen=True)
class Message:
    """One rendered alert, ready for any channel."""

    key: str  # idempotency key: webhook-id, Message-ID local part
    subject: str
    text: str
    html: str
    json_body: bytes  # the webhook body, byte-identical on every attempt
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False)  # the event payload (chat channels)
    list_unsubscribe: str | None = None  # the subscriber's List-Unsubscribe header (email)


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the channel config plus, for email, the one recipient."""

    kind: str
    address: str | None = None  # email recipient
    url: str | None = None  # webhook endpoint
    secrets: tuple[str, ...] = field(default=(), repr=False)  # whsec_ signing secrets, revealed only here


class Notifier:
    kind: ClassVar[str]
    registry: ClassVar[dict[str, type["Notifier"]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        Notifier.registry[cls.kind] = cls

    async def send(self, target: Target, message: Message) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None
