"""Scenario checks before the run: each mistake the issue found, reproduced and refused with
its file and line (or accepted, for numbers like 1e6)."""

from __future__ import annotations

import textwrap

import pytest

from venice_ops.deploy.config import load_config
from venice_ops.sim.engine import Engine, model_backend
from venice_ops.sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

BASE = """\
name: checks
days: 30
seed: 1
start: 2026-01-01
agents:
  - {kind: staker, count: 3, behaviour: compound, wealth: 50000}
  - {kind: staker, count: 2, behaviour: unstake_on_low_apr, wealth: 100000, apr_floor: 0.3}
market: {revenue: 20000, buyback_share: 0.1}
utilization: 0.5
events:
  - {day: 10, annual_rate: 10_000_000}
"""


def _error(text: str, **kwargs) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(textwrap.dedent(text), "bad.yaml", **kwargs)
    return str(info.value)


def test_the_base_scenario_is_good():
    scenario = parse_scenario(BASE, "good.yaml")
    assert scenario.events[0].annual_rate == 10_000_000


def test_a_date_that_does_not_exist_is_an_error_with_its_line_not_a_traceback():
    message = _error(BASE.replace("start: 2026-01-01", "start: 2026-13-01"))
    assert message == (
        "bad.yaml:4: 2026-13-01 is not a date (month must be in 1..12): dates are YYYY-MM-DD"
    )


@pytest.mark.parametrize(
    "old, new",
    [
        ("wealth: 50000", "wealth: 1e6"),
        ("wealth: 50000", "wealth: 1.5e+6"),
        ("revenue: 20000", "revenue: 2e4"),
        ("count: 3", "count: 3e0"),
    ],
)
def test_numbers_like_1e6_are_accepted_wherever_a_number_is(old, new):
    scenario = parse_scenario(BASE.replace(old, new, 1))
    assert scenario.agents[0].wealth.fixed in (50000, 1e6, 1.5e6)
    assert scenario.market.revenue == 20000
    assert scenario.agents[0].count == 3
    # From Python, a string such as YAML 1.1 would have left is accepted too.
    data = scenario.model_dump()
    data["agents"][0]["wealth"] = "1e6"
    assert Scenario.from_dict(data).agents[0].wealth.fixed == 1e6


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            "utilization: 0.5",
            "utilization: 70",
            "bad.yaml:9: utilization: 70 is outside [0, 1]: shares are fractions: 0.7 for 70%",
        ),
        (
            "utilization: 0.5",
            "utilization: [[0, 0.3], [15, 70]]",
            "bad.yaml:9: utilization: 70 is outside [0, 1]: shares are fractions: 0.7 for 70%",
        ),
        (
            "apr_floor: 0.3",
            "apr_floor: 30",
            "bad.yaml:7: agents.1.apr_floor: 30 is outside [0, 1]: shares are fractions: "
            "0.3 for 30%",
        ),
        (
            "buyback_share: 0.1",
            "buyback_share: -0.5",
            "bad.yaml:8: market.buyback_share: -0.5 is outside [0, 1]: shares are fractions",
        ),
    ],
)
def test_shares_are_fractions_and_the_error_says_so(old, new, expected):
    assert expected in _error(BASE.replace(old, new))


def test_apr_floor_is_a_fraction_in_the_engine(tmp_path):
    """Beside a 20M VVV holder the APR sinks to about 10%: the two leavers with a floor of 0.3
    (30%) leave, and not with a floor of 0.0001 (0.01%)."""
    config = load_config()
    holder = "agents:\n  - {kind: staker, count: 1, behaviour: hold, wealth: 20e6}\n"

    def unstakes(floor: float) -> int:
        text = BASE.replace("agents:\n", holder).replace("apr_floor: 0.3", f"apr_floor: {floor}")
        scenario = parse_scenario(text)
        engine = Engine(scenario, model_backend(scenario, config), config)
        return engine.run(engine.setup()).actions["unstake"]

    assert unstakes(0.3) == 2
    assert unstakes(0.0001) == 0


def test_the_shipped_scenarios_pass_the_checks():
    for name in ("showcase", "bench", "history"):
        assert load_scenario(name).agents


def test_an_event_past_the_last_day_is_refused_with_its_line():
    message = _error(BASE.replace("{day: 10,", "{day: 30,"))
    assert message == (
        "bad.yaml:11: events.0.day: day 30 is past the last day, day 29 (the run has 30 days)"
    )
    dated = _error(BASE.replace("{day: 10,", "{date: 2026-03-01,"))
    assert "bad.yaml:11: events.0.date: 2026-03-01 (day 59) is past the last day" in dated
    early = _error(BASE.replace("{day: 10,", "{date: 2025-12-01,"))
    assert "bad.yaml:11: events.0.date: 2025-12-01 (day -31) is before the start" in early


def test_a_rate_above_the_cap_is_refused_with_its_line():
    message = _error(BASE.replace("annual_rate: 10_000_000", "annual_rate: 20e6"))
    assert message == (
        "bad.yaml:11: events.0.annual_rate: 20,000,000 VVV a year is above the cap, "
        "14,000,000 VVV a year (emissions.max_annual in the deploy config): the contract "
        "would refuse it"
    )
    # Against another config's cap.
    assert "above the cap, 5,000,000" in _error(BASE, max_annual=5_000_000 * 10**18)


def test_every_problem_is_listed_at_once():
    text = BASE.replace("utilization: 0.5", "utilization: 70").replace(
        "apr_floor: 0.3", "apr_floor: 30"
    )
    message = _error(text)
    assert "bad.yaml:7: agents.1.apr_floor" in message and "bad.yaml:9: utilization" in message


def test_refused_governance_events_are_reported_with_day_and_reason():
    """A tier whose burn exceeds its price passes the file's checks but the contract refuses
    it: the run goes on and reports the event's day, index and reason."""
    text = BASE.replace(
        "  - {day: 10, annual_rate: 10_000_000}\n",
        "  - {day: 10, annual_rate: 10_000_000}\n  - {day: 12, tiers: [[18, 30]]}\n",
    )
    scenario = parse_scenario(text)
    config = load_config()
    engine = Engine(scenario, model_backend(scenario, config), config)
    run = engine.run(engine.setup())
    assert [str(e) for e in run.refused_events] == [
        "day 12 (2026-01-13) events.1 tiers.0: subs: burn above price"
    ]
