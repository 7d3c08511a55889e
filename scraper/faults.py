"""Fault injection for crash tests: ``CLUSTERWATCH_FAULT=<point>`` makes the process SIGKILL itself there.

Points: ``after_commit`` (events and deliveries committed, nothing sent), ``before_send`` (a delivery
claimed, nothing sent), ``after_send`` (the receiver accepted, not yet marked sent). Unset in normal use.
"""

from __future__ import annotations

import os
import signal

POINTS = ("after_commit", "before_send", "after_send")


def point(name: str) -> None:
    if os.environ.get("CLUSTERWATCH_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
