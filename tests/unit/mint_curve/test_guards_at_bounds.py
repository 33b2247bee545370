"""MintCurve's guards at their edges (docs/testing.md): knot rates, knot count and
order, launch mode and punitive multiplier, each exactly and one past; the end of the curve
to the wei for both quotes; and the packed words (the config word holds the interval count,
the mode and the multiplier; each knot holds its rate and the exact cost to reach it), each
field unchanged by a write to the others.

A three-knot curve (90, 100, 120 sVVV per DIEM) keeps the numbers small: it ends at 1_000
DIEM, and C(end) = (90 + 100) * 250 + (100 + 120) * 250 = 102_500 sVVV.
"""

from __future__ import annotations

import ape
import pytest

from tests.support.constants import VVV

RATES = [90 * VVV, 100 * VVV, 120 * VVV]
END = 1_000 * VVV
COST_TO_END = 102_500 * VVV
CLOSED, PUNITIVE, OPEN = 0, 1, 2


@pytest.fixture
def small(curve, owner):
    curve.setCurve(RATES, sender=owner)
    assert (curve.endSupply(), curve.costTo(END)) == (END, COST_TO_END)
    return curve


def config_of(curve) -> tuple:
    return curve.intervals(), curve.launchMode(), curve.punitiveMultiplier(), list(curve.knots())


# ------------------------------------------------------------------ governance bounds


@pytest.mark.parametrize(
    "rates, reason",
    [
        ([10**27, 10**27], None),  # MAX_RATE
        ([10**27, 10**27 + 1], "curve: rate out of bounds"),
        ([1, 1], None),
        ([0, 1], "curve: rate out of bounds"),
        ([5, 5, 5], None),  # flat is allowed
        ([5, 6, 5], "curve: rate decreasing"),
        ([5, 5], None),  # two knots: the fewest
        ([5], "curve: needs 2 knots"),
        ([VVV + i for i in range(256)], None),  # 256 knots: the most
    ],
)
def test_set_curve__each_bound_and_one_past(rates, reason, curve, owner):
    assert curve.MAX_RATE() == 10**27
    kept = config_of(curve)
    if reason is None:
        curve.setCurve(rates, sender=owner)
        assert list(curve.knots()) == rates
        assert curve.intervals() == len(rates) - 1
    else:
        with ape.reverts(reason):
            curve.setCurve(rates, sender=owner)
        assert config_of(curve) == kept


@pytest.mark.parametrize(
    "mode, multiplier, reason",
    [
        (PUNITIVE, 2, None),
        (PUNITIVE, 1, "curve: bad multiplier"),
        (PUNITIVE, 1_000_000, None),
        (PUNITIVE, 1_000_001, "curve: bad multiplier"),
        (OPEN, 100, None),
        (OPEN + 1, 100, "curve: bad mode"),
    ],
)
def test_set_launch_mode__each_bound_and_one_past(mode, multiplier, reason, curve, owner):
    kept = config_of(curve)
    if reason is None:
        curve.setLaunchMode(mode, multiplier, sender=owner)
        assert config_of(curve) == (kept[0], mode, multiplier, kept[3])
    else:
        with ape.reverts(reason):
            curve.setLaunchMode(mode, multiplier, sender=owner)
        assert config_of(curve) == kept


# ------------------------------------------------------------------ the end of the curve


def test_quote_cost__up_to_one_wei_before_the_end_accepted_the_end_refused(small):
    for supply in (0, 400 * VVV, END - 1):
        d = END - 1 - supply
        assert small.quoteCost(supply, d) == small.costTo(END - 1) - small.costTo(supply)
        with ape.reverts("curve: past the end"):
            small.quoteCost(supply, d + 1)


def test_quote_mint__one_wei_short_of_the_end_cost_accepted_the_end_cost_refused(small):
    """A lock worth C(end) - C(S) would reach the end of the table: refused. One wei less
    mints the most the curve allows, which stays below the end."""
    for supply in (0, 700 * VVV + 3):
        room = COST_TO_END - small.costTo(supply)
        minted = small.quoteMint(supply, room - 1)
        assert supply + minted < END
        assert small.costTo(supply + minted) <= small.costTo(supply) + room - 1
        with ape.reverts("curve: past the end"):
            small.quoteMint(supply, room)


def test_quote_mint__amount_bound_at_2_128(small):
    """2**128 - 1 passes the amount bound (and is then past the end of any table the rate
    bounds allow); 2**128 is refused by the amount bound itself."""
    with ape.reverts("curve: past the end"):
        small.quoteMint(0, 2**128 - 1)
    with ape.reverts("curve: amount too large"):
        small.quoteMint(0, 2**128)


# ------------------------------------------------------------------ packed words


def test_config_word__curve_and_mode_writes_keep_each_other(curve, owner):
    longer = [*RATES, 150 * VVV, 150 * VVV]
    curve.setLaunchMode(PUNITIVE, 37, sender=owner)
    curve.setCurve(longer, sender=owner)
    assert config_of(curve) == (4, PUNITIVE, 37, longer)
    curve.setLaunchMode(OPEN, 2, sender=owner)
    assert config_of(curve) == (4, OPEN, 2, longer)
    curve.setCurve(RATES, sender=owner)  # fewer knots: the mode and multiplier stay
    assert config_of(curve) == (2, OPEN, 2, RATES)


def test_knot_words__rate_and_exact_cost_both_kept(small):
    """Each knot packs its rate (bits 128-255) with the exact cost to reach it (0-127)."""
    assert list(small.knots()) == RATES
    assert [small.costTo(k * 500 * VVV) for k in range(3)] == [0, 47_500 * VVV, COST_TO_END]
    assert [small.rateAt(k * 500 * VVV) for k in range(2)] == RATES[:2]
    assert small.rateAt(END - 1) == RATES[1] + (RATES[2] - RATES[1]) * (500 * VVV - 1) // (
        500 * VVV
    )
