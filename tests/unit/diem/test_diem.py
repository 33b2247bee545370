"""DIEM: ERC-20 with EIP-2612 permit, minted and burned only by the staking contract, and
staking on the token itself (stake, one cooldown bucket, unstake).

DIEM enters the tests the only way it can: alice locks sVVV with `mintExactDiem`, which mints
exactly the DIEM asked for.
"""

from __future__ import annotations

import ape
import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak

from tests.support.constants import DAY, MAX_UINT, VVV, ZERO
from tests.support.events import contract_events
from tests.support.permit import sign_permit

MINTED = 100 * VVV  # alice's DIEM


@pytest.fixture
def minted(fund, staking, diem, alice):
    """alice: 100_000 VVV staked, 100 DIEM minted against part of it."""
    fund(alice, 100_000 * VVV)
    staking.stake(alice, 100_000 * VVV, sender=alice)
    staking.mintExactDiem(MINTED, MAX_UINT, sender=alice)
    assert diem.balanceOf(alice) == MINTED


def _stake_state(diem, account) -> tuple:
    return (
        diem.balanceOf(account),
        diem.stakedInfos(account),
        diem.totalStaked(),
        diem.totalCoolingDown(),
        diem.balanceOf(diem),
        diem.totalSupply(),
    )


# ------------------------------------------------------------------ metadata


def test_metadata__name_symbol_decimals(diem, staking, config):
    assert diem.name() == "Diem"
    assert diem.symbol() == "DIEM"
    assert diem.decimals() == 18
    assert diem.totalSupply() == 0
    assert diem.STAKING() == staking.address
    assert diem.cooldownDuration() == config.diem_cooldown == DAY
    assert diem.totalStaked() == 0
    assert diem.totalCoolingDown() == 0
    assert staking.diem() == diem.address


# ------------------------------------------------------------------ ERC-20


def test_transfer__moves_balance_and_logs(diem, minted, alice, bob):
    tx = diem.transfer(bob, 30 * VVV + 1, sender=alice)
    assert diem.balanceOf(alice) == MINTED - 30 * VVV - 1
    assert diem.balanceOf(bob) == 30 * VVV + 1
    assert diem.totalSupply() == MINTED
    assert contract_events(tx, diem) == [
        ("Transfer", {"sender": alice.address, "receiver": bob.address, "value": 30 * VVV + 1})
    ]


def test_transfer__exceeds_balance__reverts(diem, minted, alice, bob):
    with ape.reverts("erc20: transfer amount exceeds balance"):
        diem.transfer(bob, MINTED + 1, sender=alice)
    assert diem.balanceOf(alice) == MINTED
    assert diem.balanceOf(bob) == 0


def test_approve_transferFrom__spends_allowance(diem, minted, alice, bob, carol):
    tx = diem.approve(bob, 10 * VVV, sender=alice)
    assert contract_events(tx, diem) == [
        ("Approval", {"owner": alice.address, "spender": bob.address, "value": 10 * VVV})
    ]
    assert diem.allowance(alice, bob) == 10 * VVV
    tx = diem.transferFrom(alice, carol, 4 * VVV, sender=bob)
    assert diem.balanceOf(carol) == 4 * VVV
    assert diem.balanceOf(alice) == MINTED - 4 * VVV
    assert diem.allowance(alice, bob) == 6 * VVV
    assert ("Transfer", {"sender": alice.address, "receiver": carol.address, "value": 4 * VVV}) in (
        contract_events(tx, diem)
    )
    with ape.reverts("erc20: insufficient allowance"):
        diem.transferFrom(alice, carol, 6 * VVV + 1, sender=bob)
    assert diem.allowance(alice, bob) == 6 * VVV


def test_transferFrom__infinite_allowance_not_spent(diem, minted, alice, bob, carol):
    diem.approve(bob, MAX_UINT, sender=alice)
    diem.transferFrom(alice, carol, VVV, sender=bob)
    assert diem.allowance(alice, bob) == MAX_UINT
    assert diem.balanceOf(carol) == VVV


def test_transfer__to_diem_contract__reverts(diem, minted, alice, bob):
    with ape.reverts("DIEM: use stake()"):
        diem.transfer(diem, VVV, sender=alice)
    diem.approve(bob, MAX_UINT, sender=alice)
    with ape.reverts("DIEM: use stake()"):
        diem.transferFrom(alice, diem, VVV, sender=bob)
    assert diem.balanceOf(diem) == 0
    assert diem.balanceOf(alice) == MINTED
    assert diem.totalStaked() == 0


# ------------------------------------------------------------------ EIP-2612 permit


def _sign_permit(diem, chain, key, owner, spender, value, nonce, deadline):
    return sign_permit("Diem", diem, chain, key, owner, spender, value, nonce, deadline)


def test_DOMAIN_SEPARATOR__matches_eip712(diem, chain):
    type_hash = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [type_hash, keccak(text="Diem"), keccak(text="1"), chain.chain_id, diem.address],
        )
    )
    assert bytes(diem.DOMAIN_SEPARATOR()) == expected


def test_permit__real_signature_sets_allowance(diem, chain, minted, alice, bob, carol, now):
    signer = Account.create()
    diem.transfer(signer.address, 10 * VVV, sender=alice)
    value, deadline = 3 * VVV + 7, now() + 3_600
    v, r, s = _sign_permit(diem, chain, signer.key, signer.address, bob.address, value, 0, deadline)
    tx = diem.permit(signer.address, bob, value, deadline, v, r, s, sender=carol)
    assert diem.allowance(signer.address, bob) == value
    assert diem.nonces(signer.address) == 1
    assert contract_events(tx, diem) == [
        ("Approval", {"owner": signer.address, "spender": bob.address, "value": value})
    ]
    diem.transferFrom(signer.address, carol, value, sender=bob)
    assert diem.balanceOf(carol) == value
    assert diem.balanceOf(signer.address) == 10 * VVV - value
    # The same signature cannot be replayed (the nonce moved on).
    with ape.reverts("erc20: invalid signature"):
        diem.permit(signer.address, bob, value, deadline, v, r, s, sender=carol)


def test_permit__wrong_signer__reverts(diem, chain, bob, carol, now):
    signer, impostor = Account.create(), Account.create()
    deadline = now() + 3_600
    v, r, s = _sign_permit(diem, chain, impostor.key, signer.address, bob.address, 5, 0, deadline)
    with ape.reverts("erc20: invalid signature"):
        diem.permit(signer.address, bob, 5, deadline, v, r, s, sender=carol)
    assert diem.allowance(signer.address, bob) == 0
    assert diem.nonces(signer.address) == 0


def test_permit__expired_deadline__reverts(diem, chain, bob, carol, at, t0):
    signer = Account.create()
    v, r, s = _sign_permit(diem, chain, signer.key, signer.address, bob.address, 5, 0, t0 - 1)
    at(t0)
    with ape.reverts("erc20: expired deadline"):
        diem.permit(signer.address, bob, 5, t0 - 1, v, r, s, sender=carol)
    assert diem.allowance(signer.address, bob) == 0


# ------------------------------------------------------------------ mint and burn


@pytest.mark.parametrize("caller", ["owner", "alice", "attacker"])
def test_mint__not_staking__reverts(diem, minted, request, caller, attacker):
    with ape.reverts("DIEM: not staking"):
        diem.mint(attacker, VVV, sender=request.getfixturevalue(caller))
    assert diem.balanceOf(attacker) == 0
    assert diem.totalSupply() == MINTED


@pytest.mark.parametrize("caller", ["owner", "alice", "attacker"])
def test_burn__not_staking__reverts(diem, minted, request, caller, alice):
    # Not even the holder burns its own DIEM directly: only burnDiem releases a lock.
    with ape.reverts("DIEM: not staking"):
        diem.burn(alice, VVV, sender=request.getfixturevalue(caller))
    assert diem.balanceOf(alice) == MINTED
    assert diem.totalSupply() == MINTED


def test_burn__no_public_burn_in_abi(diem):
    functions = {abi.name: abi for abi in diem.contract_type.abi if abi.type == "function"}
    assert "burn_from" not in functions
    assert "burnFrom" not in functions
    # The only burn takes the owner explicitly and is gated to the staking contract
    # (test_burn__not_staking__reverts): there is no burn(amount) of the caller's own.
    burns = [abi for abi in diem.contract_type.abi if getattr(abi, "name", "") == "burn"]
    assert [[i.type for i in abi.inputs] for abi in burns] == [["address", "uint256"]]
    assert "set_minter" not in functions


def test_mint__through_staking_logs_transfer_from_zero(diem, staking, fund, alice):
    fund(alice, 10_000 * VVV)
    staking.stake(alice, 10_000 * VVV, sender=alice)
    tx = staking.mintExactDiem(7 * VVV + 3, MAX_UINT, sender=alice)
    assert diem.balanceOf(alice) == 7 * VVV + 3
    assert diem.totalSupply() == 7 * VVV + 3
    assert contract_events(tx, diem) == [
        ("Transfer", {"sender": ZERO, "receiver": alice.address, "value": 7 * VVV + 3})
    ]


# ------------------------------------------------------------------ staking on the token


def test_stake__moves_to_contract_and_logs(diem, minted, alice):
    s = 40 * VVV + 9
    tx = diem.stake(s, sender=alice)
    assert diem.stakedInfos(alice) == (s, 0, 0)
    assert diem.balanceOf(alice) == MINTED - s
    assert diem.balanceOf(diem) == s
    assert diem.totalStaked() == s
    assert diem.totalCoolingDown() == 0
    assert diem.totalSupply() == MINTED
    assert contract_events(tx, diem) == [
        ("Transfer", {"sender": alice.address, "receiver": diem.address, "value": s}),
        ("Staked", {"account": alice.address, "amount": s, "amountStaked": s}),
    ]
    tx = diem.stake(VVV, sender=alice)  # adds up
    assert diem.stakedInfos(alice) == (s + VVV, 0, 0)
    assert contract_events(tx, diem)[-1] == (
        "Staked",
        {"account": alice.address, "amount": VVV, "amountStaked": s + VVV},
    )


def test_stake__zero__reverts(diem, minted, alice):
    with ape.reverts("DIEM: zero amount"):
        diem.stake(0, sender=alice)


def test_stake__more_than_balance__reverts(diem, minted, alice, bob):
    with ape.reverts("erc20: transfer amount exceeds balance"):
        diem.stake(MINTED + 1, sender=alice)
    with ape.reverts("erc20: transfer amount exceeds balance"):
        diem.stake(1, sender=bob)
    assert diem.stakedInfos(alice) == (0, 0, 0)
    assert diem.totalStaked() == 0


def test_stake__staked_diem_cannot_be_transferred(diem, minted, alice, bob):
    s = 60 * VVV
    diem.stake(s, sender=alice)
    free = MINTED - s
    assert diem.balanceOf(alice) == free  # only the free part is a balance
    with ape.reverts("erc20: transfer amount exceeds balance"):
        diem.transfer(bob, free + 1, sender=alice)
    diem.approve(bob, MAX_UINT, sender=alice)
    with ape.reverts("erc20: transfer amount exceeds balance"):
        diem.transferFrom(alice, bob, free + 1, sender=bob)
    diem.transfer(bob, free, sender=alice)
    assert diem.balanceOf(bob) == free
    assert diem.balanceOf(alice) == 0
    assert diem.stakedInfos(alice) == (s, 0, 0)


def test_initiateUnstake__moves_to_cooldown_and_logs(diem, minted, alice, at, t0):
    s, u = 50 * VVV, 20 * VVV + 1
    diem.stake(s, sender=alice)
    at(t0)
    tx = diem.initiateUnstake(u, sender=alice)
    assert diem.stakedInfos(alice) == (s - u, t0 + DAY, u)
    assert diem.totalStaked() == s - u
    assert diem.totalCoolingDown() == u
    assert diem.balanceOf(diem) == s  # still held until unstaked
    assert diem.balanceOf(alice) == MINTED - s  # cooling DIEM is not spendable either
    assert contract_events(tx, diem) == [
        (
            "UnstakeInitiated",
            {
                "account": alice.address,
                "amount": u,
                "amountStaked": s - u,
                "coolDownAmount": u,
                "coolDownEnd": t0 + DAY,
            },
        )
    ]


def test_initiateUnstake__second_request_adds_and_restarts(diem, minted, alice, at, t0):
    diem.stake(50 * VVV, sender=alice)
    at(t0)
    diem.initiateUnstake(10 * VVV, sender=alice)
    at(t0 + 3_600)
    tx = diem.initiateUnstake(5 * VVV, sender=alice)
    assert diem.stakedInfos(alice) == (35 * VVV, t0 + 3_600 + DAY, 15 * VVV)
    assert diem.totalCoolingDown() == 15 * VVV
    assert contract_events(tx, diem)[-1] == (
        "UnstakeInitiated",
        {
            "account": alice.address,
            "amount": 5 * VVV,
            "amountStaked": 35 * VVV,
            "coolDownAmount": 15 * VVV,
            "coolDownEnd": t0 + 3_600 + DAY,
        },
    )
    # The first request's end no longer applies.
    at(t0 + DAY)
    with ape.reverts("DIEM: cooldown active"):
        diem.unstake(sender=alice)
    at(t0 + 3_600 + DAY)
    diem.unstake(sender=alice)
    assert diem.balanceOf(alice) == MINTED - 35 * VVV


def test_initiateUnstake__more_than_staked__reverts(diem, minted, alice):
    diem.stake(10 * VVV, sender=alice)
    diem.initiateUnstake(4 * VVV, sender=alice)
    with ape.reverts("DIEM: amount exceeds stake"):
        diem.initiateUnstake(6 * VVV + 1, sender=alice)  # the cooling part is not staked
    with ape.reverts("DIEM: zero amount"):
        diem.initiateUnstake(0, sender=alice)
    assert diem.stakedInfos(alice)[0] == 6 * VVV
    assert diem.stakedInfos(alice)[2] == 4 * VVV


def test_unstake__before_cooldown__reverts(diem, minted, alice, at, t0):
    diem.stake(10 * VVV, sender=alice)
    at(t0)
    diem.initiateUnstake(10 * VVV, sender=alice)
    at(t0 + DAY - 1)
    with ape.reverts("DIEM: cooldown active"):
        diem.unstake(sender=alice)
    assert diem.stakedInfos(alice) == (0, t0 + DAY, 10 * VVV)
    assert diem.totalCoolingDown() == 10 * VVV


def test_unstake__after_cooldown_returns_exactly(diem, minted, alice, at, t0):
    s, u = 30 * VVV + 5, 12 * VVV + 3
    diem.stake(s, sender=alice)
    at(t0)
    diem.initiateUnstake(u, sender=alice)
    at(t0 + DAY)  # the end itself is allowed
    tx = diem.unstake(sender=alice)
    assert diem.balanceOf(alice) == MINTED - s + u
    assert diem.stakedInfos(alice) == (s - u, 0, 0)
    assert diem.totalCoolingDown() == 0
    assert diem.totalStaked() == s - u
    assert diem.balanceOf(diem) == s - u
    assert diem.totalSupply() == MINTED
    assert contract_events(tx, diem) == [
        ("Transfer", {"sender": diem.address, "receiver": alice.address, "value": u}),
        ("Unstaked", {"account": alice.address, "amount": u}),
    ]
    with ape.reverts("DIEM: nothing to unstake"):
        diem.unstake(sender=alice)


def test_unstake__nothing__reverts(diem, minted, alice, bob):
    with ape.reverts("DIEM: nothing to unstake"):
        diem.unstake(sender=bob)
    diem.stake(VVV, sender=alice)  # staked but not cooling
    with ape.reverts("DIEM: nothing to unstake"):
        diem.unstake(sender=alice)


def test_unstake__full_round_trip(diem, minted, alice, at, t0):
    before = _stake_state(diem, alice)
    at(t0)
    diem.stake(MINTED, sender=alice)
    at(t0 + 1)
    diem.initiateUnstake(MINTED, sender=alice)
    at(t0 + 1 + DAY)
    diem.unstake(sender=alice)
    assert _stake_state(diem, alice) == before


def test_totals__two_accounts(diem, minted, alice, bob, at, t0):
    diem.transfer(bob, 40 * VVV, sender=alice)
    diem.stake(50 * VVV, sender=alice)
    diem.stake(30 * VVV, sender=bob)
    at(t0)
    diem.initiateUnstake(20 * VVV, sender=alice)
    at(t0 + 10)
    diem.initiateUnstake(5 * VVV, sender=bob)
    assert diem.totalStaked() == 30 * VVV + 25 * VVV
    assert diem.totalCoolingDown() == 25 * VVV
    assert diem.balanceOf(diem) == 80 * VVV
    assert diem.stakedInfos(alice) == (30 * VVV, t0 + DAY, 20 * VVV)
    assert diem.stakedInfos(bob) == (25 * VVV, t0 + 10 + DAY, 5 * VVV)
    at(t0 + DAY)
    diem.unstake(sender=alice)
    with ape.reverts("DIEM: cooldown active"):
        diem.unstake(sender=bob)
    assert diem.totalCoolingDown() == 5 * VVV
    assert diem.totalStaked() == 55 * VVV
    assert diem.balanceOf(alice) == 10 * VVV + 20 * VVV
    assert diem.balanceOf(bob) == 10 * VVV
