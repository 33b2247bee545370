"""Trail of Bits' ERC-20 mintable property (crytic/properties, ERC20MintableProperties and
ERC20ExternalMintableProperties), ported to hypothesis.

Both tokens mint only from the staking contract (VVV: emissions; DIEM: locks behind it). The
property is about the token's own accounting, so the minter's call is made directly, with the
staking contract's address impersonated on Anvil; that nobody else can mint is tested in
tests/unit/vvv/test_vvv.py and tests/unit/diem/test_diem.py.
"""

from __future__ import annotations

from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from tests.support.profiles import MODEST
from venice_ops.rpc import call_all, impersonate, send

target = st.one_of(st.integers(0, 2), st.binary(min_size=20, max_size=20).map(to_checksum_address))


@MODEST
@given(to=target, amount=st.integers(0, 2**128))
def test_ERC20_mintTokens(token, to, amount):
    """A mint raises the target's balance and the total supply by exactly the amount."""
    if to == "0x" + "00" * 20:
        to = token.spender
    t = token.users[to] if isinstance(to, int) else to
    minter = token.staking.address
    impersonate(minter)
    f = token.contract.functions
    balance, supply = call_all([f.balanceOf(t), f.totalSupply()])
    send(f.mint(t, amount), minter)
    assert call_all([f.balanceOf(t), f.totalSupply()]) == [balance + amount, supply + amount]
