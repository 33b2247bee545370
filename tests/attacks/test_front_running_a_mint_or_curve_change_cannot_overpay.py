"""Front-running a DIEM mint, or a governance change of the mint curve between a minter's quote
and its mint, makes the mint revert: it never mints less than the minter's minimum or locks
more than its maximum.

Each attack puts the attacker's (or governance's) transaction and the victim's in one block,
the attacker's first (automine off), on the deployed suite. The victim quotes in the block
before, as a wallet would, and sets its bound from the quote and a tolerance.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.support.chain import in_one_block, rewound, traced_reason
from tests.support.constants import BPS, UNIT, VVV
from tests.support.profiles import MODEST
from venice_ops.rpc import bind, call_all, send

CLOSED, PUNITIVE = 0, 1


@pytest.fixture(scope="module")
def minters(suite, fund, alice, attacker):
    """alice (the victim) and the attacker, each with 3M VVV staked."""
    for who in (alice, attacker):
        fund(who, 3_000_000 * VVV)
        suite.staking.stake(who, 3_000_000 * VVV, sender=who)
    return {
        "staking": bind(suite.staking),
        "diem": bind(suite.diem),
        "curve": bind(suite.curve),
        "victim": alice.address,
        "attacker": attacker.address,
    }


def position(m: dict[str, Any]) -> tuple[Any, ...]:
    """The victim's lock, DIEM balance and sVVV stake."""
    s, d = m["staking"].functions, m["diem"].functions
    v = m["victim"]
    return tuple(call_all([s.lockedStakes(v), d.balanceOf(v), s.balanceOf(v)]))


def race(m: dict[str, Any], front: tuple[Any, str], victim_call: Any) -> tuple[dict, tuple]:
    """The front-runner's transaction then the victim's, in one block; the victim's receipt
    and its position before."""
    before = position(m)
    front_receipt, receipt = in_one_block([front, (victim_call, m["victim"])])
    assert front_receipt["status"] == 1, traced_reason(front_receipt)
    return receipt, before


@MODEST
@given(
    svvv=st.integers(1_000, 1_000_000),
    front=st.integers(1_000, 2_000_000),
    tolerance=st.integers(0, 500),
)
def test_front_run_mint_by_svvv__reverts_or_mints_at_least_the_minimum(
    minters, svvv, front, tolerance
):
    m = minters
    s = m["staking"].functions
    with rewound():
        quote = s.getDiemAmountOut(svvv * VVV).call()
        minimum = quote * (BPS - tolerance) // BPS
        receipt, before = race(
            m, (s.mintDiem(front * VVV, 0), m["attacker"]), s.mintDiem(svvv * VVV, minimum)
        )
        (locked, outstanding), diem, staked = position(m)
        event("minted within the bound" if receipt["status"] == 1 else "reverted")
        if receipt["status"] == 1:
            minted = diem - before[1]
            assert minimum <= minted < quote  # the front-run raised the price; the bound held
            assert (locked, outstanding) == (before[0][0] + svvv * VVV, before[0][1] + minted)
        else:
            assert traced_reason(receipt) == "sVVV: slippage"
            assert ((locked, outstanding), diem, staked) == before


@MODEST
@given(
    diem=st.integers(1, 3_000),
    front=st.integers(1_000, 2_000_000),
    tolerance=st.integers(0, 500),
)
def test_front_run_exact_out_mint__reverts_or_locks_at_most_the_maximum(
    minters, diem, front, tolerance
):
    m = minters
    s = m["staking"].functions
    with rewound():
        quote = s.getSVVVAmountIn(diem * UNIT).call()
        maximum = quote * (BPS + tolerance) // BPS
        receipt, before = race(
            m,
            (s.mintDiem(front * VVV, 0), m["attacker"]),
            s.mintExactDiem(diem * UNIT, maximum),
        )
        (locked, outstanding), balance, _ = position(m)
        event("minted within the bound" if receipt["status"] == 1 else "reverted")
        if receipt["status"] == 1:
            assert quote < locked - before[0][0] <= maximum
            assert balance - before[1] == diem * UNIT == outstanding - before[0][1]
        else:
            assert traced_reason(receipt) == "sVVV: slippage"
            assert ((locked, outstanding), balance) == (before[0], before[1])


def _doubled(rates: list[int]) -> list[int]:
    return [min(2 * r, 10**9 * UNIT) for r in rates]


@pytest.mark.parametrize("change", ["curve_doubled", "punitive_launch_mode", "minting_closed"])
@pytest.mark.parametrize("mint", ["by_svvv", "exact_out"])
def test_governance_curve_change_between_quote_and_mint__the_mint_reverts(
    minters, owner, change, mint
):
    """Governance's change lands first in the block; the victim's mint, bounded by a quote
    from the block before, reverts and its position is unchanged."""
    m = minters
    s, c = m["staking"].functions, m["curve"].functions
    if change == "curve_doubled":
        front = c.setCurve(_doubled(c.knots().call()))
    elif change == "punitive_launch_mode":
        front = c.setLaunchMode(PUNITIVE, 100)
    else:
        front = c.setLaunchMode(CLOSED, 100)
    if mint == "by_svvv":
        amount = 100_000 * VVV
        victim = s.mintDiem(amount, s.getDiemAmountOut(amount).call())
    else:
        amount = 100 * UNIT
        victim = s.mintExactDiem(amount, s.getSVVVAmountIn(amount).call())
    receipt, before = race(m, (front, owner.address), victim)
    assert receipt["status"] == 0
    expected = "curve: minting closed" if change == "minting_closed" else "sVVV: slippage"
    assert traced_reason(receipt) == expected
    assert position(m) == before


def test_front_run_mint__an_unbounded_mint_is_what_overpays(minters):
    """Why the bound matters: the same front-run against a mint with no minimum gives the victim
    less DIEM than its quote, for the same sVVV locked."""
    m = minters
    s = m["staking"].functions
    with rewound():
        quote = s.getDiemAmountOut(500_000 * VVV).call()
        receipt, before = race(
            m, (s.mintDiem(2_000_000 * VVV, 0), m["attacker"]), s.mintDiem(500_000 * VVV, 0)
        )
        assert receipt["status"] == 1
        assert position(m)[1] - before[1] < quote
        send(s.burnDiem(1), m["victim"])  # the lock is real: it burns back
