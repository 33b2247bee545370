"""The derived metrics (metrics.py, docs/simulator.md "Metrics"): circulating supply, net
inflation over trailing windows, emission and real yield, treasury runway, each against a
figure worked out by hand, on made-up reads and on tiny scenarios run on the model."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from venice_ops.deploy.config import load_config
from venice_ops.sim import Scenario, ScenarioError, simulate
from venice_ops.sim.engine import model_backend
from venice_ops.sim.engine import simulate as run_engine
from venice_ops.sim.metrics import derive, runway_text
from venice_ops.sim.montecarlo import bands, run_seeds
from venice_ops.sim.outputs import summary_table, write_csv
from venice_ops.sim.scenario import parse_scenario

E18 = 10**18
YEAR = 31_536_000


def reads(pending: int = 0, releasable: int = 0, staker_emitted: int = 0) -> dict[str, int]:
    return {
        "pending_rewards": pending,
        "treasury_releasable": releasable,
        "staker_emitted": staker_emitted,
    }


def chain_reads(**changes: int) -> dict[str, int]:
    m = {
        "supply": 1_000,
        "emitted": 0,
        "burned": 0,
        "staked": 300,
        "cooling": 25,
        "buyback_burned": 0,
        "treasury_usdc": 0,
    }
    return {**m, **changes}


def test_circulating_supply_adds_the_owed_vvv_and_the_liquid_part_leaves_the_stake_out():
    out = derive([], 0, chain_reads(), reads(pending=20, releasable=5), 0, 0)
    assert out["circulating_supply"] == 1_025  # 1,000 minted + 20 pending + 5 releasable
    assert out["circulating_liquid"] == 700  # 1,025 - 300 staked - 25 cooling


def test_net_inflation_counts_the_trailing_window_and_from_the_deploy_while_younger():
    # 40 days of 10 emitted and 4 burned a day: net +6 a day
    rows: list[dict[str, int]] = []
    for day in range(40):
        m = chain_reads(emitted=10 * (day + 1), burned=4 * (day + 1), supply=36_500)
        rows.append(derive(rows, day, m, reads(), 0, 0))
    assert rows[9]["net_inflation_30d"] == 60  # 10 days since the deploy
    assert rows[39]["net_inflation_30d"] == 180  # 30 days x 6
    assert rows[39]["net_inflation_365d"] == 240  # the whole run: 40 x 6
    # 180 over 30 days is 2,190 a year, over 36,500 circulating: 6%
    assert rows[39]["net_inflation_rate_30d"] == pytest.approx(0.06)
    assert rows[9]["net_inflation_rate_30d"] == pytest.approx(0.06)  # 60 over 10 days
    burns = [derive([], 0, chain_reads(emitted=5, burned=9), reads(), 0, 0)]
    assert burns[0]["net_inflation_30d"] == -4  # more burned than emitted: deflation


def test_real_yield_is_revenue_burns_over_circulating_and_emission_yield_stakers_pay():
    rows: list[dict[str, int]] = []
    for day in range(31):
        m = chain_reads(supply=36_500, staked=7_300, buyback_burned=10 * (day + 1))
        rows.append(derive(rows, day, m, reads(staker_emitted=20 * (day + 1)), 0, 0))
    last = rows[30]
    # 300 burned by buybacks in 30 days: 3,650 a year over 36,500 circulating
    assert last["real_yield_30d"] == pytest.approx(0.10)
    # 600 paid to stakers in 30 days: 7,300 a year over 7,300 staked
    assert last["emission_yield_30d"] == pytest.approx(1.0)
    nothing = derive([], 0, chain_reads(staked=0), reads(), 0, 0)
    assert nothing["emission_yield_30d"] == 0.0 and nothing["real_yield_30d"] == 0.0


def test_runway_is_the_treasury_value_over_the_spend_and_infinite_without_one():
    m = chain_reads(treasury_usdc=2_000 * 10**6)
    out = derive([], 0, m, reads(), 1_000 * 10**6, 500 * 10**6)
    assert out["treasury_value"] == 3_000 * 10**6  # 2,000 USDC + 1,000 for its VVV
    assert out["treasury_runway_days"] == 6.0
    assert math.isinf(derive([], 0, m, reads(), 0, 0)["treasury_runway_days"])
    assert runway_text(math.inf) == "infinite (no spend)"
    assert runway_text(730.0) == "730 days (2.0 years)"


TINY = """
name: tiny
days: 45
seed: 3
agents:
  - {kind: staker, count: 2, behaviour: hold, wealth: 1_000_000, every: 1}
utilization: 0.5
events:
  - {day: 0, annual_rate: 10_000_000}
"""


@pytest.fixture(scope="module")
def tiny_run():
    config = load_config()
    scenario = parse_scenario(TINY, "tiny.yaml")
    return run_engine(scenario, model_backend(scenario, config), config), config


def test_a_run_without_burns_nets_thirty_days_of_the_rate_exactly(tiny_run):
    run, _ = tiny_run
    per_second = 10_000_000 * E18 // YEAR
    day = run.rows[40]
    assert day["burned"] == 0
    assert day["net_inflation_30d"] == 30 * 86_400 * per_second  # closes are 30 days apart
    assert day["net_inflation_365d"] == day["emitted"]  # the run is younger than a year
    assert day["net_inflation_rate_30d"] == pytest.approx(
        30 * 86_400 * per_second * 365 / 30 / day["circulating_supply"]
    )
    # stakers who never claim: their stake does not move, so the emission yield is the APR
    assert day["staked"] == 2_000_000 * E18 and day["staking_apr"] > 0
    assert day["emission_yield_30d"] == pytest.approx(day["staking_apr"], rel=1e-6)
    assert day["real_yield_30d"] == 0.0  # no revenue, no buyback


def test_circulating_supply_is_genesis_plus_emitted_minus_burned_to_a_few_wei(tiny_run):
    run, config = tiny_run
    genesis = sum(g.amount for g in config.genesis)
    b = run.backend
    last = run.rows[-1]
    # the same figure from each staker's own pending rewards, read one by one
    pending = sum(b.pending(a.address) for a in run.agents)
    releasable = b.system.staking.treasury_releasable(b.clock)
    assert pending > 0 and releasable > 0
    assert last["circulating_supply"] == last["supply"] + pending + releasable
    assert last["circulating_liquid"] == last["circulating_supply"] - last["staked"]

    # Every VVV emitted since the stake on day 0 is minted or owed: the gap to genesis +
    # emitted - burned (the emissions before anything was staked, which nobody earns) stays
    # put, but for the wei the per-account rounding leaves.
    def gap(row: dict[str, int]) -> int:
        return genesis + row["emitted"] - row["burned"] - row["circulating_supply"]

    assert gap(run.rows[0]) > 0
    for row in run.rows[1:]:
        assert 0 <= gap(row) - gap(run.rows[0]) < 10**9


def test_the_spend_is_a_checked_scenario_field_and_the_runway_follows_it():
    with pytest.raises(ScenarioError, match=r"tiny\.yaml:\d+: treasury_spend: .*greater than"):
        parse_scenario(TINY + "treasury_spend: -5\n", "tiny.yaml")
    scenario = parse_scenario(TINY + "treasury_spend: 1e3\n", "tiny.yaml")
    assert scenario.treasury_spend == 1_000
    df = simulate(scenario.with_overrides(days=3))
    value = df["treasury_value_usdc"]
    assert (value > 0).all()
    assert df["treasury_runway_days"].tolist() == pytest.approx((value / 1_000).tolist())
    free = simulate(Scenario.from_dict({**scenario.model_dump(), "treasury_spend": 0, "days": 2}))
    assert free["treasury_runway_days"].map(math.isinf).all()


def test_the_metrics_reach_the_csv_the_frame_the_summary_and_the_bands(tiny_run, tmp_path):
    run, config = tiny_run
    path = write_csv(run.rows, tmp_path / "tiny.csv")
    df = pd.read_csv(path)
    for column in ("circulating_supply", "net_inflation_rate_365d", "real_yield_30d"):
        assert column in df.columns
    assert str(df["treasury_runway_days"].iloc[0]) == "inf"
    last = run.rows[-1]
    assert df["circulating_supply"].iloc[-1] == pytest.approx(last["circulating_supply"] / E18)
    rendered = str(summary_table(run, 1.0).columns[2]._cells)
    assert "infinite (no spend)" in rendered
    outcomes = run_seeds(run.scenario.with_overrides(days=5), config, runs=3)
    day = bands(outcomes)[-1]
    values = sorted(o.rows[-1]["circulating_supply"] for o in outcomes)
    assert [day[f"circulating_supply_p{p}"] for p in (5, 50, 95)] == values
    assert math.isinf(day["treasury_runway_days_p50"])
