"""The simulator benchmark's Monte Carlo figure (`venice_ops.bench.sim.monte_carlo`), at a
tiny size: the same code `ape run bench_sim` times with 100 runs of the showcase."""

from __future__ import annotations

import re

import pytest

from venice_ops.bench.sim import monte_carlo
from venice_ops.deploy.config import load_config
from venice_ops.sim.scenario import Distribution, load_scenario


def test_monte_carlo_row_counts_runs_and_rates_them(dask_client):
    config = load_config()
    showcase = load_scenario("showcase").with_overrides(days=4)
    row = monte_carlo(showcase, config, 3, 2, client=dask_client)
    assert row[1] == f"3 x {showcase.agent_count} x 4"
    transactions = int(row[2].replace(",", ""))
    assert transactions > 3 * 4  # every run did its daily actions
    with_start = float(row[4].split(" runs/s")[0])
    without = float(re.search(r"\(([\d.,]+) without", row[4]).group(1))  # type: ignore[union-attr]
    assert 0 < with_start <= without


def test_monte_carlo_refuses_a_run_where_every_seed_failed(dask_client):
    config = load_config()
    showcase = load_scenario("showcase")
    rich = showcase.agents[0].model_copy(update={"wealth": Distribution(fixed=1e12)})
    broken = showcase.with_overrides(days=2, agents=[rich])  # more VVV than the deployer has
    with pytest.raises(RuntimeError, match="every run failed"):
        monte_carlo(broken, config, 2, 2, client=dask_client)
