"""Sandwich and pool-manipulation attacks on the buyback, with the published Uniswap V2 on Anvil.

An attacker buys VVV right before the keeper's buyback (in the same block, ordered first) and
sells it right after. The buyback either reverts (the spot price strays past the bound from the
TWAP, or the pool pays less than the keeper's minimum) or pays at least the TWAP amount less the
slippage bound: what one call can lose to a sandwich is bounded, whatever the attacker's size.
"""

from __future__ import annotations

import ape
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.chain import in_one_block, traced_reason
from tests.support.constants import BPS, USDC
from venice_ops.rpc import bind, web3

GAS = 1_000_000


@pytest.fixture
def market(chain, suite, owner, attacker, fund_usdc):
    """Revenue in the burner, a funded attacker with approvals, a usable TWAP."""
    fund_usdc(suite.burner, 100_000 * USDC)
    fund_usdc(attacker, 5_000_000 * USDC, spender=suite.router)
    suite.vvv.approve(suite.router, 2**256 - 1, sender=attacker)
    chain.mine(timestamp=chain.pending_timestamp + suite.burner.minTwapWindow() + 1)
    return {
        "burner": bind(suite.burner),
        "router": bind(suite.router),
        "vvv": bind(suite.vvv),
        "usdc": suite.usdc.address,
        "keeper": owner.address,
        "attacker": attacker.address,
    }


def _sandwich(m: dict, front_usdc: int, amount: int, slippage_bps: int) -> dict:
    """Front-run, the keeper's buyback with a minimum from the TWAP, back-run; one block."""
    burner, router, vvv = m["burner"], m["router"], m["vvv"]
    twap_out, floor = burner.functions.quote(amount).call()
    min_out = max(floor, -(-twap_out * (BPS - slippage_bps) // BPS))
    now = web3().eth.get_block("latest")["timestamp"]
    deadline = now + 600
    path_in, path_out = [m["usdc"], vvv.address], [vvv.address, m["usdc"]]
    attacker_vvv = vvv.functions.balanceOf(m["attacker"]).call()
    # The attacker's front-run buys `front_usdc` of VVV; the back-run sells what it bought.
    front_out = router.functions.getAmountsOut(front_usdc, path_in).call()[1]
    supply = vvv.functions.totalSupply().call()
    receipts = in_one_block(
        [
            (
                router.functions.swapExactTokensForTokens(
                    front_usdc, 0, path_in, m["attacker"], deadline
                ),
                m["attacker"],
            ),
            (burner.functions.buyback(amount, min_out, deadline), m["keeper"]),
            (
                router.functions.swapExactTokensForTokens(
                    front_out, 0, path_out, m["attacker"], deadline
                ),
                m["attacker"],
            ),
        ]
    )
    front, keeper, back = receipts
    assert front["status"] == 1 and back["status"] == 1
    assert vvv.functions.balanceOf(m["attacker"]).call() == attacker_vvv
    return {
        "ok": keeper["status"] == 1,
        "reason": None if keeper["status"] == 1 else traced_reason(keeper),
        "burned": supply - vvv.functions.totalSupply().call(),
        "twap_out": twap_out,
        "min_out": min_out,
        "max_slippage": burner.functions.maxSlippageBps().call(),
    }


def test_sandwich__a_large_front_run_makes_the_buyback_revert(market):
    """A $200,000 front-run moves a $2M pool about 20%: far past the 3% bound."""
    result = _sandwich(market, 200_000 * USDC, 10_000 * USDC, slippage_bps=100)
    assert not result["ok"]
    assert result["reason"] == "buyback: spot strays from TWAP"
    assert result["burned"] == 0


def test_sandwich__a_front_run_within_the_bound_meets_the_keepers_minimum_or_reverts(market):
    """A $10,000 front-run (about 1% of price) stays inside the 3% bound: the keeper's 1%
    minimum below the TWAP then decides, and the router refuses to pay less."""
    result = _sandwich(market, 10_000 * USDC, 10_000 * USDC, slippage_bps=100)
    if result["ok"]:
        assert result["burned"] >= result["min_out"]
    else:
        assert result["reason"] == "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"


@settings(max_examples=15)
@given(
    front=st.integers(0, 400_000),
    amount=st.integers(1, 50_000),
    slippage=st.integers(1, 500),
)
def test_sandwich__any_size_loses_at_most_the_slippage_bound(
    chain, market, front, amount, slippage
):
    """Whatever the attacker's size and the keeper's own slippage setting (within the
    contract's bound), the buyback reverts or burns at least the TWAP amount less the
    contract's bound."""
    snapshot = chain.snapshot()
    try:
        result = _sandwich(market, max(front, 1) * USDC, amount * USDC, slippage)
        if result["ok"]:
            bound = result["twap_out"] * (BPS - result["max_slippage"]) // BPS
            assert result["burned"] >= result["min_out"] >= bound
        else:
            assert result["reason"] in (
                "buyback: spot strays from TWAP",
                "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT",
            )
            assert result["burned"] == 0
    finally:
        chain.restore(snapshot)


def test_manipulation__a_price_held_for_blocks_barely_moves_the_twap(chain, market, suite, owner):
    """An attacker who moves the pool and holds it (no arbitrage) for a minute moves a
    30-minute-plus TWAP by a fraction of that: the buyback is still refused."""
    router, burner = market["router"], market["burner"]
    deadline = chain.pending_timestamp + 3_600
    router.functions.swapExactTokensForTokens(
        200_000 * USDC, 0, [market["usdc"], market["vvv"].address], market["attacker"], deadline
    ).transact({"from": market["attacker"], "gas": GAS})
    chain.mine(timestamp=chain.pending_timestamp + 60)
    amount = 1_000 * USDC
    _, floor = burner.functions.quote(amount).call()
    with ape.reverts("buyback: spot strays from TWAP"):
        suite.burner.buyback(amount, floor, deadline, sender=owner)
