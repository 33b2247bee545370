"""MintCurve: the published points, C(S) exact at knots and rounded down between, quotes that
agree with the Python model and with an independent Fraction re-derivation, path independence,
telescoping exact-out costs, launch mode, and the owner's setCurve / setLaunchMode with bounds.

Expected values are computed here, independently of the contract:
    rate(S) = 90 * exp(2 * (S / 38_000)^3) sVVV per DIEM (Python's decimal, 50 digits);
    C(S) = sum of the trapezoids of the whole intervals below S + the integral of the linear
           rate over the partial one, as an exact Fraction, rounded down;
    quoteMint(S, X) = D  <=>  C(S + D) <= C(S) + X < C(S + D + 1), with C exact (rational).
The hypothesis tests only make `.call()`s (plain web3 on the same node), so they are fast.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import ape
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from web3.exceptions import ContractLogicError

from tests.support.chain import refused_changing_nothing, revert_reason
from tests.support.constants import MAX_RATE, MAX_UINT, STEP, UNIT, VVV
from tests.support.curve import exact_cost, floor_cost
from tests.support.events import contract_events
from venice_sdk.model import ModelRevert

KNOTS = 153  # the default table: every 500 DIEM up to the last rate within 1e9 sVVV per DIEM
END = (KNOTS - 1) * STEP  # 76_000 DIEM
CLOSED, PUNITIVE, OPEN = 0, 1, 2
NOT_OWNER = "ownable: caller is not the owner"

FAST = settings(
    max_examples=100,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)

SPLITS = settings(FAST, max_examples=60)


def exact_rate(supply_wei: int) -> Decimal:
    """90 * exp(2 * (S / 38_000)^3) * 1e18: sVVV wei per whole DIEM at S wei of supply."""
    with localcontext() as ctx:
        ctx.prec = 50
        s = Decimal(supply_wei) / Decimal(UNIT)
        return Decimal(90) * (Decimal(2) * (s / Decimal(38_000)) ** 3).exp() * UNIT


def independent_table() -> list[int]:
    """The knot rates in wei, re-derived here: every 500 DIEM while within MAX_RATE."""
    rates = []
    for k in range(257):
        wei = int(exact_rate(k * STEP))
        if wei > MAX_RATE:
            break
        rates.append(wei)
    return rates


def _try(fn):
    """(value, None) or (None, revert reason), for the contract and the model alike."""
    try:
        return fn(), None
    except ContractLogicError as exc:
        return None, revert_reason(exc)
    except ModelRevert as exc:
        return None, exc.reason


supplies = st.one_of(
    st.integers(0, END - 1),
    st.builds(
        lambda k, d: min(max(k * STEP + d, 0), END - 1),
        st.integers(0, KNOTS - 2),
        st.integers(-2, 2),
    ),
    st.integers(0, 40_000 * UNIT),
)
svvv_amounts = st.one_of(
    st.integers(1, 10_000),  # dust
    st.integers(1, 1_000_000 * VVV),
    st.integers(1, 2 * 10**12 * VVV),  # the whole curve costs ~1.34e12 sVVV: often past it
)


# ------------------------------------------------------------------ the table


def test_deploy__config(curve, owner, config, rates):
    assert len(rates) == KNOTS
    assert curve.owner() == owner.address
    assert curve.launchMode() == OPEN == config.launch_mode
    assert curve.punitiveMultiplier() == 100 == config.punitive_multiplier
    assert curve.intervals() == KNOTS - 1
    assert curve.endSupply() == END == 76_000 * UNIT
    assert curve.STEP() == STEP
    assert curve.MAX_RATE() == MAX_RATE
    assert curve.MAX_KNOTS() == 256


def test_knots__match_independent_exp_table(rates):
    expected = independent_table()
    assert len(expected) == KNOTS
    for got, want in zip(rates, expected, strict=True):
        assert abs(got - want) <= 1
    assert rates[0] == 90 * UNIT
    # The table stops at the last knot within 1e9 sVVV per DIEM.
    assert rates[-1] <= MAX_RATE < exact_rate(KNOTS * STEP)


@pytest.mark.parametrize(
    ("supply", "published"),
    [(10_000, Decimal("93.34")), (38_000, Decimal("665.0"))],
    ids=["after_10k", "at_target"],
)
def test_rateAt__published_points(curve, supply, published):
    rate = curve.rateAt(supply * UNIT)
    assert abs(Decimal(rate) - published * UNIT) <= published * UNIT * Decimal("0.005")
    exact = exact_rate(supply * UNIT)
    assert exact - 1 <= rate <= exact  # a knot: the exact value rounded down


def test_rateAt__target_is_90_e_squared(curve):
    with localcontext() as ctx:
        ctx.prec = 50
        assert abs(Decimal(curve.rateAt(38_000 * UNIT)) - 90 * Decimal(2).exp() * UNIT) <= 1


@given(supply=st.integers(0, 38_000 * UNIT))
@FAST
def test_rateAt__close_to_exp_between_knots(fast_curve, supply):
    # Linear between knots of a convex curve: never below it, and within 0.2% up to TARGET.
    rate = fast_curve.rateAt(supply).call()
    exact = exact_rate(supply)
    assert rate >= exact - 2
    assert (rate - exact) / exact < Decimal("0.002")


def test_rateAt__past_the_end__reverts(curve):
    assert curve.rateAt(END - 1) > 0
    with ape.reverts("curve: past the end"):
        curve.rateAt(END)


# ------------------------------------------------------------------ C(S)


def test_costTo__exact_at_every_knot(fast_curve, rates):
    cumulative = 0
    for k in range(KNOTS):
        if k:
            trapezoid = Fraction(rates[k - 1] + rates[k], 2) * Fraction(STEP, UNIT)
            assert trapezoid.denominator == 1
            cumulative += int(trapezoid)
        assert fast_curve.costTo(k * STEP).call() == cumulative
    assert cumulative == exact_cost(rates, END)


def test_costTo__past_the_end__reverts(curve, rates):
    assert curve.costTo(END) == floor_cost(rates, END)
    with ape.reverts("curve: past the end"):
        curve.costTo(END + 1)


@given(supply=supplies)
@FAST
def test_costTo__rounded_down_between_knots(fast_curve, rates, supply):
    c = fast_curve.costTo(supply).call()
    exact = exact_cost(rates, supply)
    assert c <= exact < c + 1


def test_costTo__first_wei_and_first_diem(curve):
    assert curve.costTo(0) == 0
    assert curve.costTo(1) == 90  # 90 sVVV per whole DIEM is 90 wei per wei
    assert 90 * UNIT <= curve.costTo(UNIT) < 90 * UNIT + UNIT // 10**6


# ------------------------------------------------------------------ quotes vs the model


@given(supply=supplies, svvv=svvv_amounts)
@FAST
def test_quoteMint__agrees_with_model_and_definition(fast_curve, model, rates, supply, svvv):
    got = _try(lambda: fast_curve.quoteMint(supply, svvv).call())
    assert got == _try(lambda: model.quote_mint(supply, svvv))
    target = exact_cost(rates, supply) + svvv
    if got[1] is not None:
        assert got[1] == "curve: past the end"
        assert target >= exact_cost(rates, END)
        return
    d = got[0]
    # The largest D with C(S + D) <= C(S) + X, C exact: the protocol never gives DIEM worth
    # more than the sVVV locked.
    assert exact_cost(rates, supply + d) <= target
    assert supply + d + 1 <= END
    assert exact_cost(rates, supply + d + 1) > target


@given(supply=supplies, diem=st.one_of(st.integers(1, 10**6), st.integers(1, 80_000 * UNIT)))
@FAST
def test_quoteCost__agrees_with_model_and_definition(fast_curve, model, rates, supply, diem):
    got = _try(lambda: fast_curve.quoteCost(supply, diem).call())
    assert got == _try(lambda: model.quote_cost(supply, diem))
    if supply + diem >= END:
        assert got == (None, "curve: past the end")
    else:
        assert got == (floor_cost(rates, supply + diem) - floor_cost(rates, supply), None)


@given(supply=supplies, svvv=st.integers(1, 1_000_000 * VVV))
@FAST
def test_quoteCost__of_quoteMint_is_at_most_the_sVVV(fast_curve, supply, svvv):
    d, reason = _try(lambda: fast_curve.quoteMint(supply, svvv).call())
    assume(reason is None and supply + d + 1 < END)
    cost, next_cost = (fast_curve.quoteCost(supply, x).call() for x in (d, d + 1))
    # quoteCost rounds C down at both ends (it telescopes), quoteMint keeps C exact: one wei
    # more DIEM may quote exactly X, never less.
    assert cost <= svvv <= next_cost


# ------------------------------------------------------------------ path independence


@given(
    start=st.integers(0, 60_000 * UNIT),
    total=st.integers(10, 3_000_000 * VVV),
    weights=st.lists(st.integers(1, 1_000), min_size=2, max_size=8),
)
@SPLITS
def test_quoteMint__split_gives_same_within_k_wei_never_more(fast_curve, start, total, weights):
    k = len(weights)
    parts = [total * w // sum(weights) for w in weights]
    parts[-1] += total - sum(parts)
    assume(all(parts))
    one, reason = _try(lambda: fast_curve.quoteMint(start, total).call())
    assume(reason is None)
    supply = start
    for part in parts:
        supply += fast_curve.quoteMint(supply, part).call()
    split = supply - start
    assert split <= one
    assert one - split <= k


@given(
    start=st.integers(0, 60_000 * UNIT),
    outs=st.lists(
        st.one_of(st.integers(1, 1_000), st.integers(1, 2_000 * UNIT)), min_size=2, max_size=8
    ),
)
@SPLITS
def test_quoteCost__split_telescopes_exactly(fast_curve, rates, start, outs):
    assume(start + sum(outs) < END)
    supply, paid = start, 0
    for d in outs:
        paid += fast_curve.quoteCost(supply, d).call()
        supply += d
    assert paid == fast_curve.quoteCost(start, sum(outs)).call()
    assert paid == floor_cost(rates, start + sum(outs)) - floor_cost(rates, start)


# ------------------------------------------------------------------ launch mode


def test_setLaunchMode__closed_blocks_minting(curve, staking, fund, owner, alice):
    fund(alice, 10_000 * VVV)
    staking.stake(alice, 10_000 * VVV, sender=alice)
    tx = curve.setLaunchMode(CLOSED, 100, sender=owner)
    assert contract_events(tx, curve) == [
        ("LaunchModeSet", {"mode": CLOSED, "punitiveMultiplier": 100})
    ]
    assert curve.launchMode() == CLOSED
    with ape.reverts("curve: minting closed"):
        curve.quoteMint(0, VVV)
    with ape.reverts("curve: minting closed"):
        curve.quoteCost(0, VVV)
    with ape.reverts("curve: minting closed"):
        staking.getDiemAmountOut(VVV)
    with ape.reverts("curve: minting closed"):
        staking.mintDiem(1_000 * VVV, 0, sender=alice)
    with ape.reverts("curve: minting closed"):
        staking.mintExactDiem(VVV, MAX_UINT, sender=alice)
    assert staking.lockedStakes(alice) == (0, 0)
    # The table itself still reads.
    assert curve.rateAt(0) == 90 * UNIT
    assert curve.costTo(STEP) > 0


@pytest.mark.parametrize("multiplier", [2, 100, 1_000_000])
def test_setLaunchMode__punitive_divides_credited_svvv(curve, rates, owner, multiplier):
    points = [(0, 1_000_000 * VVV + 12_345), (7 * STEP + 3, 55_555 * VVV), (30_000 * UNIT, VVV)]
    open_full = [curve.quoteMint(s, x) for s, x in points]
    open_credited = [curve.quoteMint(s, x // multiplier) for s, x in points]
    open_cost = [curve.quoteCost(s, 10 * UNIT + 1) for s, _ in points]
    tx = curve.setLaunchMode(PUNITIVE, multiplier, sender=owner)
    assert contract_events(tx, curve) == [
        ("LaunchModeSet", {"mode": PUNITIVE, "punitiveMultiplier": multiplier})
    ]
    assert (curve.launchMode(), curve.punitiveMultiplier()) == (PUNITIVE, multiplier)
    for i, (s, x) in enumerate(points):
        d = curve.quoteMint(s, x)
        assert d == open_credited[i] < open_full[i]
        # The largest D with C(S + D) <= C(S) + X // multiplier.
        target = exact_cost(rates, s) + x // multiplier
        assert exact_cost(rates, s + d) <= target < exact_cost(rates, s + d + 1)
        assert curve.quoteCost(s, 10 * UNIT + 1) == open_cost[i] * multiplier
    # Back to open: the same quotes as before.
    curve.setLaunchMode(OPEN, multiplier, sender=owner)
    assert [curve.quoteMint(s, x) for s, x in points] == open_full


def test_setLaunchMode__punitive_through_staking(curve, staking, diem, fund, owner, alice, rates):
    fund(alice, 100_000 * VVV)
    staking.stake(alice, 100_000 * VVV, sender=alice)
    curve.setLaunchMode(PUNITIVE, 100, sender=owner)
    x = 90_000 * VVV + 77
    quote = staking.getDiemAmountOut(x)
    staking.mintDiem(x, quote, sender=alice)
    # All of x is locked, but only x // 100 is credited on the curve.
    assert staking.lockedStakes(alice) == (x, quote)
    assert exact_cost(rates, quote) <= x // 100 < exact_cost(rates, quote + 1)
    assert diem.balanceOf(alice) == quote
    assert 9 * UNIT < quote < 10 * UNIT  # about 900 sVVV credited at 90 per DIEM


@pytest.mark.parametrize(
    ("mode", "multiplier", "reason"),
    [
        (3, 100, "curve: bad mode"),
        (255, 100, "curve: bad mode"),
        (OPEN, 0, "curve: bad multiplier"),
        (OPEN, 1, "curve: bad multiplier"),
        (PUNITIVE, 1_000_001, "curve: bad multiplier"),
        (PUNITIVE, MAX_UINT, "curve: bad multiplier"),
    ],
)
def test_setLaunchMode__bounds__revert(curve, owner, mode, multiplier, reason, storage_roots):
    refused_changing_nothing(
        storage_roots, reason, lambda: curve.setLaunchMode(mode, multiplier, sender=owner)
    )
    assert (curve.launchMode(), curve.punitiveMultiplier()) == (OPEN, 100)


def test_setLaunchMode__not_owner__reverts(curve, alice):
    with ape.reverts(NOT_OWNER):
        curve.setLaunchMode(CLOSED, 100, sender=alice)
    assert curve.launchMode() == OPEN


# ------------------------------------------------------------------ setCurve


def test_setCurve__replaces_table_and_logs(curve, owner):
    new = [100 * UNIT, 200 * UNIT, 200 * UNIT, 400 * UNIT]
    tx = curve.setCurve(new, sender=owner)
    assert contract_events(tx, curve) == [
        (
            "CurveSet",
            {"knots": 4, "endSupply": 3 * STEP, "firstRate": 100 * UNIT, "lastRate": 400 * UNIT},
        )
    ]
    assert list(curve.knots()) == new
    assert curve.intervals() == 3
    assert curve.endSupply() == 3 * STEP
    # 500 DIEM at 100 -> 200: 75_000 sVVV; then 100_000; then 150_000.
    assert curve.costTo(STEP) == 75_000 * VVV
    assert curve.costTo(2 * STEP) == 175_000 * VVV
    assert curve.costTo(3 * STEP) == 325_000 * VVV
    assert curve.costTo(STEP + 250 * UNIT) == 125_000 * VVV  # flat at 200
    assert curve.quoteMint(STEP, 50_000 * VVV) == 250 * UNIT
    assert curve.rateAt(2 * STEP + 250 * UNIT) == 300 * UNIT
    assert curve.launchMode() == OPEN  # untouched


def test_setCurve__two_knots_and_max_rate_accepted(curve, owner):
    curve.setCurve([MAX_RATE, MAX_RATE], sender=owner)
    assert list(curve.knots()) == [MAX_RATE, MAX_RATE]
    assert curve.costTo(STEP) == MAX_RATE * 500
    curve.setCurve([1, 1], sender=owner)
    assert curve.costTo(STEP) == 500


def test_setCurve__not_owner__reverts(curve, alice, rates):
    with ape.reverts(NOT_OWNER):
        curve.setCurve([UNIT, UNIT], sender=alice)
    assert list(curve.knots()) == rates


@pytest.mark.parametrize(
    ("new", "reason"),
    [
        ([], "curve: needs 2 knots"),
        ([90 * UNIT], "curve: needs 2 knots"),
        ([0, 90 * UNIT], "curve: rate out of bounds"),
        ([90 * UNIT, 90 * UNIT, 0], "curve: rate out of bounds"),
        ([90 * UNIT, MAX_RATE + 1], "curve: rate out of bounds"),
        ([MAX_UINT, MAX_UINT], "curve: rate out of bounds"),
        ([90 * UNIT, 100 * UNIT, 100 * UNIT - 1], "curve: rate decreasing"),
        ([2, 1], "curve: rate decreasing"),
    ],
    ids=[
        "no_knots",
        "one_knot",
        "zero_first",
        "zero_last",
        "above_max",
        "max_uint",
        "decreasing_by_1",
        "decreasing_start",
    ],
)
def test_setCurve__bounds__revert(curve, owner, rates, new, reason, storage_roots):
    refused_changing_nothing(storage_roots, reason, lambda: curve.setCurve(new, sender=owner))
    assert list(curve.knots()) == rates


# ------------------------------------------------------------------ past the end


def test_quoteMint__default_curve_ends_at_76k(curve, rates):
    whole = curve.costTo(END)
    assert whole == floor_cost(rates, END)  # about 1.34e12 sVVV for all 76_000 DIEM
    assert curve.quoteMint(0, whole - 1) == END - 1
    assert curve.quoteMint(END - 1, 0) == 0
    for supply, svvv in ((0, whole), (END // 2, whole), (END - 1, VVV)):
        with ape.reverts("curve: past the end"):
            curve.quoteMint(supply, svvv)


def test_quote__past_the_end__reverts(curve, owner):
    curve.setCurve([100 * UNIT, 300 * UNIT], sender=owner)  # 500 DIEM for 100_000 sVVV
    total = 100_000 * VVV
    assert curve.costTo(STEP) == total
    d = curve.quoteMint(0, total - 1)
    assert d < STEP
    small = [100 * UNIT, 300 * UNIT]
    assert exact_cost(small, d) <= total - 1 < exact_cost(small, d + 1)
    with ape.reverts("curve: past the end"):
        curve.quoteMint(0, total)  # would reach the end itself
    with ape.reverts("curve: past the end"):
        curve.quoteMint(STEP - 1, 1_000 * VVV)
    assert curve.quoteCost(0, STEP - 1) == curve.costTo(STEP - 1)
    with ape.reverts("curve: past the end"):
        curve.quoteCost(0, STEP)
    with ape.reverts("curve: past the end"):
        curve.quoteCost(STEP, 1)


def test_mint__past_the_end_through_staking__reverts(
    curve, staking, diem, fund, owner, alice, storage_roots
):
    curve.setCurve([100 * UNIT, 300 * UNIT], sender=owner)
    fund(alice, 200_000 * VVV)
    staking.stake(alice, 200_000 * VVV, sender=alice)
    staking.mintExactDiem(400 * UNIT, MAX_UINT, sender=alice)
    roots = storage_roots()
    with ape.reverts("curve: past the end"):
        staking.mintDiem(100_000 * VVV, 0, sender=alice)
    with ape.reverts("curve: past the end"):
        staking.mintExactDiem(100 * UNIT, MAX_UINT, sender=alice)
    assert storage_roots() == roots
    assert diem.totalSupply() == 400 * UNIT
    # Up to just below the end still mints.
    staking.mintExactDiem(100 * UNIT - 1, MAX_UINT, sender=alice)
    assert diem.totalSupply() == STEP - 1
