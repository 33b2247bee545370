"""Benchmark of the sidecar under hostile sign-ins: `ape run bench_hostile [--seconds 5]
[--connections 16] [--samples 50]`.

The benchmark is `venice_ops/bench/hostile.py`.
"""

from venice_ops.bench.hostile import cli

__all__ = ["cli"]
