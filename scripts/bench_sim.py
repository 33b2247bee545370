"""Simulator benchmark: the model backend at scale, the chain backend, and their ratio:
`ape run bench_sim`.

The benchmark is `venice_ops/bench/sim.py`.
"""

from venice_ops.bench.sim import cli

__all__ = ["cli"]
