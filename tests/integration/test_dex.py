"""The published Uniswap V2 contracts work on Anvil as on mainnet: a VVV/USDC pool is created
through the router (whose hard-coded init-code hash must match the pair bytecode for any
swap to route), and a swap pays exactly what the constant-product formula says."""

from __future__ import annotations

import pytest
from ape import project

from tests.support.constants import USDC, VVV
from venice_ops.deploy.dex import deploy_dex


@pytest.fixture(scope="module")
def usdc(owner):
    return project.TestUSDC.deploy(sender=owner)


@pytest.fixture(scope="module")
def dex(owner):
    return deploy_dex(owner)


def test_router__swaps_usdc_for_vvv_at_the_constant_product_price(
    chain, dex, usdc, vvv, owner, alice
):
    usdc.mint(owner, 1_000_000 * USDC, sender=owner)
    usdc.approve(dex.router, 2**256 - 1, sender=owner)
    vvv.approve(dex.router, 2**256 - 1, sender=owner)
    deadline = chain.pending_timestamp + 3_600
    dex.router.addLiquidity(
        vvv, usdc, 400_000 * VVV, 1_000_000 * USDC, 0, 0, owner, deadline, sender=owner
    )
    pair = dex.pair(vvv.address, usdc.address)
    assert pair.address != "0x" + "00" * 20

    usdc.mint(alice, 1_000 * USDC, sender=owner)
    usdc.approve(dex.router, 2**256 - 1, sender=alice)
    reserve_vvv, reserve_usdc = (
        (pair.getReserves()[0], pair.getReserves()[1])
        if pair.token0() == vvv.address
        else (pair.getReserves()[1], pair.getReserves()[0])
    )
    amount_in = 1_000 * USDC
    # Uniswap V2's getAmountOut: 0.3% fee, rounded down.
    expected = amount_in * 997 * reserve_vvv // (reserve_usdc * 1_000 + amount_in * 997)
    assert dex.router.getAmountsOut(amount_in, [usdc, vvv])[1] == expected
    dex.router.swapExactTokensForTokens(
        amount_in, expected, [usdc, vvv], alice, deadline, sender=alice
    )
    assert vvv.balanceOf(alice) == expected
    assert usdc.balanceOf(alice) == 0
