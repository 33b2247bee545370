"""Sweeps over any scenario field: every value checked before any run, refusals and failures
reported, overrides warned about, a tidy CSV, a tornado, and the same rows on Dask."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from scripts.simulate import cli
from venice_ops.sim import sweep as sweep_module
from venice_ops.sim.scenario import ScenarioError, load_scenario, parse_scenario
from venice_ops.sim.sweep import (
    overridden,
    parse_vary,
    prepare,
    sweep,
    tornado,
    write_sweep,
    write_tornado,
)

SMALL = """\
name: small
days: 20
seed: 3
agents:
  - {kind: staker, count: 4, behaviour: compound, wealth: 50000}
  - {kind: diem_minter, count: 2, behaviour: sell_diem, wealth: 200000}
  - {kind: api_user, count: 2, behaviour: buy_diem, wealth: 10000, demand: 40}
  - {kind: subscriber, count: 2, behaviour: renew, wealth: 100}
market: {revenue: 20000, buyback_every: 5}
events:
  - {day: 2, annual_rate: 12_000_000}
  - {day: 15, annual_rate: 9_000_000}
"""


@pytest.fixture(scope="module")
def small():
    return parse_scenario(SMALL, "small.yaml")


def _no_runs(monkeypatch):
    def refuse(*args):
        raise AssertionError("a run started before the grid was checked")

    monkeypatch.setattr(sweep_module, "run_point", refuse)


def test_values_are_read_as_yaml():
    assert parse_vary("market.revenue=1e4, 2e4").values == (10_000.0, 20_000.0)
    assert parse_vary("agents.0.behaviour=compound,hold").values == ("compound", "hold")
    with pytest.raises(ScenarioError, match="PATH=v1,v2"):
        parse_vary("market.revenue")
    with pytest.raises(ScenarioError, match="at least one value"):
        parse_vary("pro_burn=")
    with pytest.raises(ScenarioError, match="must be numbers"):
        parse_vary("annual_rate=a,b")


def test_a_rate_above_the_cap_is_refused_up_front(small, config, monkeypatch):
    """The issue: `annual_rate=10e6,20e6` ran, 20e6 was refused silently and the 14M result
    reported. Now 20e6 is refused before any run, the value named."""
    _no_runs(monkeypatch)
    with pytest.raises(ScenarioError) as info:
        sweep(small, config, {"annual_rate": [10e6, 20e6]})
    assert str(info.value).startswith("annual_rate=20000000: ")
    assert "20,000,000 VVV a year is above the cap, 14,000,000" in str(info.value)
    with pytest.raises(ScenarioError, match=r"events\.1\.annual_rate=20000000: .*above the cap"):
        prepare(small, {"events.1.annual_rate": [5e6, 20e6]}, config.max_annual)


def test_a_bad_share_is_refused_up_front_not_a_worker_traceback(small, config, monkeypatch):
    """The issue: `buyback_share=-0.5,2` ended in a multiprocessing traceback."""
    _no_runs(monkeypatch)
    with pytest.raises(ScenarioError) as info:
        sweep(small, config, {"buyback_share": [-0.5, 2]})
    message = str(info.value)
    assert "market.buyback_share=-0.5: small.yaml:9: market.buyback_share: -0.5 is outside" in (
        message
    )
    assert "market.buyback_share=2: " in message and "shares are fractions: 0.02 for 2%" in (
        message
    )
    result = CliRunner().invoke(
        cli, ["sweep", "showcase", "--vary", "buyback_share=-0.5,2", "--workers", "1"]
    )
    assert result.exit_code == 1
    assert "-0.5 is outside [0, 1]" in result.output and "Traceback" not in result.output


def test_unknown_paths_say_what_exists(small, config):
    with pytest.raises(ScenarioError, match=r"no field 'colour' \(it has arbitrage, buyback"):
        prepare(small, {"market.colour": [1]}, config.max_annual)
    with pytest.raises(ScenarioError, match=r"agents is a list of 4: '9' is not an index 0..3"):
        prepare(small, {"agents.9.count": [1]}, config.max_annual)


def test_an_event_overriding_the_swept_value_is_warned_about(small):
    """The issue: the README's sweep varied annual_rate on bench, whose day-30 event
    overrides it."""
    bench = load_scenario("bench")
    (warning,) = overridden(bench, ["annual_rate", "market.revenue"])
    assert warning.startswith("--vary annual_rate: events.0 (")
    assert "bench.yaml:16) sets annual_rate on day 30" in warning
    assert warning.endswith("holds only on days 0-29")
    (warning,) = overridden(small, ["events.0.annual_rate"])
    assert "events.1 (small.yaml:12) sets annual_rate on day 15" in warning
    assert "days 2-14" in warning


def test_any_field_any_number_of_paths_tidy_csv(small, config, tmp_path, dask_client):
    """The issue: only four parameters, a third one dropped without a word. Now any path, one
    column each in the CSV, a seed column, and the same rows on Dask as in one process."""
    grid = {
        "market.revenue": [1e4, 4e4],
        "agents.0.count": [2, 6],
        "events.0.annual_rate": [8e6, 12e6],
    }
    rows = sweep(small, config, grid, runs=2, client=dask_client)
    assert len(rows) == 2 * 2 * 2 * 2
    assert [(r["market.revenue"], r["agents.0.count"], r["seed"]) for r in rows[:4]] == [
        (1e4, 2, 3),
        (1e4, 2, 4),
        (1e4, 2, 3),
        (1e4, 2, 4),
    ]
    assert all(not r["error"] and not r["refused"] for r in rows)
    high = [r for r in rows if r["events.0.annual_rate"] == 12e6]
    low = [r for r in rows if r["events.0.annual_rate"] == 8e6]
    assert sum(r["supply"] for r in high) > sum(r["supply"] for r in low)
    assert sweep(small, config, grid, runs=2) == rows  # Dask changes nothing
    path = write_sweep(rows, list(grid), tmp_path / "sweep.csv")
    with path.open() as f:
        header = next(csv.reader(f))
    assert header[:4] == ["market.revenue", "agents.0.count", "events.0.annual_rate", "seed"]
    assert header[-2:] == ["refused", "error"]


def test_a_point_that_fails_is_reported_with_its_reason(small, config):
    rows = sweep(small, config, {"agents.0.wealth": [5e4, 1e12]})
    assert rows[0]["error"] == "" and rows[0]["supply"] > 0
    assert rows[1]["supply"] is None
    assert "lower the wealth or the airdrop" in rows[1]["error"]


def test_refused_events_are_in_the_rows(small, config):
    rows = sweep(small, config, {"pro_burn": [5, 30]})  # 30 USDC of an 18 USDC tier
    assert rows[0]["refused"] == ""
    assert rows[1]["refused"] == "day 0 (2025-01-27) events.0 tiers.0: subs: burn above price"


def test_tornado_one_at_a_time(small, config, tmp_path, dask_client):
    grid = {"market.revenue": [1e4, 2e4, 8e4], "events.0.annual_rate": [6e6, 13e6]}
    rows = tornado(small, config, grid, "supply", client=dask_client)
    assert [r["path"] for r in rows] == ["events.0.annual_rate", "market.revenue"]
    rate = rows[0]
    assert (rate["low"], rate["high"]) == (6e6, 13e6)
    assert rate["at_low"] < rate["base"] < rate["at_high"]
    path = write_tornado(rows, "supply", tmp_path / "tornado.csv")
    assert path.read_text().splitlines()[0] == (
        "path,low,high,supply_at_low,supply_base,supply_at_high,swing"
    )


def test_the_cli_says_how_each_number_of_parameters_is_shown(tmp_path):
    runner = CliRunner()
    one = runner.invoke(
        cli,
        [
            "sweep",
            "showcase",
            "--vary",
            "market.diem_price=100,300",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ],
    )
    assert one.exit_code == 0, one.output
    assert "supply as a line over market.diem_price" in one.output
    three = runner.invoke(
        cli,
        [
            "sweep",
            "showcase",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
            "--days",
            "12",
            "--vary",
            "market.diem_price=100,300",
            "--vary",
            "agents.1.count=2,6",
            "--vary",
            "market.buyback_share=0.1,0.3",
            "--tornado",
        ],
    )
    assert three.exit_code == 0, three.output
    assert "small multiples: market.diem_price by agents.1.count" in three.output
    assert "events.0 (day 12) falls after the last day and is left out" in three.output
    assert (tmp_path / "tornado-showcase-supply.csv").exists()
