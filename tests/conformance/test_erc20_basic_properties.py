"""Trail of Bits' ERC-20 basic properties (crytic/properties, ERC20BasicProperties and
ERC20ExternalBasicProperties), ported to hypothesis for VVV and DIEM.

Each test is named after its property and keeps its preconditions (crytic's `require`s). The
roles: a user holds the token (crytic's `msg.sender`, USER1-3) and approves a spender (crytic's
test contract); a failed call may revert or return false, and must leave the balances as they
were. One documented deviation: DIEM refuses transfers to the DIEM contract itself (staking
lives on the token), so the target of a transfer is never the token (tested in
tests/attacks/test_donations_change_no_accounting.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from web3.exceptions import ContractLogicError

from tests.support.constants import MAX_UINT, ZERO
from tests.support.profiles import MODEST
from venice_ops.rpc import Reverted, call_all, send

uint256 = st.integers(0, MAX_UINT)
user = st.integers(0, 2)
# A target: another user, the spender, or an address no one uses.
# Any holder or a fresh address; never the zero address (transfers to it revert by design,
# tested on their own; hypothesis shrinks random addresses towards it).
target = st.one_of(
    st.integers(0, 3),
    st.binary(min_size=20, max_size=20).map(to_checksum_address).filter(lambda a: a != ZERO),
)


def pick(token: Any, who: int | str) -> str:
    if isinstance(who, str):
        return who
    return [*token.users, token.spender][who]


def balances(token: Any, *accounts: str) -> list[int]:
    return call_all([token.contract.functions.balanceOf(a) for a in accounts])


def succeeds(token: Any, fn: Any, sender: str) -> None:
    """crytic's `assertWithMsg(r == true)`: the call returns true, then it is sent."""
    assert fn.call({"from": sender}) is True
    send(fn, sender)


def fails(fn: Any, sender: str) -> None:
    """crytic's `assertWithMsg(r == false)`: the call reverts or returns false."""
    try:
        returned = fn.call({"from": sender})
    except ContractLogicError:
        with pytest.raises(Reverted):
            send(fn, sender)
        return
    assert returned is False


def approve(token: Any, owner: str, amount: int) -> None:
    send(token.contract.functions.approve(token.spender, amount), owner)


def spendable(token: Any, owner: str, allowance: int, value: int) -> tuple[int, int]:
    """Approve the spender for `allowance`; the owner's balance and `value` reduced to at most
    what the spender may move (crytic's `value % (maxValue + 1)`)."""
    approve(token, owner, allowance)
    [balance] = balances(token, owner)
    return balance, value % (min(balance, allowance) + 1)


@MODEST
@given(who=user)
def test_ERC20_transferToZeroAddress(token, who):
    """Transfers to the zero address are not allowed."""
    u = pick(token, who)
    [balance] = balances(token, u)
    fails(token.contract.functions.transfer(ZERO, balance), u)
    assert balances(token, u, ZERO) == [balance, 0]


@MODEST
@given(who=user, allowance=st.integers(1, MAX_UINT), value=uint256)
def test_ERC20_transferFromToZeroAddress(token, who, allowance, value):
    """transferFrom to the zero address is not allowed."""
    u = pick(token, who)
    balance, amount = spendable(token, u, allowance, value)
    fails(token.contract.functions.transferFrom(u, ZERO, amount), token.spender)
    assert balances(token, u, ZERO) == [balance, 0]


@MODEST
@given(who=user, allowance=st.integers(1, MAX_UINT), value=uint256)
def test_ERC20_selfTransferFrom(token, who, allowance, value):
    """A transferFrom from an account to itself does not break accounting."""
    u = pick(token, who)
    balance, amount = spendable(token, u, allowance, value)
    succeeds(token, token.contract.functions.transferFrom(u, u, amount), token.spender)
    assert balances(token, u) == [balance]


@MODEST
@given(who=user, value=uint256)
def test_ERC20_selfTransfer(token, who, value):
    """A transfer to oneself does not break accounting."""
    u = pick(token, who)
    [balance] = balances(token, u)
    succeeds(token, token.contract.functions.transfer(u, value % (balance + 1)), u)
    assert balances(token, u) == [balance]


@MODEST
@given(who=user, to=target)
def test_ERC20_transferFromMoreThanBalance(token, who, to):
    """transferFrom of more than the balance is not allowed and changes no balance."""
    u, t = pick(token, who), pick(token, to)
    [balance] = balances(token, u)
    approve(token, u, balance + 1 + (MAX_UINT - balance - 1) // 2)  # allowance > balance
    before = balances(token, u, t)
    fails(token.contract.functions.transferFrom(u, t, balance + 1), token.spender)
    assert balances(token, u, t) == before


@MODEST
@given(who=user, to=target)
def test_ERC20_transferMoreThanBalance(token, who, to):
    """A transfer of more than the balance is not allowed and changes no balance."""
    u, t = pick(token, who), pick(token, to)
    before = balances(token, u, t)
    fails(token.contract.functions.transfer(t, before[0] + 1), u)
    assert balances(token, u, t) == before


@MODEST
@given(who=user, to=target)
def test_ERC20_transferZeroAmount(token, who, to):
    """A zero-amount transfer succeeds and changes no balance."""
    u, t = pick(token, who), pick(token, to)
    before = balances(token, u, t)
    succeeds(token, token.contract.functions.transfer(t, 0), u)
    assert balances(token, u, t) == before


@MODEST
@given(who=user, to=target, allowance=st.integers(1, MAX_UINT))
def test_ERC20_transferFromZeroAmount(token, who, to, allowance):
    """A zero-amount transferFrom succeeds and changes no balance."""
    u, t = pick(token, who), pick(token, to)
    approve(token, u, allowance)
    before = balances(token, u, t)
    succeeds(token, token.contract.functions.transferFrom(u, t, 0), token.spender)
    assert balances(token, u, t) == before


@MODEST
@given(who=user, to=target, amount=uint256)
def test_ERC20_transfer(token, who, to, amount):
    """A transfer moves exactly the amount from the sender to the target."""
    u, t = pick(token, who), pick(token, to)
    if t == u:
        t = token.spender
    balance, received = balances(token, u, t)
    assume(balance > 2)
    value = amount % balance + 1
    succeeds(token, token.contract.functions.transfer(t, value), u)
    assert balances(token, u, t) == [balance - value, received + value]


@MODEST
@given(who=user, to=target, amount=uint256)
def test_ERC20_transferFrom(token, who, to, amount):
    """A transferFrom moves exactly the amount from the owner to the target."""
    u, t = pick(token, who), pick(token, to)
    if t in (u, token.spender):
        t = pick(token, (who + 1) % 3)
    balance, received = balances(token, u, t)
    assume(balance > 2)
    approve(token, u, balance + 1)
    value = amount % balance + 1
    succeeds(token, token.contract.functions.transferFrom(u, t, value), token.spender)
    assert balances(token, u, t) == [balance - value, received + value]


@MODEST
@given(who=user, to=target, amount=uint256)
def test_ERC20_setAllowance(token, who, to, amount):
    """approve sets exactly the allowance."""
    u, t = pick(token, who), pick(token, to)
    succeeds(token, token.contract.functions.approve(t, amount), u)
    assert token.contract.functions.allowance(u, t).call() == amount


@MODEST
@given(who=user, to=target, amount=uint256)
def test_ERC20_setAllowanceTwice(token, who, to, amount):
    """A second approve replaces the first allowance."""
    u, t = pick(token, who), pick(token, to)
    allowance = token.contract.functions.allowance
    succeeds(token, token.contract.functions.approve(t, amount), u)
    assert allowance(u, t).call() == amount
    succeeds(token, token.contract.functions.approve(t, amount // 2), u)
    assert allowance(u, t).call() == amount // 2


@MODEST
@given(who=user, to=target, extra=st.integers(1, MAX_UINT), amount=uint256)
def test_ERC20_spendAllowanceAfterTransfer(token, who, to, extra, amount):
    """transferFrom spends the allowance (an allowance of 2**256 - 1 is infinite)."""
    u, t = pick(token, who), pick(token, to)
    if t in (u, token.spender):
        t = pick(token, (who + 1) % 3)
    [balance] = balances(token, u)
    assume(balance > 0)
    current = min(balance + extra, MAX_UINT)  # > balance
    approve(token, u, current)
    value = amount % balance + 1
    succeeds(token, token.contract.functions.transferFrom(u, t, value), token.spender)
    left = token.contract.functions.allowance(u, token.spender).call()
    assert left == (current if current == MAX_UINT else current - value)


@MODEST
@given(who=user, to=target, allowance=uint256)
def test_ERC20_transferFromMoreThanAllowance(token, who, to, allowance):
    """transferFrom of more than the allowance is not allowed and changes no balance."""
    u, t = pick(token, who), pick(token, to)
    [balance] = balances(token, u)
    assume(balance > 0)
    allowance %= balance  # < balance
    approve(token, u, allowance)
    before = balances(token, u, t)
    fails(token.contract.functions.transferFrom(u, t, allowance + 1), token.spender)
    assert balances(token, u, t) == before


class Invariants(RuleBasedStateMachine):
    """Any sequence of transfers, transferFroms and approvals among the users and the spender
    (crytic's fuzzer between property checks); the invariant properties after every step."""

    token: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.supply = self.token.contract.functions.totalSupply().call()
        self.accounts = [*self.token.users, self.token.spender]

    @rule(who=st.integers(0, 3), to=st.integers(0, 3), amount=uint256)
    def transfer(self, who, to, amount):
        u, t = self.accounts[who], self.accounts[to]
        [balance] = balances(self.token, u)
        send(self.token.contract.functions.transfer(t, amount % (balance + 1)), u)

    @rule(who=st.integers(0, 3), amount=uint256)
    def approve(self, who, amount):
        send(self.token.contract.functions.approve(self.token.spender, amount), self.accounts[who])

    @rule(who=st.integers(0, 3), to=st.integers(0, 3), amount=uint256)
    def transfer_from(self, who, to, amount):
        f = self.token.contract.functions
        u, t = self.accounts[who], self.accounts[to]
        [balance, allowance] = call_all([f.balanceOf(u), f.allowance(u, self.token.spender)])
        send(f.transferFrom(u, t, amount % (min(balance, allowance) + 1)), self.token.spender)

    @invariant()
    def test_ERC20_userBalanceNotHigherThanSupply(self):
        f = self.token.contract.functions
        supply, *held = call_all([f.totalSupply(), *(f.balanceOf(a) for a in self.accounts)])
        assert all(b <= supply for b in held)

    @invariant()
    def test_ERC20_usersBalancesNotHigherThanSupply(self):
        f = self.token.contract.functions
        supply, *held = call_all([f.totalSupply(), *(f.balanceOf(a) for a in self.accounts)])
        assert sum(held) <= supply

    @invariant()
    def test_ERC20_zeroAddressBalance(self):
        assert self.token.contract.functions.balanceOf(ZERO).call() == 0

    @invariant()
    def test_ERC20_constantSupply(self):
        """Only a mint or a burn changes the supply: no transfer or approval does."""
        assert self.token.contract.functions.totalSupply().call() == self.supply


def test_ERC20_invariant_properties__hold_after_any_sequence(token):
    """userBalanceNotHigherThanSupply, usersBalancesNotHigherThanSupply, zeroAddressBalance and
    constantSupply, checked after every step."""
    Invariants.token = token
    run_state_machine_as_test(
        Invariants,
        settings=settings(
            max_examples=8,
            stateful_step_count=10,
            suppress_health_check=list(HealthCheck),
        ),
    )
