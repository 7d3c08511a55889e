"""Superseded by ``python -m bench.cycle`` (see bench/README.md); kept so old commands still work.

    python bench/bench_cycle.py --sources 50   ==   python -m bench.cycle --sources 50
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cycle import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
