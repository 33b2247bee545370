"""EIP-2612 permit, OpenZeppelin's ERC20Permit rules (test/token/ERC20/extensions/
ERC20Permit.test.js) ported to hypothesis for VVV and DIEM, with real signatures from
eth-account keys (tests/support/permit.py).

OpenZeppelin's rules: the initial nonce is 0; DOMAIN_SEPARATOR is the EIP-712 domain of (name,
"1", chain id, token); the owner's signature is accepted (allowance set, nonce + 1); a reused
signature, another signer's signature and an expired permit are rejected. Beside them, the
rules a permit must keep for the same reasons: nonces are used in order, one at a time; a
signature binds the spender, the value, the token (domain) and the chain; a malleable (high-s)
copy of a valid signature is rejected; and no signature passes for the zero address.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from tests.support.chain import now
from tests.support.constants import MAX_UINT
from tests.support.permit import sign_permit
from tests.support.profiles import MODEST
from venice_ops.rpc import Reverted, call_all, send, web3

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
keys = st.integers(1, SECP256K1_N - 1).map(lambda k: Account.from_key(k.to_bytes(32, "big")))
values = st.integers(0, MAX_UINT)
spender = st.integers(0, 2)


def sign(token, signer, owner, spender, value, nonce, deadline, *, chain_id=None, domain=None):
    """(v, r, s) of `signer`'s permit for `owner`, by default in `token`'s own EIP-712 domain;
    `domain` is another (name, verifying contract)."""
    name, address = domain or (token.domain, token.contract.address)
    chain = SimpleNamespace(chain_id=chain_id or web3().eth.chain_id)
    verifying = SimpleNamespace(address=address)
    return sign_permit(name, verifying, chain, signer.key, owner, spender, value, nonce, deadline)


def permit(token, owner, spender, value, deadline, vrs, relayer, at=None):
    """Send the permit, mined at `at` if given."""
    v, r, s = vrs
    fn = token.contract.functions.permit(owner, spender, value, deadline, v, r, s)
    return send(fn, relayer, at)


def refused(token, owner, spender, value, deadline, vrs, relayer, reason, at=None):
    """The permit reverts with `reason` and changes neither the allowance nor the nonce."""
    f = token.contract.functions
    before = call_all([f.allowance(owner, spender), f.nonces(owner)])
    with pytest.raises(Reverted, match=reason):
        permit(token, owner, spender, value, deadline, vrs, relayer, at)
    assert call_all([f.allowance(owner, spender), f.nonces(owner)]) == before


def nonce_of(token, signer):
    return token.contract.functions.nonces(signer.address).call()


@MODEST
@given(signer=keys)
def test_ERC20Permit_initial_nonce_is_0(token, signer):
    assert token.contract.functions.nonces(signer.address).call() == 0


def test_ERC20Permit_domain_separator(token):
    """DOMAIN_SEPARATOR and eip712Domain (EIP-5267) describe (name, "1", chain id, token)."""
    type_hash = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    chain_id = web3().eth.chain_id
    expected = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                type_hash,
                keccak(text=token.domain),
                keccak(text="1"),
                chain_id,
                token.contract.address,
            ],
        )
    )
    f = token.contract.functions
    assert bytes(f.DOMAIN_SEPARATOR().call()) == expected
    fields, name, version, chain, contract, salt, extensions = f.eip712Domain().call()
    assert (fields, name, version, chain, contract) == (
        b"\x0f",
        token.domain,
        "1",
        chain_id,
        token.contract.address,
    )
    assert (salt, extensions) == (b"\x00" * 32, [])


@MODEST
@given(signer=keys, to=spender, value=values, ahead=st.integers(0, 10**9))
def test_ERC20Permit_accepts_owner_signature(token, signer, to, value, ahead):
    """Up to and including the deadline's second."""
    s, at = token.users[to], now() + 10
    deadline = at + ahead
    f = token.contract.functions
    nonce = f.nonces(signer.address).call()
    vrs = sign(token, signer, signer.address, s, value, nonce, deadline)
    receipt = permit(token, signer.address, s, value, deadline, vrs, token.spender, at)
    assert call_all([f.allowance(signer.address, s), f.nonces(signer.address)]) == [
        value,
        nonce + 1,
    ]
    [event] = token.contract.events.Approval().process_receipt({"logs": receipt.logs})  # type: ignore[arg-type]
    assert (event["args"]["owner"], event["args"]["spender"], event["args"]["value"]) == (
        signer.address,
        s,
        value,
    )


@MODEST
@given(signer=keys, value=values)
def test_ERC20Permit_rejects_reused_signature(token, signer, value):
    s, deadline = token.users[0], MAX_UINT
    vrs = sign(token, signer, signer.address, s, value, nonce_of(token, signer), deadline)
    permit(token, signer.address, s, value, deadline, vrs, token.spender)
    refused(token, signer.address, s, value, deadline, vrs, token.spender, "invalid signature")


@MODEST
@given(signer=keys, other=keys, value=values)
def test_ERC20Permit_rejects_other_signature(token, signer, other, value):
    if other.address == signer.address:
        return
    s, deadline = token.users[0], MAX_UINT
    vrs = sign(token, other, signer.address, s, value, nonce_of(token, signer), deadline)
    refused(token, signer.address, s, value, deadline, vrs, token.spender, "invalid signature")


@MODEST
@given(signer=keys, value=values, age=st.integers(1, 10**9))
def test_ERC20Permit_rejects_expired_permit(token, signer, value, age):
    s, at = token.users[0], now() + 10
    deadline = at - age  # past when the permit lands
    vrs = sign(token, signer, signer.address, s, value, nonce_of(token, signer), deadline)
    refused(token, signer.address, s, value, deadline, vrs, token.spender, "expired", at)


@MODEST
@given(signer=keys, count=st.integers(1, 4), skip=st.integers(1, 3))
def test_ERC20Permit_nonces_are_used_in_order_one_at_a_time(token, signer, count, skip):
    """Each permit takes the next nonce; a signature for a later nonce is refused until the
    nonces before it are used."""
    s, deadline, f = token.users[1], MAX_UINT, token.contract.functions
    first = nonce_of(token, signer)
    for nonce in range(first, first + count):
        ahead = sign(token, signer, signer.address, s, 7, nonce + skip, deadline)
        refused(token, signer.address, s, 7, deadline, ahead, token.spender, "invalid signature")
        vrs = sign(token, signer, signer.address, s, nonce, nonce, deadline)
        permit(token, signer.address, s, nonce, deadline, vrs, token.spender)
        assert f.nonces(signer.address).call() == nonce + 1


@MODEST
@given(signer=keys, value=values, change=st.sampled_from(["spender", "value", "deadline"]))
def test_ERC20Permit_signature_binds_spender_value_and_deadline(token, signer, value, change):
    s, deadline = token.users[0], now() + 3_600
    vrs = sign(token, signer, signer.address, s, value, nonce_of(token, signer), deadline)
    if change == "spender":
        s = token.users[2]
    elif change == "value":
        value = (value + 1) % (MAX_UINT + 1)
    else:
        deadline += 1
    refused(token, signer.address, s, value, deadline, vrs, token.spender, "invalid signature")


@pytest.mark.parametrize("domain", ["other_token", "other_chain"])
def test_ERC20Permit_signature_binds_the_token_and_the_chain(token, suite, domain):
    """The same permit signed for the suite's other token, or for another chain, is refused."""
    signer, s, deadline = Account.create(), token.users[0], MAX_UINT
    if domain == "other_token":
        other = (
            ("Diem", suite.diem.address)
            if token.name == "VVV"
            else ("Venice Token", suite.vvv.address)
        )
        vrs = sign(token, signer, signer.address, s, 5, 0, deadline, domain=other)
    else:
        vrs = sign(token, signer, signer.address, s, 5, 0, deadline, chain_id=1)
    refused(token, signer.address, s, 5, deadline, vrs, token.spender, "invalid signature")
    # The same permit in the token's own domain passes: only the domain differed.
    vrs = sign(token, signer, signer.address, s, 5, 0, deadline)
    permit(token, signer.address, s, 5, deadline, vrs, token.spender)


@MODEST
@given(signer=keys, value=values)
def test_ERC20Permit_rejects_a_malleable_high_s_copy(token, signer, value):
    s, deadline = token.users[0], MAX_UINT
    v, r, low = sign(token, signer, signer.address, s, value, nonce_of(token, signer), deadline)
    high = (SECP256K1_N - int.from_bytes(low, "big")).to_bytes(32, "big")
    flipped = (55 - v, r, high)  # the same point: v 27 <-> 28, s -> n - s
    refused(token, signer.address, s, value, deadline, flipped, token.spender, "invalid signature")
    permit(token, signer.address, s, value, deadline, (v, r, low), token.spender)


@MODEST
@given(v=st.integers(0, 255), r=st.binary(min_size=32, max_size=32), s=st.integers(0, 2**255))
def test_ERC20Permit_no_signature_passes_for_the_zero_address(token, v, r, s):
    """ecrecover returns zero for an invalid signature: that must never count as the zero
    address's approval."""
    zero, spender, deadline = "0x" + "00" * 20, token.users[0], MAX_UINT
    vrs = (v, r, s.to_bytes(32, "big"))
    f = token.contract.functions
    with pytest.raises(Reverted):
        permit(token, zero, spender, 1, deadline, vrs, token.spender)
    assert f.allowance(zero, spender).call() == 0
