"""Benchmark of the gateway: `ape run bench_gateway [--seconds 5] [--streams 200]`.

The benchmark is `venice_ops/bench/gateway.py`.
"""

from venice_ops.bench.gateway import cli

__all__ = ["cli"]
