"""Print alerts to standard output, for trying things out."""

from __future__ import annotations

import sys
from typing import TextIO

from notifier.base import Message, Notifier, Target


class ConsoleNotifier(Notifier):
    """Print each alert's subject and text part."""

    kind = "console"

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    async def send(self, target: Target, message: Message) -> None:
        out = self.stream or sys.stdout
        out.write(f"=== {message.subject}\n{message.text}\n")
        out.flush()
