"""VVV: genesis, ERC-20, burn, EIP-2612 permit, and the one-shot minter."""

from __future__ import annotations

import ape
import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak

from tests.support.constants import MAX_UINT, VVV, ZERO
from tests.support.events import contract_events
from tests.support.permit import sign_permit

GENESIS_SUPPLY = 100_000_000 * VVV


# ------------------------------------------------------------------ genesis and metadata


def test_genesis__allocation_minted_per_config(vvv, config, owner, treasury, pair):
    # The deploy fixture resolves "deployer" to the owner account and the treasury
    # role to the treasury account.
    who = {"deployer": owner.address, "treasury": treasury.address}
    expected: dict[str, int] = {}
    for allocation in config.genesis:
        address = who[allocation.to]
        expected[address] = expected.get(address, 0) + allocation.amount
    # The deploy seeds the VVV/USDC pool from the deployer's share.
    expected[owner.address] -= config.pool_seed_vvv
    assert vvv.balanceOf(pair) == config.pool_seed_vvv
    for address, amount in expected.items():
        assert vvv.balanceOf(address) == amount
    # The default split, written out: 50M + 10M + 5M to the deployer (1M of it seeds the
    # pool), 35M to the treasury.
    assert vvv.balanceOf(owner) + vvv.balanceOf(pair) == 65_000_000 * VVV
    assert vvv.balanceOf(treasury) == 35_000_000 * VVV


def test_genesis__total_supply_is_100m(vvv, config):
    assert vvv.totalSupply() == GENESIS_SUPPLY
    assert sum(a.amount for a in config.genesis) == GENESIS_SUPPLY


def test_metadata__name_symbol_decimals(vvv):
    assert vvv.name() == "Venice Token"
    assert vvv.symbol() == "VVV"
    assert vvv.decimals() == 18


def test_deploy__length_mismatch__reverts(vvv_deployer, alice, bob):
    with ape.reverts("VVV: length mismatch"):
        ape.project.VVV.deploy([alice, bob], [VVV], sender=vvv_deployer)


def test_deploy__zero_genesis_amount__reverts(vvv_deployer, alice, bob):
    with ape.reverts("VVV: zero genesis amount"):
        ape.project.VVV.deploy([alice, bob], [VVV, 0], sender=vvv_deployer)


# ------------------------------------------------------------------ ERC-20


def test_transfer__moves_balance_and_logs(vvv, owner, alice):
    amount = 1_234 * VVV + 5
    owner_before = vvv.balanceOf(owner)
    tx = vvv.transfer(alice, amount, sender=owner)
    assert vvv.balanceOf(owner) == owner_before - amount
    assert vvv.balanceOf(alice) == amount
    assert vvv.totalSupply() == GENESIS_SUPPLY
    assert contract_events(tx, vvv) == [
        ("Transfer", {"sender": owner.address, "receiver": alice.address, "value": amount})
    ]


def test_transfer__exceeds_balance__reverts(vvv, owner, alice, bob):
    vvv.transfer(alice, 10, sender=owner)
    with ape.reverts("erc20: transfer amount exceeds balance"):
        vvv.transfer(bob, 11, sender=alice)
    assert vvv.balanceOf(alice) == 10
    assert vvv.balanceOf(bob) == 0


def test_approve__sets_allowance_and_logs(vvv, alice, bob):
    tx = vvv.approve(bob, 777, sender=alice)
    assert vvv.allowance(alice, bob) == 777
    assert contract_events(tx, vvv) == [
        ("Approval", {"owner": alice.address, "spender": bob.address, "value": 777})
    ]


def test_transferFrom__spends_allowance(vvv, owner, alice, bob, carol):
    vvv.transfer(alice, 100 * VVV, sender=owner)
    vvv.approve(bob, 60 * VVV, sender=alice)
    vvv.transferFrom(alice, carol, 25 * VVV, sender=bob)
    assert vvv.balanceOf(alice) == 75 * VVV
    assert vvv.balanceOf(carol) == 25 * VVV
    assert vvv.allowance(alice, bob) == 35 * VVV


def test_transferFrom__infinite_allowance_not_spent(vvv, owner, alice, bob, carol):
    vvv.transfer(alice, 100 * VVV, sender=owner)
    vvv.approve(bob, MAX_UINT, sender=alice)
    vvv.transferFrom(alice, carol, 25 * VVV, sender=bob)
    assert vvv.allowance(alice, bob) == MAX_UINT


def test_transferFrom__above_allowance__reverts(vvv, owner, alice, bob, carol):
    vvv.transfer(alice, 100 * VVV, sender=owner)
    vvv.approve(bob, 10 * VVV, sender=alice)
    with ape.reverts("erc20: insufficient allowance"):
        vvv.transferFrom(alice, carol, 10 * VVV + 1, sender=bob)
    assert vvv.balanceOf(alice) == 100 * VVV
    assert vvv.allowance(alice, bob) == 10 * VVV


# ------------------------------------------------------------------ burn


def test_burn__lowers_total_supply(vvv, owner, alice):
    vvv.transfer(alice, 100 * VVV, sender=owner)
    tx = vvv.burn(40 * VVV, sender=alice)
    assert vvv.balanceOf(alice) == 60 * VVV
    assert vvv.totalSupply() == GENESIS_SUPPLY - 40 * VVV
    assert contract_events(tx, vvv) == [
        ("Transfer", {"sender": alice.address, "receiver": ZERO, "value": 40 * VVV})
    ]


def test_burn__exceeds_balance__reverts(vvv, owner, alice):
    vvv.transfer(alice, 100 * VVV, sender=owner)
    with ape.reverts("erc20: burn amount exceeds balance"):
        vvv.burn(100 * VVV + 1, sender=alice)
    assert vvv.totalSupply() == GENESIS_SUPPLY


def test_burn_from__lowers_total_supply_and_allowance(vvv, owner, alice, bob):
    vvv.transfer(alice, 100 * VVV, sender=owner)
    vvv.approve(bob, 50 * VVV, sender=alice)
    vvv.burn_from(alice, 30 * VVV, sender=bob)
    assert vvv.balanceOf(alice) == 70 * VVV
    assert vvv.allowance(alice, bob) == 20 * VVV
    assert vvv.totalSupply() == GENESIS_SUPPLY - 30 * VVV


def test_burn_from__without_allowance__reverts(vvv, owner, alice, attacker):
    vvv.transfer(alice, 100 * VVV, sender=owner)
    with ape.reverts("erc20: insufficient allowance"):
        vvv.burn_from(alice, 1, sender=attacker)
    assert vvv.balanceOf(alice) == 100 * VVV
    assert vvv.totalSupply() == GENESIS_SUPPLY


# ------------------------------------------------------------------ EIP-2612 permit


def _sign_permit(vvv, chain, key, owner, spender, value, nonce, deadline):
    return sign_permit("Venice Token", vvv, chain, key, owner, spender, value, nonce, deadline)


@pytest.fixture
def signer():
    return Account.create()


def test_DOMAIN_SEPARATOR__matches_eip712(vvv, chain):
    type_hash = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                type_hash,
                keccak(text="Venice Token"),
                keccak(text="1"),
                chain.chain_id,
                vvv.address,
            ],
        )
    )
    assert bytes(vvv.DOMAIN_SEPARATOR()) == expected


def test_permit__real_signature_sets_allowance(vvv, chain, owner, signer, alice, bob, now):
    vvv.transfer(signer.address, 10 * VVV, sender=owner)
    deadline = now() + 3_600
    value = 7 * VVV + 3
    assert vvv.nonces(signer.address) == 0
    v, r, s = _sign_permit(
        vvv, chain, signer.key, signer.address, alice.address, value, 0, deadline
    )
    tx = vvv.permit(signer.address, alice, value, deadline, v, r, s, sender=bob)
    assert vvv.allowance(signer.address, alice) == value
    assert vvv.nonces(signer.address) == 1
    assert contract_events(tx, vvv) == [
        ("Approval", {"owner": signer.address, "spender": alice.address, "value": value})
    ]
    # The allowance is real: alice spends it.
    vvv.transferFrom(signer.address, bob, value, sender=alice)
    assert vvv.balanceOf(bob) == value
    assert vvv.balanceOf(signer.address) == 10 * VVV - value


def test_permit__nonce_increments_per_permit(vvv, chain, signer, alice, bob, now):
    deadline = now() + 3_600
    for nonce, value in enumerate((5, 9, 0)):
        v, r, s = _sign_permit(
            vvv, chain, signer.key, signer.address, alice.address, value, nonce, deadline
        )
        vvv.permit(signer.address, alice, value, deadline, v, r, s, sender=bob)
        assert vvv.nonces(signer.address) == nonce + 1
        assert vvv.allowance(signer.address, alice) == value


def test_permit__deadline_is_inclusive(vvv, chain, signer, alice, bob, at, t0):
    v, r, s = _sign_permit(vvv, chain, signer.key, signer.address, alice.address, 5, 0, t0)
    at(t0)
    vvv.permit(signer.address, alice, 5, t0, v, r, s, sender=bob)
    assert vvv.allowance(signer.address, alice) == 5


def test_permit__expired_deadline__reverts(vvv, chain, signer, alice, bob, at, t0):
    deadline = t0 - 1
    v, r, s = _sign_permit(vvv, chain, signer.key, signer.address, alice.address, 5, 0, deadline)
    at(t0)
    with ape.reverts("erc20: expired deadline"):
        vvv.permit(signer.address, alice, 5, deadline, v, r, s, sender=bob)
    assert vvv.allowance(signer.address, alice) == 0
    assert vvv.nonces(signer.address) == 0


def test_permit__wrong_signer__reverts(vvv, chain, signer, alice, bob, now):
    impostor = Account.create()
    deadline = now() + 3_600
    # Signed by the impostor, claiming to be `signer`.
    v, r, s = _sign_permit(vvv, chain, impostor.key, signer.address, alice.address, 5, 0, deadline)
    with ape.reverts("erc20: invalid signature"):
        vvv.permit(signer.address, alice, 5, deadline, v, r, s, sender=bob)
    assert vvv.allowance(signer.address, alice) == 0
    assert vvv.nonces(signer.address) == 0


def test_permit__altered_value__reverts(vvv, chain, signer, alice, bob, now):
    deadline = now() + 3_600
    v, r, s = _sign_permit(vvv, chain, signer.key, signer.address, alice.address, 5, 0, deadline)
    with ape.reverts("erc20: invalid signature"):
        vvv.permit(signer.address, alice, 6, deadline, v, r, s, sender=bob)
    assert vvv.allowance(signer.address, alice) == 0


def test_permit__replay__reverts(vvv, chain, owner, signer, alice, bob, now):
    vvv.transfer(signer.address, 10, sender=owner)
    deadline = now() + 3_600
    v, r, s = _sign_permit(vvv, chain, signer.key, signer.address, alice.address, 5, 0, deadline)
    vvv.permit(signer.address, alice, 5, deadline, v, r, s, sender=bob)
    vvv.transferFrom(signer.address, alice, 3, sender=alice)
    assert vvv.allowance(signer.address, alice) == 2
    # Replaying the same signature would restore the spent allowance.
    with ape.reverts("erc20: invalid signature"):
        vvv.permit(signer.address, alice, 5, deadline, v, r, s, sender=bob)
    assert vvv.allowance(signer.address, alice) == 2
    assert vvv.nonces(signer.address) == 1


# ------------------------------------------------------------------ minter


def test_setMinter__set_to_staking_at_deploy(vvv, staking):
    assert vvv.minter() == staking.address


def test_setMinter__deployer_second_call__reverts(vvv, staking, owner, attacker):
    with ape.reverts("VVV: not deployer"):
        vvv.setMinter(attacker, sender=owner)
    assert vvv.minter() == staking.address


def test_setMinter__fresh_token_only_deployer_only_once(vvv_deployer, owner, alice, attacker):
    deployer = vvv_deployer
    token = ape.project.VVV.deploy([alice], [VVV], sender=deployer)
    assert token.minter() == ZERO
    for caller in (attacker, owner):
        with ape.reverts("VVV: not deployer"):
            token.setMinter(caller, sender=caller)
    with ape.reverts("VVV: zero minter"):
        token.setMinter(ZERO, sender=deployer)
    tx = token.setMinter(alice, sender=deployer)
    assert token.minter() == alice.address
    assert contract_events(tx, token) == [("MinterSet", {"minter": alice.address})]
    with ape.reverts("VVV: not deployer"):
        token.setMinter(attacker, sender=deployer)
    assert token.minter() == alice.address
    # The named minter mints; the deployer cannot.
    token.mint(attacker, 5, sender=alice)
    assert token.balanceOf(attacker) == 5
    with ape.reverts("VVV: not minter"):
        token.mint(deployer, 5, sender=deployer)
    assert token.totalSupply() == VVV + 5


def test_mint__deployer__reverts(vvv, owner):
    # Every other named account: see test_access_control.py.
    with ape.reverts("VVV: not minter"):
        vvv.mint(owner, VVV, sender=owner)
    assert vvv.totalSupply() == GENESIS_SUPPLY


def test_mint__by_staking_contract(vvv, staking, accounts, alice):
    minter = accounts[staking.address]  # impersonated on Anvil
    minter.balance = 10**18
    vvv.mint(alice, 42, sender=minter)
    assert vvv.balanceOf(alice) == 42
    assert vvv.totalSupply() == GENESIS_SUPPLY + 42
