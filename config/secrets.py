"""A string that never shows itself in reprs, logs or error messages."""

from __future__ import annotations


class Secret:
    __slots__ = ("_value", "env")

    def __init__(self, value: str, env: str):
        self._value = value
        self.env = env  # the environment variable it came from (safe to show)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(from ${self.env})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
