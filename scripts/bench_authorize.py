"""Benchmark of `Gatekeeper.authorize` end to end: `ape run bench_authorize [--seconds 2]`.

The benchmark is `venice_ops/bench/authorize.py`.
"""

from venice_ops.bench.authorize import cli

__all__ = ["cli"]
