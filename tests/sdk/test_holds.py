"""Holds on both ledgers: reserve, settle at the actual cost, release; idempotent by request
id, expiring after their TTL, settling into the day they were taken."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.sdk import FakeClock
from venice_sdk.errors import Reason
from venice_sdk.ledger import (
    HOLD_TTL,
    SECONDS_PER_DAY,
    CreditLedger,
    HoldError,
    RedisLedger,
    epoch_day,
)

WALLET = "0x00000000000000000000000000000000000000cc"
OTHER = "0x00000000000000000000000000000000000000dd"


def test_a_hold_counts_against_the_day_like_a_debit(ledger: CreditLedger) -> None:
    hold = ledger.reserve(WALLET, 600, 1_000, "r1")
    assert hold.allowed and hold.state == "held" and hold.reason is None
    assert (hold.amount, hold.spent, hold.held, hold.remaining) == (600, 0, 600, 400)
    assert hold.day == ledger.today()
    assert hold.expires_at == ledger.clock() + HOLD_TTL
    assert ledger.held(WALLET) == 600 and ledger.spent(WALLET) == 0

    refused = ledger.reserve(WALLET, 401, 1_000, "r2")
    assert not refused.allowed and refused.state == "refused"
    assert refused.reason == Reason.INSUFFICIENT_CREDIT
    assert (refused.spent, refused.held, refused.remaining) == (0, 600, 400)
    debit = ledger.debit(WALLET, 401, 1_000)
    assert not debit.allowed and debit.remaining == 400
    assert ledger.debit(WALLET, 400, 1_000).allowed
    assert ledger.held(WALLET) == 600 and ledger.spent(WALLET) == 400
    # A refused reserve held nothing, so its id may be tried again.
    assert not ledger.reserve(WALLET, 1, 1_000, "r2").allowed
    ledger.release(hold)
    assert ledger.reserve(WALLET, 600, 1_000, "r2").allowed


def test_settle_debits_the_actual_cost_and_releases_the_rest(ledger: CreditLedger) -> None:
    hold = ledger.reserve(WALLET, 600, 1_000, "r1")
    ledger.reserve(WALLET, 100, 1_000, "r2")
    done = ledger.settle(hold, 250)
    assert done.allowed and not done.capped and done.reason is None
    assert (done.cost, done.requested, done.held, done.released) == (250, 250, 600, 350)
    assert (done.spent, done.remaining, done.day) == (250, 650, hold.day)
    assert done.request_id == "r1" and done.account == WALLET
    assert ledger.spent(WALLET) == 250 and ledger.held(WALLET) == 100


def test_an_actual_above_the_hold_is_capped_at_the_hold(ledger: CreditLedger) -> None:
    hold = ledger.reserve(WALLET, 600, 1_000, "r1")
    done = ledger.settle(hold, 900)
    assert done.capped and (done.cost, done.requested, done.released) == (600, 900, 0)
    assert ledger.spent(WALLET) == 600 and ledger.held(WALLET) == 0


def test_settle_of_nothing_and_by_request_id(
    make_ledger: Callable[..., CreditLedger], clock: FakeClock
) -> None:
    ledger, other_server = make_ledger(clock), make_ledger(clock)
    ledger.reserve(WALLET, 600, 1_000, "r1")
    ledger.reserve(WALLET, 50, 1_000, "r2")
    done = other_server.settle("r1", 0)  # by id alone, from another server
    assert (done.cost, done.released, done.spent, done.account) == (0, 600, 0, WALLET)
    released = other_server.release("r2")
    assert released.state == "released" and released.account == WALLET
    assert ledger.spent(WALLET) == 0 and ledger.held(WALLET) == 0


def test_reserve_is_idempotent_by_request_id(ledger: CreditLedger) -> None:
    first = ledger.reserve(WALLET, 300, 1_000, "r1")
    again = ledger.reserve(WALLET.upper().replace("0X", "0x"), 300, 1_000, "r1")
    assert again == first
    assert ledger.held(WALLET) == 300
    with pytest.raises(HoldError) as other_amount:
        ledger.reserve(WALLET, 301, 1_000, "r1")
    assert other_amount.value.code == Reason.REQUEST_ID_REUSED
    with pytest.raises(HoldError) as other_account:
        ledger.reserve(OTHER, 300, 1_000, "r1")
    assert other_account.value.code == Reason.REQUEST_ID_REUSED
    assert ledger.held(WALLET) == 300 and ledger.held(OTHER) == 0
    # After settling, reserving the id again returns the settled hold and holds nothing.
    ledger.settle(first, 100)
    settled = ledger.reserve(WALLET, 300, 1_000, "r1")
    assert settled.state == "settled" and ledger.held(WALLET) == 0


def test_settle_is_idempotent_and_its_errors_change_nothing(ledger: CreditLedger) -> None:
    hold = ledger.reserve(WALLET, 600, 1_000, "r1")
    done = ledger.settle(hold, 250)
    assert ledger.settle(hold, 250) == done
    assert ledger.settle("r1", 999) == done  # a retry never changes the first result
    assert ledger.spent(WALLET) == 250
    with pytest.raises(HoldError) as settled:
        ledger.release(hold)
    assert settled.value.code == Reason.HOLD_SETTLED

    other = ledger.reserve(WALLET, 100, 1_000, "r2")
    assert ledger.release(other).state == "released"
    assert ledger.release("r2").state == "released"  # again: same state, nothing changes
    with pytest.raises(HoldError) as released:
        ledger.settle(other, 50)
    assert released.value.code == Reason.HOLD_RELEASED
    for call in (lambda: ledger.settle("nope", 1), lambda: ledger.release("nope")):
        with pytest.raises(HoldError) as unknown:
            call()
        assert unknown.value.code == Reason.UNKNOWN_HOLD
    assert ledger.spent(WALLET) == 250 and ledger.held(WALLET) == 0


def test_a_hold_expires_after_its_ttl(ledger: CreditLedger, clock: FakeClock) -> None:
    hold = ledger.reserve(WALLET, 800, 1_000, "r1")
    clock.now += HOLD_TTL - 1
    assert ledger.held(WALLET) == 800
    assert not ledger.debit(WALLET, 201, 1_000).allowed
    clock.now += 1  # the server that took it died: nobody settles it
    # The next call on the account releases it: no background job.
    assert ledger.debit(WALLET, 900, 1_000).allowed
    assert ledger.held(WALLET) == 0
    with pytest.raises(HoldError) as expired:
        ledger.settle(hold, 10)
    assert expired.value.code == Reason.HOLD_EXPIRED
    assert ledger.release(hold).state == "expired"
    assert ledger.spent(WALLET) == 900


def test_a_renewed_hold_lives_a_ttl_from_its_renewal(
    ledger: CreditLedger, clock: FakeClock
) -> None:
    """A request served for longer than a hold lives: its server renews the hold (a lease),
    which then expires only a TTL after the last renewal, by id or by `Hold`, and settles as
    any hold does. Renewing what is not a live hold raises and changes nothing."""
    hold = ledger.reserve(WALLET, 800, 1_000, "r1")
    for _ in range(3):
        clock.now += HOLD_TTL - 1
        renewed = ledger.renew("r1")
        assert renewed.state == "held" and renewed.expires_at == clock.now + HOLD_TTL
        assert ledger.held(WALLET) == 800
    clock.now += HOLD_TTL - 1
    assert ledger.renew(hold).held == 800
    assert ledger.settle(hold, 300).cost == 300
    assert ledger.spent(WALLET) == 300 and ledger.held(WALLET) == 0
    ledger.reserve(WALLET, 100, 1_000, "r2")
    ledger.release("r2")
    ledger.reserve(WALLET, 100, 1_000, "r3")
    clock.now += HOLD_TTL  # r3's server died
    for rid, code in (("r1", Reason.HOLD_SETTLED), ("r2", Reason.HOLD_RELEASED),
                      ("r3", Reason.HOLD_EXPIRED), ("r4", Reason.UNKNOWN_HOLD)):  # fmt: skip
        with pytest.raises(HoldError) as refused:
            ledger.renew(rid)
        assert refused.value.code == code
    assert ledger.spent(WALLET) == 300 and ledger.held(WALLET) == 0


def test_an_expired_hold_is_released_by_a_reserve(ledger: CreditLedger, clock: FakeClock) -> None:
    ledger.reserve(WALLET, 1_000, 1_000, "r1")
    clock.now += HOLD_TTL
    fresh = ledger.reserve(WALLET, 1_000, 1_000, "r2")
    assert fresh.allowed and fresh.held == 1_000


def test_a_hold_settles_into_the_day_it_was_taken(ledger: CreditLedger, clock: FakeClock) -> None:
    clock.now = (epoch_day(clock.now) + 1) * SECONDS_PER_DAY - 1  # 23:59:59 UTC
    day = ledger.today()
    hold = ledger.reserve(WALLET, 600, 1_000, "r1")
    clock.now += 2  # 00:00:01 the next day
    assert ledger.today() == day + 1
    # The new day has its full credit, whatever yesterday's holds.
    assert ledger.reserve(WALLET, 1_000, 1_000, "r2").allowed
    done = ledger.settle(hold, 400)
    assert done.day == day and done.spent == 400
    assert ledger.spent(WALLET, day) == 400 and ledger.spent(WALLET) == 0
    assert ledger.held(WALLET, day) == 0 and ledger.held(WALLET) == 1_000


def _days_pass(ledger: CreditLedger, clock: FakeClock, seconds: int) -> None:
    """Move the ledger's clock on by ``seconds``, and Redis's too: its keys expire by its own
    (real) clock, so each key's TTL is cut by what that time would take (a key it would have
    outlived is deleted)."""
    clock.now += seconds
    if isinstance(ledger, RedisLedger):
        client = ledger.client
        for key in list(client.scan_iter()):
            ttl = client.ttl(key)
            if ttl >= 0 and ttl <= seconds:
                client.delete(key)
            elif ttl > seconds:
                client.expire(key, ttl - seconds)


@pytest.mark.parametrize("renewed", [False, True], ids=["long-ttl", "renewed-for-days"])
def test_a_hold_that_outlives_its_days_retention_still_settles(
    make_ledger: Callable[..., CreditLedger], clock: FakeClock, renewed: bool
) -> None:
    """Days are kept 3 days (``retention_days``); a hold may live longer: a sidecar run with
    ``--hold-ttl`` of up to a week, or a lease renewed for days. Its record stays until the
    retention has passed after its expiry, so its settle (by id alone, as a sidecar's caller
    sends it) still debits the day it was taken, and a retried settle gives the same answer.
    Before, Redis dropped the record and the index 3 days after the reserve and SQLite with its
    day: the settle was refused as an unknown hold and the request went unbilled."""
    ttl = 5 * SECONDS_PER_DAY if not renewed else SECONDS_PER_DAY
    ledger = make_ledger(clock, hold_ttl=ttl)
    hold = ledger.reserve(WALLET, 600, 1_000, "r1")
    for _ in range(4 if not renewed else 5):
        _days_pass(ledger, clock, SECONDS_PER_DAY - 60 if renewed else SECONDS_PER_DAY)
        ledger.debit(OTHER, 1, 1_000)  # a new day's first debit: SQLite prunes old days here
        if renewed:
            assert ledger.renew("r1").state == "held"
    assert ledger.today() >= hold.day + 4
    done = ledger.settle("r1", 250)
    assert (done.day, done.cost, done.released) == (hold.day, 250, 350)
    assert ledger.spent(WALLET, hold.day) == 250 and ledger.held(WALLET, hold.day) == 0
    _days_pass(ledger, clock, 2 * SECONDS_PER_DAY)
    ledger.debit(OTHER, 1, 1_000)
    assert ledger.settle("r1", 250) == done  # a retried settle: the same answer, nothing more


def test_holds_of_accounts_are_separate(ledger: CreditLedger) -> None:
    ledger.reserve(WALLET, 1_000, 1_000, "r1")
    assert ledger.reserve(OTHER, 1_000, 1_000, "r2").allowed
    assert ledger.reserve("vvk_key1", 5, 5, "r3").allowed


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((WALLET, -1, 10, "r"), ValueError),
        ((WALLET, 1, -10, "r"), ValueError),
        ((WALLET, True, 10, "r"), TypeError),
        ((WALLET, 1.5, 10, "r"), TypeError),
        ((WALLET, 1, 10, ""), ValueError),
        ((WALLET, 1, 10, "a b"), ValueError),
        ((WALLET, 1, 10, "x" * 129), ValueError),
        ((WALLET, 1, 10, 7), TypeError),
        (("not an account", 1, 10, "r"), ValueError),
    ],
)
def test_bad_arguments_are_refused_clearly(
    ledger: CreditLedger, args: tuple[object, ...], error: type[Exception]
) -> None:
    with pytest.raises(error):
        ledger.reserve(*args)  # type: ignore[arg-type]
    assert ledger.held(WALLET) == 0


def test_bad_settle_arguments(ledger: CreditLedger) -> None:
    hold = ledger.reserve(WALLET, 10, 10, "r1")
    with pytest.raises(ValueError):
        ledger.settle(hold, -1)
    with pytest.raises(TypeError):
        ledger.settle(hold, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ledger.settle("bad id!", 1)
    assert ledger.held(WALLET) == 10


def test_large_amounts_stay_exact(ledger: CreditLedger) -> None:
    big = 2**53 - 1
    hold = ledger.reserve(WALLET, big, big, "r1")
    assert hold.amount == big and hold.held == big
    done = ledger.settle(hold, big - 3)
    assert done.cost == big - 3 and done.released == 3 and ledger.spent(WALLET) == big - 3
