"""Benchmark of venice_sdk's entitlement reads on a local Anvil: `ape run bench_sdk`.

The benchmark is `venice_ops/bench/sdk.py`.
"""

from venice_ops.bench.sdk import cli

__all__ = ["cli"]
