"""quoteMint rounds in the protocol's favour: the DIEM a mint gives has an exact cost (C as an
exact rational, tests/support/curve.py) of at most the sVVV locked, and one wei more DIEM
would cost more than that. Before, C(S) was rounded down first and the inverse kept every
supply whose rounded-down C fitted, so a mint could give DIEM whose exact cost was up to 1 wei
above the sVVV locked (X below: exact cost X + 0.502 wei). The Python mirror agrees to the wei.

Also: quotes past the end of the curve revert with the curve's reason, whatever the numbers
(`quoteCost(1, 2**256 - 1)` overflowed bare before its check).
"""

from __future__ import annotations

from fractions import Fraction

import ape
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.exceptions import ContractLogicError

from tests.support.chain import revert_reason
from tests.support.constants import MAX_UINT, STEP, UNIT, VVV
from tests.support.curve import exact_cost, floor_cost
from venice_sdk.model import ModelRevert
from venice_sdk.model.curve import MintCurveModel

X = 90_001_025_128_402_978_210_770  # the issue's example: ~1_000 DIEM at supply 0
END = 76_000 * UNIT
PUNITIVE, OPEN = 1, 2

FAST = settings(max_examples=150, suppress_health_check=list(HealthCheck), derandomize=True)


def _cost(rates, supply: int, diem: int) -> Fraction:
    return exact_cost(rates, supply + diem) - exact_cost(rates, supply)


def test_quoteMint__the_issues_X__exact_cost_at_most_X(curve, rates, model):
    d = curve.quoteMint(0, X)
    assert d == model.quote_mint(0, X)
    assert _cost(rates, 0, d) <= X < _cost(rates, 0, d + 1)
    # One wei more DIEM is what the old rounding gave: it fits floor C, at X + 0.502 wei.
    assert floor_cost(rates, d + 1) <= X
    assert round(float(_cost(rates, 0, d + 1) - X), 3) == 0.502


def test_mintDiem__the_issues_X__locks_at_least_the_exact_cost(
    fund, staking, diem, alice, rates, storage_roots
):
    fund(alice, 100_000 * VVV)
    staking.stake(alice, 100_000 * VVV, sender=alice)
    quote = staking.getDiemAmountOut(X)
    staking.mintDiem(X, quote, sender=alice)
    locked, outstanding = staking.lockedStakes(alice)
    assert (locked, outstanding, diem.balanceOf(alice)) == (X, quote, quote)
    assert exact_cost(rates, quote) <= locked


supplies = st.one_of(
    st.integers(0, END - 1),
    st.builds(
        lambda k, d: min(max(k * STEP + d, 0), END - 1), st.integers(0, 151), st.integers(-2, 2)
    ),
)
amounts = st.one_of(st.integers(1, 10_000), st.integers(1, 2_000_000 * VVV))


@given(supply=supplies, svvv=amounts)
@FAST
def test_quoteMint__exact_cost_at_most_the_sVVV_and_the_most_such(
    fast_curve, model, rates, supply, svvv
):
    try:
        d = fast_curve.quoteMint(supply, svvv).call()
    except ContractLogicError as exc:
        assert revert_reason(exc) == "curve: past the end"
        with pytest.raises(ModelRevert, match="curve: past the end"):
            model.quote_mint(supply, svvv)
        assert exact_cost(rates, supply) + svvv >= exact_cost(rates, END)
        return
    assert d == model.quote_mint(supply, svvv)
    assert _cost(rates, supply, d) <= svvv
    assert supply + d + 1 > END or _cost(rates, supply, d + 1) > svvv


@given(supply=supplies, svvv=amounts, multiplier=st.integers(2, 1_000))
@FAST
def test_quoteMint__punitive__exact_cost_times_multiplier_at_most_the_sVVV(
    rates, supply, svvv, multiplier
):
    punitive = MintCurveModel(rates, mode=PUNITIVE, punitive_multiplier=multiplier)
    try:
        d = punitive.quote_mint(supply, svvv)
    except ModelRevert:
        return
    assert _cost(rates, supply, d) * multiplier <= svvv


def test_quoteMint__punitive_on_chain_agrees_with_the_model(curve, owner, rates):
    curve.setLaunchMode(PUNITIVE, 7, sender=owner)
    punitive = MintCurveModel(rates, mode=PUNITIVE, punitive_multiplier=7)
    for supply, svvv in ((0, X), (STEP - 1, 7 * X + 6), (10_000 * UNIT + 3, 10**9)):
        d = curve.quoteMint(supply, svvv)
        assert d == punitive.quote_mint(supply, svvv)
        assert _cost(rates, supply, d) * 7 <= svvv


# ------------------------------------------------------------------ reasons, never bare


@pytest.mark.parametrize(
    ("supply", "diem_out"),
    [(1, MAX_UINT), (MAX_UINT, 1), (MAX_UINT, MAX_UINT), (END, 0), (END - 1, 1), (0, END)],
)
def test_quoteCost__past_the_end__reason(curve, model, supply, diem_out):
    with ape.reverts("curve: past the end"):
        curve.quoteCost(supply, diem_out)
    with pytest.raises(ModelRevert, match="curve: past the end"):
        model.quote_cost(supply, diem_out)


@pytest.mark.parametrize(("supply", "svvv"), [(MAX_UINT, 1), (END + 1, 0), (END, 0)])
def test_quoteMint__past_the_end__reason(curve, supply, svvv):
    with ape.reverts("curve: past the end"):
        curve.quoteMint(supply, svvv)


def test_mintExactDiem__past_the_end__reason(fund, staking, alice, storage_roots):
    fund(alice, 1_000 * VVV)
    staking.stake(alice, 1_000 * VVV, sender=alice)
    roots = storage_roots()
    for amount in (MAX_UINT, END):
        with ape.reverts("curve: past the end"):
            staking.getSVVVAmountIn(amount)
        with ape.reverts("curve: past the end"):
            staking.mintExactDiem(amount, MAX_UINT, sender=alice)
    assert storage_roots() == roots
