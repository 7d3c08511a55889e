"""Child entry point for tests/test_crash.py: the restart after a crash.

``python tests/crash_child.py CONFIG`` runs one ``run --once --all`` (check every source, then
deliver), exactly what ``python -m scraper run --once --all`` does. With ``--after-lease`` it
then runs the relay once more with its clock set past the relay's lease, as the daemon would an
hour later: deliveries that a killed relay left in ``sending`` are claimed again and finished.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

import config
from db import open_db
from notifier.relay import LEASE_SECONDS, relay_once
from scraper.runner import run_once
from scraper.timeutil import utcnow


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("config")
    p.add_argument("--after-lease", action="store_true")
    args = p.parse_args()
    settings = config.load(args.config)
    db = open_db(settings.database)
    report = asyncio.run(run_once(settings, db, force=True))
    for r in report.results:
        print(r)
    print(f"deliveries: {report.deliveries}")
    if args.after_lease:
        later = utcnow() + timedelta(seconds=LEASE_SECONDS + 60)
        print(f"after the lease: {asyncio.run(relay_once(settings, db, now=later))}")


if __name__ == "__main__":
    main()
