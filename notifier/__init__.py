"""Turn events into deliveries and send them: email, webhook, console."""

from notifier.base import Message, Notifier, NotifyError, PermanentError, Target, TransientError
from notifier.relay import RelayReport, relay_once
from notifier.routing import delivery_key, plan

__all__ = [
    "Message",
    "Notifier",
    "NotifyError",
    "PermanentError",
    "RelayReport",
    "Target",
    "TransientError",
    "delivery_key",
    "plan",
    "relay_once",
]
