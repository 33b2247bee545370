"""Gas targets hold, and stay the same whatever the number of stakers and minters.

The figures are receipt gas on Anvil, deterministic for a given state; `ape run bench_gas`
prints them beside the anchors.
"""

from __future__ import annotations

from scripts._lib.gas import TARGETS, measure


def test_gas__within_targets_and_independent_of_pool_size(chain):
    snapshot = chain.snapshot()
    small = measure(prior_stakers=1, runs=2)
    chain.restore(snapshot)
    large = measure(prior_stakers=60, runs=2)
    for name, target in TARGETS.items():
        assert small[name] <= target.target, f"{name}: {small[name]} > {target.target}"
        assert large[name] == small[name], f"{name}: {large[name]} != {small[name]}"


def test_gas__value_capture_within_targets(chain, suite):
    from scripts._lib.gas import VALUE_EXTRAS, VALUE_TARGETS, measure_value_capture

    snapshot = chain.snapshot()
    try:
        figures = measure_value_capture(suite, runs=3, claims=500)
    finally:
        chain.restore(snapshot)
    for name, target in VALUE_TARGETS.items():
        assert figures[name] <= target.target, f"{name}: {figures[name]} > {target.target}"
    for name in VALUE_EXTRAS:
        assert figures[name] > 0
