"""Gas targets hold, stay the same whatever the number of stakers and minters, and no figure
rises more than 2% above the committed snapshot (`gas-snapshot.json`).

The figures are receipt gas on Anvil, deterministic for a given state, measured once per run
(the module's fixtures) and checked by every test here; `ape run bench_gas` prints them
beside the anchors, and `ape run bench_gas --update-snapshot` rewrites the snapshot.
"""

from __future__ import annotations

import pytest

from tests.support.reports import GAS_REPORT
from venice_ops.bench import gas as bench


@pytest.fixture(scope="module")
def pool_figures(chain) -> tuple[dict[str, int], dict[str, int]]:
    """The staking and DIEM figures with 1 and with 60 prior stakers."""
    snapshot = chain.snapshot()
    small = bench.measure(prior_stakers=1, runs=bench.SNAPSHOT_RUNS)
    chain.restore(snapshot)
    snapshot = chain.snapshot()
    large = bench.measure(prior_stakers=60, runs=bench.SNAPSHOT_RUNS)
    chain.restore(snapshot)
    return small, large


@pytest.fixture(scope="module")
def value_figures(chain) -> dict[str, int]:
    snapshot = chain.snapshot()
    try:
        return bench.measure_value_capture(
            bench.fresh_suite(), runs=bench.SNAPSHOT_VALUE_RUNS, claims=bench.SNAPSHOT_CLAIMS
        )
    finally:
        chain.restore(snapshot)


def test_gas__within_targets_and_independent_of_pool_size(pool_figures):
    small, large = pool_figures
    for name, target in bench.TARGETS.items():
        assert small[name] <= target.target, f"{name}: {small[name]} > {target.target}"
        assert large[name] == small[name], f"{name}: {large[name]} != {small[name]}"


def test_gas__value_capture_within_targets(value_figures):
    for name, target in bench.VALUE_TARGETS.items():
        gas = value_figures[name]
        assert gas <= target.target, f"{name}: {gas} > {target.target}"
    for name in bench.VALUE_EXTRAS:
        assert value_figures[name] > 0


def test_gas__no_regression_above_the_snapshot(pool_figures, value_figures, request):
    figures = {**pool_figures[0], **value_figures}
    snapshot = bench.read_snapshot()
    rows = bench.compare_with_snapshot(figures, snapshot)
    stale = sorted(set(snapshot) - set(figures))
    report = bench.snapshot_report(rows, stale)
    # Shown after the run by tests/conftest.py, pass or fail.
    request.config.stash[GAS_REPORT] = report
    failing = [r.operation for r in rows if r.regressed] + stale
    assert not failing, "\n".join(report)


def test_snapshot_compare__fails_above_two_percent_and_reports_improvements():
    rows = bench.compare_with_snapshot(
        {"at limit": 1_020, "above": 1_021, "lower": 900, "new op": 5},
        {"at limit": 1_000, "above": 1_000, "lower": 1_000, "gone": 7},
    )
    assert [r.operation for r in rows if r.regressed] == ["above", "new op"]
    assert [r.operation for r in rows if r.improved] == ["lower"]
    report = "\n".join(bench.snapshot_report(rows, ["gone"]))
    assert "REGRESSION: above: 1,000 -> 1,021 (+2.10%)" in report
    assert "improved: lower: 1,000 -> 900 (-10.00%); lower the snapshot with" in report
    assert "NOT IN SNAPSHOT: new op" in report and "STALE: gone" in report
    # Each figure against the transfer floor: 1,021 / 33,388.
    assert f"{1_021 / bench.TRANSFER_FLOOR:.3f}" in report
