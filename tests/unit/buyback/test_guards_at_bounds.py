"""BuybackBurner's guards at their edges: each bound exactly (accepted) and one unit past
(refused with its own reason), in the direction where no other guard would catch the wrong
outcome (docs/testing.md).

The deviation bound is the one the TWAP floor cannot back up: VVV sold into the pool raises
the spot price of USDC in VVV, so the swap pays more than the floor and only the spot-vs-TWAP
bound refuses it. The sale is sized to the wei against an exact integer model of the guard
(the pair's cumulative price and the contract's TWAP), and the model is checked against the
prices the accepted buyback logs.
"""

from __future__ import annotations

import ape
import pytest

from tests.support.chain import refused_changing_nothing

USDC = 10**6
VVV = 10**18
Q112 = 2**112
BPS = 10_000
AMOUNT = 1_000 * USDC  # every buyback here spends this unless the test is about the amount


def vvv_usdc_reserves(pair, vvv) -> tuple[int, int]:
    r0, r1, _ = pair.getReserves()
    return (r0, r1) if pair.token0() == vvv.address else (r1, r0)


def amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """Uniswap V2's getAmountOut (0.3% fee)."""
    fee_in = amount_in * 997
    return fee_in * reserve_out // (reserve_in * 1_000 + fee_in)


def floor_of(amount: int, twap: int, slippage_bps: int) -> int:
    """The contract's minimum-out floor, rounded up."""
    return -(-amount * twap * (BPS - slippage_bps) // (Q112 * BPS))


def pair_cumulative(pair, usdc) -> int:
    """The pair's last cumulative price of USDC in VVV (UQ112x112 seconds)."""
    if pair.token0() == usdc.address:
        return pair.price0CumulativeLast()
    return pair.price1CumulativeLast()


def deviation_ok(spot: int, twap: int, bound_bps: int) -> bool:
    return abs(spot - twap) * BPS <= twap * bound_bps


@pytest.fixture
def observed(burner, at, t0, alice):
    """An observation recorded at T0 (the newer one): returns T0."""
    start = max(t0, burner.observations()[2] + burner.minTwapWindow())
    at(start)
    assert burner.update(sender=alice).return_value is True
    assert burner.observations()[2] == start
    return start


@pytest.fixture
def funded_burner(burner, fund_usdc):
    fund_usdc(burner, 100_000 * USDC)


# ------------------------------------------------------------------ spot vs TWAP deviation


@pytest.mark.parametrize("direction", ["vvv_sold_into_pool", "vvv_bought_from_pool"])
def test_deviation__largest_move_accepted_one_unit_more_refused_by_the_deviation_bound_alone(
    direction,
    chain,
    burner,
    pair,
    router,
    vvv,
    usdc,
    owner,
    keeper,
    bob,
    fund_usdc,
    funded_burner,
    observed,
    at,
    storage_roots,
):
    """Half a window after the observation someone moves the pool; at one full window the
    keeper buys back at the TWAP floor. The largest move (to the wei of VVV sold, or the
    base unit of USDC spent) passes; one unit more is refused by the deviation bound, while
    the floor would let the swap through (VVV sold: the swap pays above the floor)."""
    window, bound = burner.minTwapWindow(), burner.maxDeviationBps()
    slippage = burner.maxSlippageBps()
    t_swap, t_buy = observed + window // 2, observed + window
    reserve_vvv, reserve_usdc = vvv_usdc_reserves(pair, vvv)
    p1 = burner.spotPrice()
    assert p1 == (reserve_vvv << 112) // reserve_usdc

    def predict(x: int) -> tuple[int, int]:
        """(spot, TWAP) at the buyback after moving the pool by x."""
        if direction == "vvv_sold_into_pool":
            out = amount_out(x, reserve_vvv, reserve_usdc)
            rv, ru = reserve_vvv + x, reserve_usdc - out
        else:
            out = amount_out(x, reserve_usdc, reserve_vvv)
            rv, ru = reserve_vvv - out, reserve_usdc + x
        p2 = (rv << 112) // ru
        twap = (p1 * (t_swap - observed) + p2 * (t_buy - t_swap)) // (t_buy - observed)
        return p2, twap

    low, high = 0, (reserve_vvv if direction == "vvv_sold_into_pool" else reserve_usdc)
    assert deviation_ok(*predict(low), bound) and not deviation_ok(*predict(high), bound)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if deviation_ok(*predict(mid), bound) else (low, mid)
    largest = low
    assert deviation_ok(*predict(largest), bound)
    assert not deviation_ok(*predict(largest + 1), bound)

    if direction == "vvv_sold_into_pool":
        vvv.transfer(bob, reserve_vvv, sender=owner)
        vvv.approve(router, 2**256 - 1, sender=bob)
        path = [vvv, usdc]
    else:
        fund_usdc(bob, reserve_usdc, spender=router)
        path = [usdc, vvv]

    def move_pool(x: int) -> None:
        at(t_swap)
        router.swapExactTokensForTokens(x, 1, path, bob, t_swap + 60, sender=bob)

    # One unit past the bound: refused by the deviation guard, with nothing changed.
    snapshot = chain.snapshot()
    move_pool(largest + 1)
    spot, twap = predict(largest + 1)
    floor = floor_of(AMOUNT, twap, slippage)
    router_out = router.getAmountsOut(AMOUNT, [usdc, vvv])[1]
    if direction == "vvv_sold_into_pool":
        # The floor is no protection here: the pool pays more than the TWAP amount.
        assert spot > twap and router_out > AMOUNT * twap // Q112 > floor
    else:
        assert spot < twap
    at(t_buy)
    refused_changing_nothing(
        storage_roots,
        "buyback: spot strays from TWAP",
        lambda: burner.buyback(AMOUNT, floor, t_buy + 60, sender=keeper),
    )
    chain.restore(snapshot)

    # Exactly the largest move the bound allows: the buyback runs, at the predicted prices.
    move_pool(largest)
    spot, twap = predict(largest)
    floor = floor_of(AMOUNT, twap, slippage)
    bob_before = (vvv.balanceOf(bob), usdc.balanceOf(bob))
    at(t_buy)
    receipt = burner.buyback(AMOUNT, floor, t_buy + 60, sender=keeper)
    [event] = receipt.events.filter(burner.BuybackExecuted)
    assert (event.spotPrice, event.twapPrice) == (spot, twap)
    assert event.vvvBought >= floor
    # The bystander who moved the pool is untouched by the buyback.
    assert (vvv.balanceOf(bob), usdc.balanceOf(bob)) == bob_before


# ------------------------------------------------------------------ TWAP window and age


def test_twap_window__exactly_the_window_accepted_one_second_short_refused(
    burner, pair, vvv, owner, keeper, alice, funded_burner, observed, at, storage_roots
):
    """Two observations one default window apart, then governance lengthens the window to
    three: until three windows have passed since the older one, no observation is old
    enough. The pool is calm, so neither the deviation bound nor the floor would object:
    only the window guard refuses a TWAP over one second less."""
    window = burner.minTwapWindow()
    at(observed + window)
    assert burner.update(sender=alice).return_value is True
    assert burner.observations()[0] == observed
    longer = 3 * window
    at(observed + window + 1)
    burner.setTwapWindow(longer, burner.MAX_TWAP_AGE(), sender=owner)
    floor = floor_of(AMOUNT, burner.spotPrice(), burner.maxSlippageBps())

    at(observed + longer - 1)
    refused_changing_nothing(
        storage_roots,
        "buyback: TWAP window too short",
        lambda: burner.buyback(AMOUNT, floor, observed + longer + 60, sender=keeper),
    )

    at(observed + longer)
    receipt = burner.buyback(AMOUNT, floor, observed + longer + 60, sender=keeper)
    [event] = receipt.events.filter(burner.BuybackExecuted)
    assert event.twapPrice == event.spotPrice  # calm pool: the TWAP is the spot price


def test_twap_window__newer_observation_used_from_exactly_one_window_on(
    burner, router, vvv, usdc, pair, alice, bob, fund_usdc, observed, at, mine_at
):
    """One second before the newer observation is a window old the TWAP runs from the older
    one; from that second on, from the newer. The pool moves between them, so the two TWAPs
    differ and the test sees which observation was used."""
    window = burner.minTwapWindow()
    newer = observed + window
    at(newer)
    assert burner.update(sender=alice).return_value is True
    older_time, older_cumulative, newer_time, newer_cumulative = burner.observations()
    assert (older_time, newer_time) == (observed, newer)
    fund_usdc(bob, 100_000 * USDC, spender=router)
    at(newer + 10)
    router.swapExactTokensForTokens(100_000 * USDC, 1, [usdc, vvv], bob, newer + 100, sender=bob)
    moved = burner.spotPrice()

    def cumulative_at(t: int) -> int:
        return pair_cumulative(pair, usdc) + moved * (t - pair.getReserves()[2])

    t = newer + window - 1
    mine_at(t)
    from_older = (cumulative_at(t) - older_cumulative) // (t - older_time)
    assert burner.twapPrice() == from_older
    mine_at(t + 1)
    from_newer = (cumulative_at(t + 1) - newer_cumulative) // window
    assert burner.twapPrice() == from_newer
    assert from_newer != from_older


def test_twap_age__exactly_the_max_age_accepted_one_second_older_refused(
    burner, keeper, funded_burner, observed, at, storage_roots
):
    """The newest observation exactly `maxTwapAge` old still prices a buyback; one second
    older it is stale. The pool is calm, so only the age guard refuses."""
    age = burner.maxTwapAge()
    floor = floor_of(AMOUNT, burner.spotPrice(), burner.maxSlippageBps())

    at(observed + age + 1)
    refused_changing_nothing(
        storage_roots,
        "buyback: stale TWAP",
        lambda: burner.buyback(AMOUNT, floor, observed + age + 60, sender=keeper),
    )
    # A refused buyback recorded nothing, so the newest observation is still the old one.
    assert burner.observations()[2] == observed


def test_twap_age__at_the_max_age_the_buyback_runs(burner, keeper, funded_burner, observed, at):
    age = burner.maxTwapAge()
    floor = floor_of(AMOUNT, burner.spotPrice(), burner.maxSlippageBps())
    at(observed + age)
    receipt = burner.buyback(AMOUNT, floor, observed + age + 60, sender=keeper)
    assert receipt.events.filter(burner.BuybackExecuted)[0].vvvBought >= floor


# ------------------------------------------------------------------ observations (packed word)


def test_update__one_second_short_of_a_window_records_nothing_at_the_window_records(
    burner, pair, usdc, alice, observed, at
):
    """`update` records only once the newer observation is a window old. The two times and
    the index share one word: recording a new observation must keep the other one, time and
    cumulative, exactly."""
    window = burner.minTwapWindow()
    kept = burner.observations()
    at(observed + window - 1)
    assert burner.update(sender=alice).return_value is False
    assert burner.observations() == kept

    _, _, newer_time, newer_cumulative = kept
    t = observed + window
    cumulative = pair_cumulative(pair, usdc) + burner.spotPrice() * (t - pair.getReserves()[2])
    at(t)
    assert burner.update(sender=alice).return_value is True
    assert burner.observations() == (newer_time, newer_cumulative, t, cumulative)
    # Once more, a window later: the ring turns again and keeps the previous one.
    at(t + window)
    assert burner.update(sender=alice).return_value is True
    assert burner.observations()[:2] == (t, cumulative)


# ------------------------------------------------------------------ the keeper's arguments


def test_min_out__exactly_the_floor_accepted_one_wei_below_refused(
    burner, router, usdc, vvv, keeper, funded_burner, observed, at, storage_roots
):
    """The pool would pay well above the floor, so a minimum one wei under it is refused by
    the floor guard alone (the router would have accepted it)."""
    t = observed + burner.minTwapWindow()
    floor = floor_of(AMOUNT, burner.spotPrice(), burner.maxSlippageBps())
    assert router.getAmountsOut(AMOUNT, [usdc, vvv])[1] > floor
    at(t)
    refused_changing_nothing(
        storage_roots,
        "buyback: min out below TWAP floor",
        lambda: burner.buyback(AMOUNT, floor - 1, t + 60, sender=keeper),
    )
    at(t)
    receipt = burner.buyback(AMOUNT, floor, t + 60, sender=keeper)
    assert receipt.events.filter(burner.BuybackExecuted)[0].vvvBought >= floor


def test_per_call_cap__exactly_the_cap_accepted_one_base_unit_more_refused(
    burner, keeper, fund_usdc, observed, at, storage_roots
):
    """Revenue covers the cap and one more unit, so "not enough revenue" cannot mask the cap."""
    cap = burner.maxAmountIn()
    fund_usdc(burner, cap + 1)
    t = observed + burner.minTwapWindow()
    p = burner.spotPrice()
    slip = burner.maxSlippageBps()
    at(t)
    refused_changing_nothing(
        storage_roots,
        "buyback: above per-call cap",
        lambda: burner.buyback(cap + 1, floor_of(cap + 1, p, slip), t + 60, sender=keeper),
    )
    at(t)
    receipt = burner.buyback(cap, floor_of(cap, p, slip), t + 60, sender=keeper)
    assert receipt.events.filter(burner.BuybackExecuted)[0].amountIn == cap


def test_revenue__exactly_the_balance_accepted_one_base_unit_more_refused(
    burner, usdc, keeper, fund_usdc, observed, at, storage_roots
):
    held = 3_000 * USDC + 7
    fund_usdc(burner, held)
    assert usdc.balanceOf(burner) == held
    t = observed + burner.minTwapWindow()
    p, slip = burner.spotPrice(), burner.maxSlippageBps()
    at(t)
    refused_changing_nothing(
        storage_roots,
        "buyback: not enough revenue",
        lambda: burner.buyback(held + 1, floor_of(held + 1, p, slip), t + 60, sender=keeper),
    )
    at(t)
    burner.buyback(held, floor_of(held, p, slip), t + 60, sender=keeper)
    assert usdc.balanceOf(burner) == 0


@pytest.mark.parametrize(
    "offset, accepted, reason",
    [
        (0, True, None),  # the deadline is this very second
        (-1, False, "buyback: deadline passed"),
        (3_600, True, None),  # MAX_DEADLINE_DELAY exactly
        (3_601, False, "buyback: deadline too far"),  # the router alone would accept it
    ],
)
def test_deadline__bounds_to_the_second(
    offset, accepted, reason, burner, keeper, funded_burner, observed, at, storage_roots
):
    assert burner.MAX_DEADLINE_DELAY() == 3_600
    t = observed + burner.minTwapWindow()
    floor = floor_of(AMOUNT, burner.spotPrice(), burner.maxSlippageBps())
    before = storage_roots()
    at(t)
    if accepted:
        burner.buyback(AMOUNT, floor, t + offset, sender=keeper)
        assert burner.totalSpent() == AMOUNT
    else:
        with ape.reverts(reason):
            burner.buyback(AMOUNT, floor, t + offset, sender=keeper)
        assert storage_roots() == before


# ------------------------------------------------------------------ governance bounds


@pytest.mark.parametrize(
    "args, reason",
    [
        ((2**112, 300, 500), None),
        ((2**112 + 1, 300, 500), "buyback: cap too large"),
        ((1, 300, 500), None),
        ((0, 300, 500), "buyback: zero cap"),
        ((1, 2_000, 500), None),
        ((1, 2_001, 500), "buyback: bad deviation"),
        ((1, 1, 500), None),
        ((1, 0, 500), "buyback: bad deviation"),
        ((1, 300, 2_000), None),
        ((1, 300, 2_001), "buyback: bad slippage"),
        ((1, 300, 1), None),
        ((1, 300, 0), "buyback: bad slippage"),
    ],
)
def test_set_limits__each_bound_and_one_past(args, reason, burner, owner):
    kept = (burner.maxAmountIn(), burner.maxDeviationBps(), burner.maxSlippageBps())
    if reason is None:
        burner.setLimits(*args, sender=owner)
        assert (burner.maxAmountIn(), burner.maxDeviationBps(), burner.maxSlippageBps()) == args
    else:
        with ape.reverts(reason):
            burner.setLimits(*args, sender=owner)
        assert (burner.maxAmountIn(), burner.maxDeviationBps(), burner.maxSlippageBps()) == kept


@pytest.mark.parametrize(
    "args, reason",
    [
        ((60, 120), None),
        ((59, 120), "buyback: window too short"),
        ((1_800, 3_600), None),  # exactly two windows
        ((1_800, 3_599), "buyback: age below two windows"),
        ((1_800, 7 * 86_400), None),
        ((1_800, 7 * 86_400 + 1), "buyback: age too long"),
    ],
)
def test_set_twap_window__each_bound_and_one_past(args, reason, burner, owner):
    kept = (burner.minTwapWindow(), burner.maxTwapAge())
    if reason is None:
        burner.setTwapWindow(*args, sender=owner)
        assert (burner.minTwapWindow(), burner.maxTwapAge()) == args
    else:
        with ape.reverts(reason):
            burner.setTwapWindow(*args, sender=owner)
        assert (burner.minTwapWindow(), burner.maxTwapAge()) == kept
