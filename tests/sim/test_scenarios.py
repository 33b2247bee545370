"""Scenario files, outputs, the real history and sweeps, on the model backend."""

from __future__ import annotations

import csv
import textwrap
from decimal import Decimal

import pytest

from venice_ops.sim.outputs import sweep_chart
from venice_ops.sim.report import render
from venice_ops.sim.runner import execute_model
from venice_ops.sim.scenario import ScenarioError, load_scenario, parse_scenario
from venice_ops.sim.sweep import parse_values, prepare, sweep, write_sweep
from venice_ops.sim.views import sweep_frame

GOOD = """\
name: small
days: 20
seed: 3
agents:
  - {kind: staker, count: 4, behaviour: compound, wealth: 50000}
  - {kind: diem_minter, count: 2, behaviour: sell_diem, wealth: 200000}
  - {kind: api_user, count: 2, behaviour: buy_diem, wealth: 10000, demand: 40}
  - {kind: subscriber, count: 2, behaviour: renew, wealth: 100}
market: {revenue: 20000, buyback_every: 5}
"""


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(textwrap.dedent(text), "bad.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            GOOD.replace("days: 20", "days: -1"),
            "bad.yaml:2: days: Input should be greater than or equal to 1",
        ),
        (
            GOOD.replace("behaviour: compound", "behaviour: yolo"),
            "bad.yaml:5: agents.0: behaviour 'yolo' is not one of compound",
        ),
        (
            GOOD.replace("seed: 3", "seed: 3\ncolour: red"),
            "bad.yaml:4: colour: Extra inputs are not permitted",
        ),
        (
            GOOD.replace("wealth: 200000", "wealth: {uniform: [5, 1]}"),
            "bad.yaml:6: agents.1.wealth: uniform needs 0 <= low <= high",
        ),
        (
            GOOD.replace("buyback_every: 5", "buyback_every: 0"),
            "bad.yaml:9: market.buyback_every: Input should be greater than or equal to 1",
        ),
        (GOOD.replace("name: small\n", ""), "bad.yaml:1: name: Field required"),
        (
            GOOD + "events:\n  - {date: 2025-09-01, annual_rate: 5}\n",
            "events[0] has a date: the scenario needs a start date",
        ),
        (
            GOOD + "events:\n  - {day: 3}\n",
            "bad.yaml:11: events.0: an event needs one of annual_rate",
        ),
        (GOOD.replace("count: 4", "count: [4"), "bad.yaml:5: not valid YAML"),
        ("- just\n- a list\n", "bad.yaml:1: a scenario is a mapping"),
    ],
)
def test_bad_scenario__error_names_field_and_line(text, expected):
    assert expected in _error(text)


def test_unknown_scenario_lists_the_built_in_ones():
    with pytest.raises(ScenarioError, match=r"built-in scenarios: .*history.*showcase"):
        load_scenario("no-such-scenario")


def test_same_scenario_and_seed_give_the_same_files(tmp_path, config):
    scenario = parse_scenario(GOOD)
    first = execute_model(scenario, config, out=tmp_path / "a", progress=False)
    second = execute_model(scenario, config, out=tmp_path / "b", progress=False)
    assert [p.name for p in first.files] == [p.name for p in second.files]
    for a, b in zip(first.files, second.files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = execute_model(
        scenario.with_overrides(seed=4), config, out=tmp_path / "c", progress=False
    )
    assert other.files[0].read_bytes() != first.files[0].read_bytes()
    with first.files[0].open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20 and rows[-1]["day"] == "19"
    # Exact decimal strings of whole tokens, to the wei: genesis plus what was minted.
    supply = Decimal(rows[-1]["supply"])
    assert 100_000_000 < supply < 101_000_000 and supply == supply.quantize(Decimal(10) ** -18)
    assert Decimal(rows[-1]["supply"]) * 10**18 == first.run.rows[-1]["supply"]
    assert int(rows[-1]["subscribers"]) == 2


def test_history_lands_near_the_figures_protocol_quotes(tmp_path, config):
    run = execute_model(load_scenario("history"), config, progress=False).run
    by_date = {row["date"]: row for row in run.rows}
    assert run.scenario.checkpoints
    for point in run.scenario.checkpoints:
        row = by_date[str(point["date"])]
        supply = row["supply"] / 10**18
        inflation = row["annual_rate"] / 10**18 / supply
        assert abs(supply - point["supply"]) / point["supply"] < 0.03, (point, supply)
        assert abs(inflation - point["inflation"]) / point["inflation"] < 0.05, (point, inflation)
    # The unclaimed airdrop was burned after 45 days; DIEM exists only after the launch.
    assert by_date["2025-03-20"]["burned"] >= 32_600_000 * 10**18
    assert by_date["2025-08-19"]["diem_supply"] == 0 < by_date["2025-09-30"]["diem_supply"]
    assert run.failures == {}

    # Circulating supply beside total supply on PROTOCOL.md's dates, in the command's table
    # and the report; the 8M cut's date is stated as an assumption in both.
    from scripts.simulate import checkpoint_table, console, print_assumptions

    cut = [e for e in run.scenario.events if e.annual_rate == 8_000_000]
    assert len(cut) == 1 and cut[0].date is not None
    with console.capture() as printed:
        console.print(checkpoint_table(run))
        print_assumptions(run.scenario)
    text = printed.get()
    for point in run.scenario.checkpoints:
        row = by_date[str(point["date"])]
        circulating = row["supply"] + row["pending_rewards"] + row["treasury_releasable"]
        assert row["circulating_supply"] == circulating > row["supply"]
        assert f"{circulating / 10**18:,.0f}" in text and f"{row['supply'] / 10**18:,.0f}" in text
    assert "circulating supply (VVV)" in text and "total supply (VVV)" in text
    assert f"Assumption: the cut to 8M VVV a year on {cut[0].date}" in " ".join(text.split())
    page = render(run.rows, run.scenario)
    assert "<h2>Assumptions</h2>" in page and f"on {cut[0].date}" in page
    assert "Beside the quoted figures" in page
    for point in run.scenario.checkpoints:
        row = by_date[str(point["date"])]
        assert f"{row['circulating_supply'] / 10**18:,.0f}</td>" in page


def test_sweep_runs_each_policy_on_dask(tmp_path, config, dask_client):
    scenario = parse_scenario(GOOD)
    grid = dict([parse_values("annual_rate=2e6,14e6"), parse_values("pro_burn=2,10")])
    rows = sweep(scenario, config, grid, client=dask_client)
    assert [(r["annual_rate"], r["pro_burn"]) for r in rows] == [
        (2e6, 2),
        (2e6, 10),
        (14e6, 2),
        (14e6, 10),
    ]
    low, high = rows[0], rows[2]
    assert high["supply"] > low["supply"]  # more emissions, more VVV
    serial = sweep(scenario, config, grid)
    assert serial == rows  # Dask changes nothing
    path = write_sweep(rows, list(grid), tmp_path / "sweep.csv")
    assert len(path.read_text().splitlines()) == 5
    frame = sweep_frame(rows, list(grid))
    png = sweep_chart(frame, tmp_path / "sweep.png", "supply", list(grid))
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "text, message",
    [
        ("colour=1,2", "the scenario has no field 'colour'"),
        ("annual_rate=a,b", "must be numbers"),
        ("pro_burn=", "at least one value"),
    ],
)
def test_sweep__bad_grid(text, message, config):
    with pytest.raises(ScenarioError, match=message):
        prepare(parse_scenario(GOOD), dict([parse_values(text)]), config.max_annual)
