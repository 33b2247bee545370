"""Debits per second of the credit ledgers: SQLite and Redis, 1 and 8 worker processes.

    python scripts/bench_ledger.py [--seconds 1.5] [--runs 3] [--batch 32]

Plain Python, no ape and no chain; the benchmark is `venice_ops/bench/ledger.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a checkout without an install: import this tree's packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from venice_ops.bench.ledger import main

if __name__ == "__main__":
    main()
