"""The model backend is the chain backend: one 60-day scenario with 24+ agents touching every
contract, run on the real contracts on Anvil (and on the revm backend, the same contracts and
state in-process) and on the pure-Python model from the same state, must agree every day on
every balance, stake, lock, pending reward, DIEM and USDC holding, supply, burned total and
contract total, and the derived metrics (circulating supply, net inflation, yields, runway), to
the wei. So must the showcase in a market (scenarios/market.yaml), its arbitrageur trading the
real Uniswap V2 pool both ways. A run from a fresh deployment is dated from the scenario's
`start:` and its daily rows equal the model backend's, every column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from venice_ops.sim.chain_backend import ChainBackend
from venice_ops.sim.engine import Engine
from venice_ops.sim.metrics import COLUMNS as DERIVED
from venice_ops.sim.revm_backend import RevmBackend
from venice_ops.sim.runner import chain_backend, execute, execute_model
from venice_ops.sim.scenario import load_scenario

SCENARIO = Path(__file__).with_name("equivalence.yaml")
FIELDS = (
    "VVV",
    "USDC",
    "DIEM",
    "staked",
    "locked",
    "outstanding DIEM",
    "cooling",
    "pending rewards",
    "DIEM staked",
    "DIEM cooling",
)


@pytest.fixture
def isolated(chain):
    snapshot = chain.snapshot()
    yield
    chain.restore(snapshot)


def _agree_every_day(scenario, backend):
    """Run `scenario` on `backend` (Anvil or revm) and on the model made from its setup,
    checking every day that they agree to the wei; returns (chain run, model run)."""
    config = backend.config
    chain_engine = Engine(scenario, backend, config)
    chain_run = chain_engine.setup()
    model = chain_engine.b.model(chain_run.holders)
    model_engine = Engine(scenario, model, config)
    model_run = model_engine.setup(fund=False)
    assert model_run.day0 == chain_run.day0

    for day in range(scenario.days):
        on_chain = chain_engine.step(chain_run, day)
        in_model = model_engine.step(model_run, day)
        assert model.clock == chain_engine.b.clock, f"day {day}: clocks apart"
        chain_metrics, model_metrics = chain_engine.b.metrics(), model.metrics()
        for key, value in chain_metrics.items():
            assert model_metrics[key] == value, (
                f"day {day}: {key} chain {value} model {model_metrics[key]}"
            )
        addresses = [a.address for a in chain_run.agents]
        chain_reads = chain_engine.b.supply_reads(addresses)
        assert model.supply_reads(addresses) == chain_reads, f"day {day}: supply reads differ"
        for column in DERIVED:  # circulating supply, net inflation, yields, runway
            assert on_chain[column] == in_model[column], (
                f"day {day}: {column} chain {on_chain[column]} model {in_model[column]}"
            )
        chain_states = chain_engine.b.account_states(addresses)
        for agent in chain_run.agents:
            want, got = chain_states[agent.address], model.account_state(agent.address)
            for name, w, g in zip(FIELDS, want, got, strict=True):
                assert g == w, (
                    f"day {day}: agent {agent.index} ({agent.kind}) {name}: chain {w} model {g}"
                )
        # The chain counts its setup transactions too; every figure of the day agrees.
        on_chain.pop("transactions"), in_model.pop("transactions")
        assert on_chain == in_model, f"day {day}: daily rows differ"
    return chain_run, model_run


@pytest.mark.parametrize("backend", [ChainBackend, RevmBackend])
def test_model_and_chain_agree_every_day_to_the_wei(isolated, suite, owner, config, backend):
    scenario = load_scenario(SCENARIO)
    assert scenario.days >= 60 and scenario.agent_count >= 20
    chain_run, model_run = _agree_every_day(scenario, backend(suite, config, owner))

    # The run did what the scenario says: every kind of action happened and none was refused
    # on one backend but not the other.
    assert chain_run.failures == model_run.failures
    assert chain_run.refused_events == model_run.refused_events
    assert chain_run.actions == model_run.actions
    for kind in (
        "stake",
        "compound",
        "claim",
        "sell",
        "unstake",
        "finalize",
        "mint DIEM",
        "stake DIEM",
        "DIEM sold",
        "subscribe",
        "buyback",
        "release",
        "airdrop claim",
        "airdrop burn",
        "set rate",
        "set split",
        "set mint curve",
        "launch mode",
        "set tier",
    ):
        assert chain_run.actions[kind] > 0, f"no {kind} in the run"
    last = chain_run.rows[-1]
    assert last["burned"] > 0 and last["diem_supply"] > 0 and last["subscribers"] > 0
    # the derived metrics had something to agree on
    assert last["pending_rewards"] > 0 and last["circulating_supply"] > last["supply"]
    assert last["net_inflation_30d"] != 0 and last["real_yield_30d"] > 0
    assert 0 < last["treasury_runway_days"] < float("inf")


@pytest.mark.parametrize("backend", [ChainBackend, RevmBackend])
def test_model_and_chain_agree_in_a_market_to_the_wei(isolated, suite, owner, config, backend):
    scenario = load_scenario("market")
    assert scenario.market.price is not None and scenario.market.diem_price == "market"
    chain_run, model_run = _agree_every_day(scenario, backend(suite, config, owner))
    assert chain_run.failures == model_run.failures == {}
    assert chain_run.actions == model_run.actions
    assert chain_run.actions["arbitrage buy"] > 0 and chain_run.actions["arbitrage sell"] > 0
    assert chain_run.actions["DIEM sold"] > 0 and chain_run.actions["buyback"] > 0
    assert chain_run.rows[-1]["market_price"] > 0


@pytest.mark.parametrize("kind", ["chain", "revm"])
def test_a_run_is_dated_from_start_and_equals_the_model(isolated, owner, config, kind):
    """`start: 2027-01-01` on a fresh deployment: the rows are dated from it, and every
    column of every day (transactions too) is the model backend's."""
    scenario = load_scenario(SCENARIO).with_overrides(days=6, start=dt.date(2027, 1, 1))
    backend = chain_backend(config, owner, scenario=scenario, kind=kind)
    on_chain = execute(scenario, backend, config, progress=False).run
    in_model = execute_model(scenario, config, progress=False).run

    assert [r["date"] for r in on_chain.rows[:2]] == ["2027-01-01", "2027-01-02"]
    assert on_chain.rows[-1]["transactions"] > 0
    for chain_row, model_row in zip(on_chain.rows, in_model.rows, strict=True):
        assert chain_row == model_row, f"day {chain_row['day']}: rows differ"
    assert on_chain.failures == in_model.failures
