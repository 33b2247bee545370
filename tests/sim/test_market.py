"""The market (venice_ops/sim/market.py): the price processes (seeded walk, regimes, a CSV of
history), its checks with their lines, the arbitrage that trades the pool to the target, and
what follows the price."""

from __future__ import annotations

import math
import textwrap

import pytest

from venice_ops.sim import market, views
from venice_ops.sim.engine import model_backend
from venice_ops.sim.market import PRICE, buy_amount, pool_price, sell_amount
from venice_ops.sim.montecarlo import bands_in_tokens, run_seeds
from venice_ops.sim.report import daily_figures
from venice_ops.sim.runner import execute_model
from venice_ops.sim.scenario import ScenarioError, load_scenario, parse_scenario

BASE = """\
name: market-checks
days: 20
seed: 3
start: 2026-01-01
agents:
  - {kind: staker, count: 2, behaviour: compound, wealth: 50000}
market:
  revenue: 10000
  price:
    walk: {drift: 0.5, volatility: 0.9}
"""


def _scenario(text: str = BASE, source: str = "market.yaml"):
    return parse_scenario(textwrap.dedent(text), source)


def _error(text: str, source: str = "bad.yaml") -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(textwrap.dedent(text), source)
    return str(info.value)


# --- the processes -----------------------------------------------------------------------


def test_a_seeded_walk_is_reproducible_and_each_seed_differs():
    scenario = _scenario()
    first, again = market.walk(scenario, 2.0), market.walk(scenario, 2.0)
    other = market.walk(scenario.with_overrides(seed=4), 2.0)
    assert first == again
    assert first[0] == other[0] == 2.0
    assert first[1:] != other[1:]
    assert len(first) == scenario.days and all(p > 0 for p in first)


def test_regimes_change_drift_and_volatility_on_their_first_day():
    scenario = _scenario(
        BASE.replace(
            "    walk: {drift: 0.5, volatility: 0.9}",
            "    regimes:\n"
            "      - {day: 0, drift: 0, volatility: 0}\n"
            "      - {date: 2026-01-11, drift: 3.65, volatility: 0}\n"
            "      - {day: 15, drift: 0, volatility: 2}",
        )
    )
    path = market.walk(scenario, 5.0)
    assert path[:10] == [5.0] * 10  # the first regime: flat to day 9
    for day in range(10, 15):  # the date is day 10: 1% a day, no noise
        assert path[day] / path[day - 1] == pytest.approx(math.exp(0.01), rel=1e-12)
    steps = [path[d] / path[d - 1] for d in range(15, 20)]  # volatile from day 15
    assert all(abs(math.log(s) - 0.01) > 1e-6 for s in steps)


def test_a_csv_of_history_gives_each_day_its_price_and_skipped_days_keep_the_last(tmp_path):
    (tmp_path / "prices.csv").write_text(
        "date,price,volume\n2025-12-31,1.5,100\n2026-01-01,2,1e6\n2026-01-05,3.25,5e5\n"
        "2026-01-30,4,0\n"
    )
    text = BASE.replace("walk: {drift: 0.5, volatility: 0.9}", "csv: prices.csv")
    (tmp_path / "s.yaml").write_text(text)
    scenario = load_scenario(tmp_path / "s.yaml")
    path = market.price_path(scenario, 0)
    assert path is not None
    assert path.prices[:5] == [2 * 10**18] * 4 + [325 * 10**16]
    assert path.volumes[:5] == [10**12, None, None, None, 5 * 10**11]


@pytest.mark.parametrize(
    "body, problem",
    [
        ("when,price\n2026-01-01,2\n", "prices.csv:1: the header needs date and price"),
        ("date,price\n2026-01-01,2\n2026-13-02,2\n", "prices.csv:3: '2026-13-02' is not a date"),
        ("date,price\n2026-01-02,2\n2026-01-01,2\n", "prices.csv:3: 2026-01-01 is not after"),
        ("date,price\n2026-01-01,-2\n", "prices.csv:2: price -2 is not a positive number"),
        ("date,price\n2026-01-01,0\n", "prices.csv:2: price 0 is not a positive number"),
        ("date,price\n2026-01-01,two\n", "prices.csv:2: price 'two' is not a number"),
        ("date,price,volume\n2026-01-01,2,-1\n", "prices.csv:2: volume -1 is not a positive"),
        ("date,price\n2026-01-01\n", "prices.csv:2: 1 fields, the header has 2"),
        ("date,price\n2026-01-01,2\n2026-01-10,2\n", "covers 2026-01-01..2026-01-10; the run"),
        ("date,price\n2026-01-02,2\n2026-03-10,2\n", "covers 2026-01-02..2026-03-10; the run"),
    ],
)
def test_a_bad_csv_is_refused_with_its_line_and_the_scenarios(tmp_path, body, problem):
    (tmp_path / "prices.csv").write_text(body)
    text = BASE.replace("walk: {drift: 0.5, volatility: 0.9}", "csv: prices.csv")
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "s.yaml")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 's.yaml'}:10: market.price.csv: ")
    assert problem in message and "Traceback" not in message


def test_a_missing_csv_is_refused_with_the_scenarios_line(tmp_path):
    (tmp_path / "s.yaml").write_text(BASE.replace("walk: {drift: 0.5, volatility: 0.9}", "csv: x"))
    with pytest.raises(ScenarioError, match=r"s.yaml:10: market.price.csv: .*x: cannot read"):
        load_scenario(tmp_path / "s.yaml")


@pytest.mark.parametrize(
    "old, new, problem",
    [
        ("revenue: 10000", "revenue: 10000\n  diem_price: markets", "diem_price"),
        (
            "  price:\n    walk: {drift: 0.5, volatility: 0.9}\n",
            "  diem_price: market\n",
            "bad.yaml:9: market.diem_price: market follows the VVV price: give market.price",
        ),
        (
            "  price:\n    walk: {drift: 0.5, volatility: 0.9}\n",
            "  elasticity: 1\n",
            "bad.yaml:9: market.elasticity: follows the VVV price: give market.price",
        ),
        ("volatility: 0.9}", "volatility: 0.9}\n    csv: p.csv", "exactly one of walk, regimes"),
        ("volatility: 0.9", "volatility: -0.9", "bad.yaml:10: market.price.walk.volatility"),
        ("revenue: 10000", "revenue: 1e4\n  arbitrage: {volume_share: 1.5}", "bad.yaml:9:"),
        ("revenue: 10000", "revenue: 1e4\n  arbitrage: {usdc: -1e6}", "arbitrage.usdc"),
        (
            "    walk: {drift: 0.5, volatility: 0.9}",
            "    regimes: [{day: 0}, {day: 25, drift: 1}]",
            "bad.yaml:10: market.price.regimes.1: day 25 is past the last day, 19",
        ),
        (
            "    walk: {drift: 0.5, volatility: 0.9}",
            "    regimes:\n      - {day: 2}\n      - {day: 1}",
            "bad.yaml:11: market.price.regimes.0: the first regime starts on day 2, not day 0\n"
            "bad.yaml:12: market.price.regimes.1: day 1 is not after the regime before's 2",
        ),
    ],
)
def test_market_mistakes_are_refused_with_their_line(old, new, problem):
    assert problem in _error(BASE.replace(old, new))


def test_numbers_like_1e6_are_accepted_in_the_market():
    scenario = _scenario(BASE + "  arbitrage: {usdc: 1e6, vvv: 2.5e5, max_trade: 1e5}\n")
    assert scenario.market.arbitrage.usdc == 1e6 and scenario.market.arbitrage.max_trade == 1e5


# --- the arbitrage -----------------------------------------------------------------------

RESERVES = [(2_000_000 * 10**6, 1_000_000 * 10**18), (123_456_789_012, 98_765 * 10**18 + 7)]


@pytest.mark.parametrize("usdc, vvv", RESERVES)
@pytest.mark.parametrize("factor", [1.37, 3.0, 0.61, 0.2])
def test_the_arbitrage_moves_the_pool_to_the_target_within_one_unit(usdc, vvv, factor):
    target = market.wad(pool_price(usdc, vvv) / 10**18 * factor)
    if factor > 1:
        a = buy_amount(usdc, vvv, target, 10**30)
        out = market.get_amount_out(a, usdc, vvv)
        assert (usdc + a) * PRICE <= target * (vvv - out)  # at or under the target
        over = market.get_amount_out(a + 1, usdc, vvv)
        assert (usdc + a + 1) * PRICE > target * (vvv - over)  # a unit more passes it
        after = pool_price(usdc + a, vvv - out)
    else:
        b = sell_amount(usdc, vvv, target, 10**40, 10**40)
        out = market.get_amount_out(b, vvv, usdc)
        assert (usdc - out) * PRICE >= target * (vvv + b)
        under = market.get_amount_out(b + 1, vvv, usdc)
        assert (usdc - under) * PRICE < target * (vvv + b + 1)
        after = pool_price(usdc - out, vvv + b)
    assert abs(after - target) * 10**6 < target  # a millionth: the pool's price grain


def _backend_with_trader(config, vvv: int, usdc: int):
    scenario = _scenario()
    b = model_backend(scenario, config)
    b.add_agent("arb", vvv, usdc, "arbitrageur")
    return b


@pytest.mark.parametrize("factor", [1.5, 0.5])
def test_the_arbitrage_on_the_backend_lands_on_the_target(config, factor):
    b = _backend_with_trader(config, 10**24, 10**13)
    m = b.metrics()
    target = market.wad(pool_price(m["pool_usdc"], m["pool_vvv"]) / 10**18 * factor)
    side, amount, out = market.arbitrage(b, "arb", target, -1)
    assert side == ("buy" if factor > 1 else "sell")
    (b.buy_vvv if side == "buy" else b.sell_vvv)("arb", amount, out)
    m = b.metrics()
    assert abs(pool_price(m["pool_usdc"], m["pool_vvv"]) - target) * 10**6 < target
    assert market.arbitrage(b, "arb", target, -1) is None  # nothing left to trade


@pytest.mark.parametrize("factor", [1.5, 0.5])
def test_a_capped_arbitrage_trades_the_cap_and_stops_short(config, factor):
    b = _backend_with_trader(config, 10**24, 10**13)
    m = b.metrics()
    start = pool_price(m["pool_usdc"], m["pool_vvv"])
    target = market.wad(start / 10**18 * factor)
    cap = market.trade_limit(1000.0, None, None)
    assert cap == 1000 * 10**6
    side, amount, out = market.arbitrage(b, "arb", target, cap)
    usd = amount if side == "buy" else out
    assert cap - 10**3 <= usd <= cap  # the cap, to the VVV wei's grain
    (b.buy_vvv if side == "buy" else b.sell_vvv)("arb", amount, out)
    m = b.metrics()
    moved = pool_price(m["pool_usdc"], m["pool_vvv"])
    assert min(start, target) < moved < max(start, target)  # on the way, short of it


def test_the_volume_share_caps_with_the_csv_volume():
    assert market.trade_limit(None, 0.1, 5 * 10**11) == 5 * 10**10
    assert market.trade_limit(2e4, 0.1, 5 * 10**11) == 2 * 10**10
    assert market.trade_limit(None, 0.1, None) == -1


def test_an_empty_wallet_does_not_trade(config):
    b = _backend_with_trader(config, 0, 0)
    m = b.metrics()
    assert market.arbitrage(b, "arb", pool_price(m["pool_usdc"], m["pool_vvv"]) * 2, -1) is None


# --- a run in a market -------------------------------------------------------------------


def test_the_shipped_market_scenario_trades_toward_its_price(config):
    scenario = load_scenario("market")
    run = execute_model(scenario, config, progress=False).run
    assert run.actions["arbitrage buy"] > 0 and run.actions["arbitrage sell"] > 0
    assert not run.failures
    prices = [r["market_price"] for r in run.rows]
    assert len(set(prices)) > 20 and prices[0] == pytest.approx(2.0)
    # The arbitrage opens the day; the pool closes it near the target (agents and buybacks move
    # it in between, the trade cap may leave it short).
    near = sum(abs(r["vvv_price"] / r["market_price"] - 1) < 0.05 for r in run.rows)
    assert near >= 20
    again = execute_model(scenario, config, progress=False).run
    assert again.rows == run.rows
    other = execute_model(scenario.with_overrides(seed=8), config, progress=False).run
    assert [r["market_price"] for r in other.rows] != prices


def test_revenue_follows_the_price_only_with_an_elasticity(config):
    flat = _scenario(BASE + "  arbitrage: {usdc: 1e5, vvv: 1e4}\n")
    plain = flat.with_overrides(market=flat.market.model_copy(update={"price": None}))
    rows = execute_model(flat, config, progress=False).run.rows
    plain_rows = execute_model(plain, config, progress=False).run.rows
    assert [r["revenue"] for r in rows] == [r["revenue"] for r in plain_rows]
    assert all(r["market_price"] == 0 for r in plain_rows)
    elastic = flat.with_({"market.elasticity": 1.0})
    follows = execute_model(elastic, config, progress=False).run.rows
    for r in follows:
        ratio = r["market_price"] / follows[0]["market_price"]
        assert r["revenue"] == pytest.approx(10_000 * 10**6 * ratio, abs=1)


def test_diem_follows_the_market_price_and_the_mint_rate():
    assert market.diem_price_units(90 * 10**18, 2 * 10**18) == 180 * 10**6
    assert market.diem_price_units(0, 2 * 10**18) == 1


def test_the_target_price_shows_on_the_price_chart_and_in_the_report(config, tmp_path):
    scenario = load_scenario("market")
    rows = execute_model(scenario, config, progress=False).run.rows
    figures = dict(daily_figures(rows, scenario))
    names = [trace.name for trace in figures["chart-price"].data]
    assert "VVV price (market)" in names
    plain = execute_model(load_scenario("showcase"), config, progress=False).run.rows
    assert "VVV price (market)" not in [
        t.name for t in dict(daily_figures(plain))["chart-price"].data
    ]
    assert views.has_market(views.daily_frame(rows)) and not views.has_market(
        views.daily_frame(plain)
    )


def test_monte_carlo_runs_of_a_market_differ_and_their_chart_bands_are_in_whole_tokens(config):
    outcomes = run_seeds(load_scenario("market"), config, 3)
    paths = {tuple(r["market_price"] for r in o.rows) for o in outcomes}
    assert len(paths) == 3  # seeds 7, 8, 9: three walks
    day0, last = bands_in_tokens(outcomes)[0], bands_in_tokens(outcomes)[-1]
    assert day0["revenue_p50"] == 20_000.0  # USD, as the CSV and the charts read it
    assert day0["market_price_p5"] == day0["market_price_p95"] == pytest.approx(2.0)
    revenues = sorted(o.rows[-1]["revenue"] / 10**6 for o in outcomes)
    assert last["revenue_p5"] == revenues[0] and last["revenue_p95"] == revenues[-1]
    assert last["supply_p50"] < 10**9  # whole VVV, not wei
