"""Benchmark of the sidecar: `ape run bench_sidecar [--seconds 5] [--connections 16]`.

The benchmark is `venice_ops/bench/sidecar.py`.
"""

from venice_ops.bench.sidecar import cli

__all__ = ["cli"]
