"""BuybackBurner on the published Uniswap V2 router and pair, on Anvil: every VVV bought is
burned (supply falls by exactly the burned total), and the keeper's minimum out, deadline, the
per-call cap and the TWAP guard are enforced with a reason and no state change."""

from __future__ import annotations

import ape
import pytest
from ape import project

from tests.support.constants import USDC, VVV
from venice_ops.deploy.dex import container, deploy_dex

Q112 = 2**112


@pytest.fixture
def warm(chain, burner):
    """Let the TWAP window pass since the last observation, so a buyback may run."""

    def _warm(seconds: int | None = None) -> None:
        chain.pending_timestamp += seconds or burner.minTwapWindow() + 1
        chain.mine()

    return _warm


@pytest.fixture
def revenue(burner, fund_usdc):
    def _revenue(amount: int) -> None:
        fund_usdc(burner, amount)

    return _revenue


def vvv_reserve(pair, vvv) -> tuple[int, int]:
    r0, r1, _ = pair.getReserves()
    return (r0, r1) if pair.token0() == vvv.address else (r1, r0)


def deadline(chain, seconds: int = 600) -> int:
    return chain.pending_timestamp + seconds


def test_buyback__burns_every_vvv_bought_and_supply_falls_by_the_burned_total(
    chain, burner, vvv, usdc, pair, router, keeper, revenue, warm
):
    revenue(10_000 * USDC)
    warm()
    amount = 5_000 * USDC
    expected = router.getAmountsOut(amount, [usdc, vvv])[1]
    _, floor = burner.quote(amount)
    supply = vvv.totalSupply()
    reserve_vvv, _ = vvv_reserve(pair, vvv)

    receipt = burner.buyback(amount, floor, deadline(chain), sender=keeper)

    assert vvv.totalSupply() == supply - expected
    assert vvv.balanceOf(burner) == 0
    assert vvv_reserve(pair, vvv)[0] == reserve_vvv - expected
    assert usdc.balanceOf(burner) == 5_000 * USDC
    assert burner.totalSpent() == amount
    assert burner.totalBought() == expected
    assert burner.totalBurned() == expected
    [event] = receipt.events.filter(burner.BuybackExecuted)
    assert event.keeper == keeper.address
    assert event.amountIn == amount
    assert event.vvvBought == event.vvvBurned == expected


def test_buyback__also_burns_vvv_sent_directly(
    chain, burner, vvv, usdc, router, owner, keeper, revenue, warm
):
    revenue(1_000 * USDC)
    vvv.transfer(burner, 7 * VVV, sender=owner)
    warm()
    expected = router.getAmountsOut(1_000 * USDC, [usdc, vvv])[1]
    supply = vvv.totalSupply()
    burner.buyback(1_000 * USDC, burner.quote(1_000 * USDC)[1], deadline(chain), sender=keeper)
    assert vvv.totalSupply() == supply - expected - 7 * VVV
    assert burner.totalBought() == expected
    assert burner.totalBurned() == expected + 7 * VVV


def test_burn_vvv__anyone_burns_a_direct_donation(burner, vvv, owner, attacker):
    vvv.transfer(burner, 3 * VVV, sender=owner)
    supply = vvv.totalSupply()
    receipt = burner.burnVvv(sender=attacker)
    assert vvv.totalSupply() == supply - 3 * VVV
    assert burner.totalBurned() == 3 * VVV
    assert receipt.events.filter(burner.Burned)[0].amount == 3 * VVV
    with ape.reverts("buyback: nothing to burn"):
        burner.burnVvv(sender=attacker)


def test_quote__floor_is_the_twap_amount_less_the_slippage_bound_rounded_up(
    burner, pair, vvv, warm
):
    warm()
    reserve_vvv, reserve_usdc = vvv_reserve(pair, vvv)
    twap = burner.twapPrice()
    # The pool has not moved since the observation: the TWAP is the spot price.
    assert twap == burner.spotPrice() == (reserve_vvv << 112) // reserve_usdc
    amount = 1_234 * USDC + 1
    at_twap, floor = burner.quote(amount)
    assert at_twap == amount * twap // Q112
    slip = burner.maxSlippageBps()
    numerator = amount * twap * (10_000 - slip)
    assert floor == -(-numerator // (Q112 * 10_000))  # ceiling: the protocol's favour
    assert floor * Q112 * 10_000 >= numerator


@pytest.mark.parametrize(
    "case, reason",
    [
        ("below_floor", "buyback: min out below TWAP floor"),
        ("zero_min_out", "buyback: zero min out"),
        ("zero_amount", "buyback: zero amount"),
        ("over_cap", "buyback: above per-call cap"),
        ("past_deadline", "buyback: deadline passed"),
        ("far_deadline", "buyback: deadline too far"),
        ("no_revenue", "buyback: not enough revenue"),
        ("not_keeper", "buyback: not keeper"),
    ],
)
def test_buyback__refuses_bad_calls_with_a_reason_and_no_state_change(
    case, reason, chain, burner, vvv, usdc, keeper, attacker, revenue, warm
):
    revenue(1_000 * USDC)
    warm()
    amount, sender = 1_000 * USDC, keeper
    _, floor = burner.quote(amount)
    min_out, when = floor, deadline(chain)
    if case == "below_floor":
        min_out = floor - 1
    elif case == "zero_min_out":
        min_out = 0
    elif case == "zero_amount":
        amount = 0
    elif case == "over_cap":
        amount = burner.maxAmountIn() + 1
    elif case == "past_deadline":
        when = chain.blocks.head.timestamp - 1
    elif case == "far_deadline":
        when = chain.pending_timestamp + burner.MAX_DEADLINE_DELAY() + 60
    elif case == "no_revenue":
        amount = 1_000 * USDC + 1
        min_out = burner.quote(amount)[1]
    elif case == "not_keeper":
        sender = attacker
    before = (vvv.totalSupply(), usdc.balanceOf(burner), burner.totalBurned())
    with ape.reverts(reason):
        burner.buyback(amount, min_out, when, sender=sender)
    assert (vvv.totalSupply(), usdc.balanceOf(burner), burner.totalBurned()) == before


def test_buyback__min_out_above_what_the_pool_gives_reverts_in_the_router(
    chain, burner, vvv, usdc, router, keeper, revenue, warm
):
    revenue(1_000 * USDC)
    warm()
    out = router.getAmountsOut(1_000 * USDC, [usdc, vvv])[1]
    with ape.reverts("UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"):
        burner.buyback(1_000 * USDC, out + 1, deadline(chain), sender=keeper)


def test_twap__refused_until_a_window_has_passed_since_deploy(chain, project_deploy_burner):
    fresh = project_deploy_burner()
    with ape.reverts("buyback: TWAP window too short"):
        fresh.twapPrice()
    chain.pending_timestamp += fresh.minTwapWindow()
    chain.mine()
    assert fresh.twapPrice() == fresh.spotPrice()


def test_twap__stale_observations_refuse_until_update_and_a_new_window(
    chain, burner, keeper, revenue, warm
):
    revenue(1_000 * USDC)
    warm(burner.maxTwapAge() + 1)
    with ape.reverts("buyback: stale TWAP"):
        burner.buyback(1_000 * USDC, 1, deadline(chain), sender=keeper)
    assert burner.update(sender=keeper).return_value is True
    with ape.reverts("buyback: stale TWAP"):
        burner.twapPrice()
    warm()
    _, floor = burner.quote(1_000 * USDC)
    burner.buyback(1_000 * USDC, floor, deadline(chain), sender=keeper)


def test_update__records_only_once_per_window(chain, burner, attacker, warm):
    warm()
    _, _, newer_time, _ = burner.observations()
    assert burner.update(sender=attacker).return_value is True
    _, _, latest, _ = burner.observations()
    assert latest > newer_time
    # Again at once: nothing recorded, so a spammer cannot shrink the window.
    assert burner.update(sender=attacker).return_value is False
    assert burner.observations()[2] == latest


def test_twap__averages_the_pool_price_over_the_window(
    chain, burner, router, vvv, usdc, pair, alice, fund_usdc, warm
):
    warm()
    burner.update(sender=alice)
    p1 = burner.spotPrice()
    # Move the pool, then let half a window pass at each price.
    fund_usdc(alice, 20_000 * USDC, spender=router)
    half = burner.minTwapWindow() // 2
    chain.pending_timestamp += half
    router.swapExactTokensForTokens(
        20_000 * USDC, 1, [usdc, vvv], alice, deadline(chain), sender=alice
    )
    p2 = burner.spotPrice()
    start = burner.observations()[2]
    chain.pending_timestamp += half + 1
    chain.mine()
    now = chain.blocks.head.timestamp
    swap_time = pair.getReserves()[2]
    expected = (p1 * (swap_time - start) + p2 * (now - swap_time)) // (now - start)
    assert burner.twapPrice() == expected
    assert p2 < burner.twapPrice() < p1


def test_recover_token__returns_other_tokens_never_vvv_or_usdc(burner, vvv, usdc, owner, attacker):
    stray = project.TestUSDC.deploy(sender=owner)
    stray.mint(burner, 5 * USDC, sender=owner)
    with ape.reverts("ownable: caller is not the owner"):
        burner.recoverToken(stray, attacker, 5 * USDC, sender=attacker)
    burner.recoverToken(stray, owner, 5 * USDC, sender=owner)
    assert stray.balanceOf(owner) == 5 * USDC
    for token in (vvv, usdc):
        with ape.reverts("buyback: token not recoverable"):
            burner.recoverToken(token, owner, 1, sender=owner)


@pytest.mark.parametrize(
    "args, reason",
    [
        ((0, 300, 500), "buyback: zero cap"),
        ((2**112 + 1, 300, 500), "buyback: cap too large"),
        ((1, 0, 500), "buyback: bad deviation"),
        ((1, 2_001, 500), "buyback: bad deviation"),
        ((1, 300, 0), "buyback: bad slippage"),
        ((1, 300, 2_001), "buyback: bad slippage"),
    ],
)
def test_set_limits__bounded(args, reason, burner, owner):
    with ape.reverts(reason):
        burner.setLimits(*args, sender=owner)


@pytest.mark.parametrize(
    "args, reason",
    [
        ((59, 3_600), "buyback: window too short"),
        ((1_800, 3_599), "buyback: age below two windows"),
        ((1_800, 7 * 86_400 + 1), "buyback: age too long"),
    ],
)
def test_set_twap_window__bounded(args, reason, burner, owner):
    with ape.reverts(reason):
        burner.setTwapWindow(*args, sender=owner)


def test_keeper_role__granted_and_revoked_by_the_owner_only(
    chain, burner, owner, alice, attacker, revenue, warm
):
    with ape.reverts("ownable: caller is not the owner"):
        burner.setKeeper(attacker, True, sender=attacker)
    burner.setKeeper(alice, True, sender=owner)
    revenue(100 * USDC)
    warm()
    burner.buyback(100 * USDC, burner.quote(100 * USDC)[1], deadline(chain), sender=alice)
    burner.setKeeper(alice, False, sender=owner)
    revenue(100 * USDC)
    with ape.reverts("buyback: not keeper"):
        burner.buyback(100 * USDC, burner.quote(100 * USDC)[1], deadline(chain), sender=alice)


def test_deploy__refuses_a_router_without_the_pair(owner, vvv, usdc):
    empty = deploy_dex(owner)  # a new factory: no pairs at all
    with ape.reverts("buyback: no VVV/USDC pair"):
        project.BuybackBurner.deploy(
            vvv, usdc, empty.router, owner, 10**12, 300, 500, 1_800, 86_400, sender=owner
        )


@pytest.fixture
def project_deploy_burner(owner, vvv, usdc, router):
    def _deploy():
        return project.BuybackBurner.deploy(
            vvv, usdc, router, owner, 10**12, 300, 500, 1_800, 86_400, sender=owner
        )

    return _deploy


def test_usdc_as_token1__prices_the_pool_the_right_way_up_and_burns(
    chain, owner, vvv, router, pair, fund_usdc
):
    """The suite's USDC sorts below VVV (token0), as on Base; a deployment where USDC sorts
    above VVV reads the reserves and the cumulative price of the other side."""
    usdc = project.TestUSDC.deploy(sender=owner)
    while int(usdc.address, 16) < int(vvv.address, 16):
        usdc = project.TestUSDC.deploy(sender=owner)
    reserve_vvv, reserve_usdc = vvv_reserve(pair, vvv)
    usdc.mint(owner, reserve_usdc + 10_000 * USDC, sender=owner)
    usdc.approve(router, 2**256 - 1, sender=owner)
    vvv.approve(router, reserve_vvv, sender=owner)
    router.addLiquidity(
        vvv, usdc, reserve_vvv, reserve_usdc, 0, 0, owner, deadline(chain), sender=owner
    )
    factory = container("UniswapV2Factory").at(router.factory())
    flipped = container("UniswapV2Pair").at(factory.getPair(vvv, usdc))
    assert flipped.token1() == usdc.address
    burner = project.BuybackBurner.deploy(
        vvv, usdc, router, owner, 10**12, 300, 500, 1_800, 86_400, sender=owner
    )
    chain.pending_timestamp += burner.minTwapWindow() + 1
    chain.mine()
    r0, r1, _ = flipped.getReserves()
    assert burner.spotPrice() == burner.twapPrice() == (r0 << 112) // r1  # VVV per USDC
    usdc.transfer(burner, 10_000 * USDC, sender=owner)
    expected = router.getAmountsOut(1_000 * USDC, [usdc, vvv])[1]
    supply = vvv.totalSupply()
    _, floor = burner.quote(1_000 * USDC)
    assert 0 < floor <= expected
    burner.buyback(1_000 * USDC, floor, deadline(chain), sender=owner)
    assert vvv.totalSupply() == supply - expected
    assert burner.totalBurned() == expected
