"""Trail of Bits' ERC-20 burnable properties (crytic/properties, ERC20BurnableProperties and
ERC20ExternalBurnableProperties), ported to hypothesis.

VVV burns with `burn` and `burn_from` (snekmate's name for burnFrom). DIEM has no public burn:
its holder burns through the staking contract's `burnDiem`, which burns from the caller's own
balance to release its lock (so at least one wei, at most what it has outstanding); burnFrom
does not exist for DIEM.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.constants import MAX_UINT
from tests.support.profiles import MODEST
from venice_ops.rpc import call_all, send

uint256 = st.integers(0, MAX_UINT)
user = st.integers(0, 2)


def state(token, account):
    f = token.contract.functions
    return call_all([f.balanceOf(account), f.totalSupply()])


@MODEST
@given(who=user, amount=uint256)
def test_ERC20_burn(token, who, amount):
    """A burn lowers the holder's balance and the total supply by exactly the amount."""
    u = token.users[who]
    balance, supply = state(token, u)
    if token.name == "VVV":
        burned = amount % (balance + 1)
        send(token.contract.functions.burn(burned), u)
    else:
        outstanding = token.staking.functions.lockedStakes(u).call()[1]
        burned = amount % min(balance, outstanding) + 1
        send(token.staking.functions.burnDiem(burned), u)
    assert state(token, u) == [balance - burned, supply - burned]


def burn_from(token, who, extra, amount):
    """The spender, approved for more than the balance, burns part of it; (owner, balance and
    supply before, allowance before, burned)."""
    if token.name == "DIEM":
        pytest.skip("DIEM has no burnFrom")
    u = token.users[who]
    balance, supply = state(token, u)
    allowance = min(balance + extra, MAX_UINT)
    send(token.contract.functions.approve(token.spender, allowance), u)
    burned = amount % (balance + 1)
    send(token.contract.functions.burn_from(u, burned), token.spender)
    return u, balance, supply, allowance, burned


@MODEST
@given(who=user, extra=st.integers(1, MAX_UINT), amount=uint256)
def test_ERC20_burnFrom(token, who, extra, amount):
    """A burnFrom lowers the owner's balance and the total supply by exactly the amount."""
    u, balance, supply, _, burned = burn_from(token, who, extra, amount)
    assert state(token, u) == [balance - burned, supply - burned]


@MODEST
@given(who=user, extra=st.integers(1, MAX_UINT), amount=uint256)
def test_ERC20_burnFromUpdateAllowance(token, who, extra, amount):
    """burnFrom spends the allowance (an allowance of 2**256 - 1 is infinite)."""
    u, _, _, allowance, burned = burn_from(token, who, extra, amount)
    left = token.contract.functions.allowance(u, token.spender).call()
    assert left == (allowance if allowance == MAX_UINT else allowance - burned)
