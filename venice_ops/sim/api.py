"""The simulator as a Python API: `Scenario` and `simulate`, returning a pandas DataFrame.

    from venice_ops.sim import Scenario, simulate

    scenario = Scenario.load("showcase").with_({"market.revenue": 50_000})
    df = simulate(scenario, runs=20)                 # seeds 7..26, on this process
    df.groupby("date")["staking_apr"].median()

`simulate` runs `runs` seeds (s..s+runs-1) of the scenario on the model backend, on a Dask
`client` when given (else here), or once on the chain backend (a local Anvil through ape) or
the revm backend (the same contracts, the run in-process on the node's state after setup).
One row per run and day: `run` (0..runs-1), `seed`, `day`, `date` (a pandas Timestamp), then
the daily metrics with their unit in the name (`supply_vvv`, `treasury_usdc`,
`vvv_price_usd`...): floats, or exact `Decimal`s with `exact=True`. The command line
(`ape run simulate`) is a thin layer over the same functions.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from venice_ops.deploy.config import DeployConfig, load_config
from venice_ops.sim.montecarlo import Outcome, outcome_of, run_seeds
from venice_ops.sim.outputs import COLUMNS
from venice_ops.sim.scenario import Scenario, ScenarioError

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

__all__ = ["UNITS", "Scenario", "frame", "outcomes", "simulate"]

# CSV column -> DataFrame column, the unit in the name.
UNITS = {
    "day": "day",
    "date": "date",
    "supply": "supply_vvv",
    "burned": "burned_vvv",
    "emitted": "emitted_vvv",
    "staked": "staked_vvv",
    "locked": "locked_vvv",
    "staking_ratio": "staking_ratio",
    "staking_apr": "staking_apr",
    "annual_rate": "annual_rate_vvv_per_year",
    "staker_share": "staker_share",
    "diem_supply": "diem_supply_diem",
    "mint_rate": "mint_rate_svvv_per_diem",
    "diem_credit": "diem_staked_diem",
    "api_credit": "api_credit_usd_per_day",
    "treasury_vvv": "treasury_vvv",
    "treasury_usdc": "treasury_usdc",
    "utilization": "utilization",
    "revenue": "revenue_usdc",
    "subscribers": "subscribers",
    "buyback_burned": "buyback_burned_vvv",
    "vvv_price": "vvv_price_usd",
    "market_price": "market_price_usd",
    "transactions": "transactions",
    "pending_rewards": "pending_rewards_vvv",
    "treasury_releasable": "treasury_releasable_vvv",
    "circulating_supply": "circulating_supply_vvv",
    "circulating_liquid": "circulating_liquid_vvv",
    "net_inflation_30d": "net_inflation_30d_vvv",
    "net_inflation_365d": "net_inflation_365d_vvv",
    "net_inflation_rate_30d": "net_inflation_rate_30d_per_year",
    "net_inflation_rate_365d": "net_inflation_rate_365d_per_year",
    "emission_yield_30d": "emission_yield_30d_per_year",
    "real_yield_30d": "real_yield_30d_per_year",
    "treasury_value": "treasury_value_usdc",
    "treasury_runway_days": "treasury_runway_days",
}


def _chain_outcome(scenario: Scenario, config: DeployConfig, kind: str) -> Outcome:
    """One run on the real contracts, on a local Anvil (ape's foundry provider); `revm`
    runs the days in-process on the node's state after setup."""
    from ape import accounts, networks

    from venice_ops.sim.runner import chain_backend, execute

    with networks.ethereum.local.use_provider("foundry"):
        backend = chain_backend(config, accounts.test_accounts[0], scenario=scenario, kind=kind)
        result = execute(scenario, backend, config, progress=False)
    return outcome_of(result.run, result.elapsed)


def outcomes(
    scenario: Scenario,
    runs: int = 1,
    backend: Literal["model", "chain", "revm"] = "model",
    client: Client | None = None,
    config: DeployConfig | None = None,
) -> list[Outcome]:
    """The runs themselves (rows as integers, refusals, errors): what `simulate` tabulates."""
    config = config or load_config()
    scenario.check(config.max_annual)
    if runs < 1:
        raise ScenarioError(f"runs must be at least 1, not {runs}")
    if backend in ("chain", "revm"):
        if runs != 1:
            raise ScenarioError(f"the {backend} backend runs one seed at a time: runs=1")
        return [_chain_outcome(scenario, config, backend)]
    if backend != "model":
        raise ScenarioError(f"backend must be 'model', 'chain' or 'revm', not {backend!r}")
    return run_seeds(scenario, config, runs, client)


def frame(results: list[Outcome], exact: bool = False) -> pd.DataFrame:
    """The runs as one DataFrame: run, seed, then the columns of `UNITS`."""
    import pandas as pd

    records: list[dict[str, Any]] = []
    for index, outcome in enumerate(results):
        if outcome.error:
            raise ScenarioError(f"{outcome.scenario} seed {outcome.seed}: {outcome.error}")
        for row in outcome.rows:
            record: dict[str, Any] = {"run": index, "seed": outcome.seed}
            for column, decimals in COLUMNS.items():
                value = row[column]
                if decimals is not None:
                    value = Decimal(value).scaleb(-decimals)
                    value = value if exact else float(value)
                record[UNITS[column]] = value
            records.append(record)
    df = pd.DataFrame.from_records(records, columns=["run", "seed", *UNITS.values()])
    df["date"] = pd.to_datetime(df["date"])
    return df


def simulate(
    scenario: Scenario,
    runs: int = 1,
    backend: Literal["model", "chain", "revm"] = "model",
    client: Client | None = None,
    config: DeployConfig | None = None,
    exact: bool = False,
) -> pd.DataFrame:
    """Run `scenario` `runs` times (seeds s..s+runs-1) and return every day of every run."""
    started = time.perf_counter()
    results = outcomes(scenario, runs, backend, client, config)
    df = frame(results, exact)
    df.attrs["elapsed"] = time.perf_counter() - started
    df.attrs["refused_events"] = [(o.seed, str(e)) for o in results for e in o.refused_events]
    return df
