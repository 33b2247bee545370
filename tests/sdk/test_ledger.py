"""CreditLedger semantics, the same on both backends (SQLite and Redis)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.sdk import NOON, FakeClock
from venice_sdk.errors import Reason
from venice_sdk.ledger import (
    ACTIVITY_WINDOW,
    MAX_AMOUNT,
    CreditLedger,
    Debit,
    SQLiteLedger,
    epoch_day,
    month_period,
    normalize_account,
)
from venice_sdk.ledger.base import MONTH_BASE

WALLET = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"
DAY = NOON // 86_400


def test_epoch_day_rolls_at_midnight_utc() -> None:
    assert epoch_day(DAY * 86_400 - 1) == DAY - 1
    assert epoch_day(DAY * 86_400) == DAY
    assert epoch_day(DAY * 86_400 + 86_399.999) == DAY


def test_normalize_account() -> None:
    assert normalize_account(WALLET) == WALLET.lower()
    assert normalize_account("key_3f9a") == "key_3f9a"
    for bad in ["", "has space", "x" * 201, "caf\u00e9"]:
        with pytest.raises(ValueError):
            normalize_account(bad)


def test_debit_up_to_the_limit_exactly(ledger: CreditLedger) -> None:
    first = ledger.debit(WALLET, 600, 1_000)
    assert first == Debit(True, WALLET.lower(), DAY, 600, 600, 400)
    last = ledger.debit(WALLET, 400, 1_000)
    assert last.allowed and last.spent == 1_000 and last.remaining == 0 and last.reason is None
    assert ledger.spent(WALLET) == 1_000
    assert ledger.remaining(WALLET, 1_000) == 0


def test_one_micro_more_is_refused_and_changes_nothing(ledger: CreditLedger) -> None:
    ledger.debit(WALLET, 999, 1_000)
    refused = ledger.debit(WALLET, 2, 1_000)
    assert refused == Debit(False, WALLET.lower(), DAY, 2, 999, 1, Reason.INSUFFICIENT_CREDIT)
    assert ledger.spent(WALLET) == 999
    assert ledger.debit(WALLET, 1, 1_000).allowed
    assert not ledger.debit(WALLET, 1, 1_000).allowed
    assert ledger.spent(WALLET) == 1_000


def test_cost_zero_is_allowed_even_at_the_limit(ledger: CreditLedger) -> None:
    assert ledger.debit(WALLET, 0, 0).allowed
    ledger.debit(WALLET, 5, 5)
    zero = ledger.debit(WALLET, 0, 5)
    assert zero.allowed and zero.spent == 5 and zero.remaining == 0


def test_a_cost_above_the_limit_on_a_fresh_day_is_refused(ledger: CreditLedger) -> None:
    assert not ledger.debit(WALLET, 11, 10).allowed
    assert ledger.spent(WALLET) == 0


def test_a_lower_limit_than_spent_reports_zero_remaining(ledger: CreditLedger) -> None:
    ledger.debit(WALLET, 80, 100)
    # Credit can fall mid-day (DIEM unstaked): nothing more goes through, remaining is 0.
    refused = ledger.debit(WALLET, 1, 50)
    assert not refused.allowed and refused.spent == 80 and refused.remaining == 0
    assert ledger.remaining(WALLET, 50) == 0


def test_accounts_are_normalised_and_separate(ledger: CreditLedger) -> None:
    ledger.debit(WALLET.lower(), 10, 100)
    ledger.debit(WALLET.upper().replace("0X", "0x"), 10, 100)
    assert ledger.spent(WALLET) == 20
    ledger.debit("key_1", 7, 100)
    assert ledger.spent("key_1") == 7
    assert ledger.spent("KEY_1") == 0  # key ids are opaque, case-sensitive


def test_bad_amounts_are_refused(ledger: CreditLedger) -> None:
    with pytest.raises(ValueError):
        ledger.debit(WALLET, -1, 100)
    with pytest.raises(ValueError):
        ledger.debit(WALLET, 1, MAX_AMOUNT + 1)
    with pytest.raises(TypeError):
        ledger.debit(WALLET, 1.0, 100)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ledger.debit(WALLET, True, 100)
    assert ledger.spent(WALLET) == 0


def test_largest_amounts_stay_exact(ledger: CreditLedger) -> None:
    assert ledger.debit(WALLET, MAX_AMOUNT - 1, MAX_AMOUNT).allowed
    assert ledger.debit(WALLET, 1, MAX_AMOUNT).spent == MAX_AMOUNT
    assert not ledger.debit(WALLET, 1, MAX_AMOUNT).allowed
    assert ledger.spent(WALLET) == MAX_AMOUNT


def test_midnight_utc_rollover(ledger: CreditLedger, clock: FakeClock) -> None:
    clock.now = (DAY + 1) * 86_400 - 1  # 23:59:59
    assert ledger.debit(WALLET, 1_000, 1_000).allowed
    assert not ledger.debit(WALLET, 1, 1_000).allowed
    clock.now = (DAY + 1) * 86_400  # 00:00:00 the next day: fresh credit
    assert ledger.spent(WALLET) == 0
    assert ledger.remaining(WALLET, 1_000) == 1_000
    fresh = ledger.debit(WALLET, 1_000, 1_000)
    assert fresh.allowed and fresh.day == DAY + 1
    assert ledger.spent(WALLET, day=DAY) == 1_000  # yesterday is still readable


def test_debit_many_is_a_batch_of_independent_debits(ledger: CreditLedger) -> None:
    results = ledger.debit_many(
        [(WALLET, 60, 100), (WALLET, 60, 100), ("k", 5, 5), (WALLET, 40, 100)]
    )
    assert [r.allowed for r in results] == [True, False, True, True]
    assert [r.spent for r in results] == [60, 60, 5, 100]
    assert ledger.spent(WALLET) == 100
    assert ledger.debit_many([]) == []


def test_two_ledgers_on_one_store_share_balances(
    make_ledger: Callable[..., CreditLedger], clock: FakeClock
) -> None:
    a, b = make_ledger(clock), make_ledger(clock)
    a.debit(WALLET, 70, 100)
    assert not b.debit(WALLET, 31, 100).allowed
    assert b.debit(WALLET, 30, 100).allowed
    assert a.spent(WALLET) == 100


def test_activity_window(ledger: CreditLedger, clock: FakeClock) -> None:
    assert ledger.active_accounts() == 0
    assert not ledger.is_active(WALLET)
    assert ledger.last_activity(WALLET) is None
    ledger.record_activity(WALLET)
    clock.now += 3 * 86_400
    ledger.record_activity("key_b")
    ledger.record_activity("key_b")  # counted once
    assert ledger.active_accounts() == 2
    assert ledger.is_active(WALLET.lower())
    assert ledger.last_activity(WALLET) == NOON
    assert ledger.active_accounts(window=86_400) == 1
    clock.now = NOON + ACTIVITY_WINDOW  # exactly 7 days after the wallet's last call: inactive
    assert not ledger.is_active(WALLET)
    assert ledger.active_accounts() == 1
    ledger.record_activity(WALLET)  # active again, and old entries are trimmed
    assert ledger.active_accounts() == 2
    clock.now += ACTIVITY_WINDOW
    assert ledger.active_accounts() == 0
    with pytest.raises(ValueError, match="window"):
        ledger.active_accounts(window=ACTIVITY_WINDOW + 1)


def test_activity_never_moves_back(ledger: CreditLedger, clock: FakeClock) -> None:
    ledger.record_activity(WALLET)
    clock.now -= 100  # a server with a slow clock
    ledger.record_activity(WALLET)
    assert ledger.last_activity(WALLET) == NOON


def test_sqlite_is_durable_across_reopen(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "ledger.db"
    with SQLiteLedger(path, clock=clock) as ledger:
        ledger.debit(WALLET, 123, 1_000)
        ledger.debit("key_z", 7, 1_000)
        ledger.record_activity(WALLET)
    reopened = SQLiteLedger(path, clock=clock)
    assert reopened.spent(WALLET) == 123
    assert reopened.spent("key_z") == 7
    assert reopened.is_active(WALLET)
    assert not reopened.debit(WALLET, 878, 1_000).allowed
    reopened.close()


def test_sqlite_prunes_old_days(tmp_path: Path, clock: FakeClock) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.db", clock=clock, retention_days=2)
    for _ in range(5):
        ledger.debit(WALLET, 1, 10)
        clock.now += 86_400
    ledger.debit(WALLET, 1, 10)
    conn = ledger._conn()
    days = [row[0] for row in conn.execute("SELECT day FROM spend ORDER BY day")]
    assert days == [DAY + 3, DAY + 4, DAY + 5]
    ledger.close()


def test_sqlite_prunes_old_days_when_it_only_reserves_and_settles(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A gateway on SQLite only reserves and settles (no debit): its spend and holds were
    never pruned, and grew for as long as it ran. Now a day's first reserve or settle prunes
    as its first debit does; a month's lease renewed for longer than two months is kept."""
    ledger = SQLiteLedger(tmp_path / "ledger.db", clock=clock, retention_days=2, hold_ttl=60)
    lessor = SQLiteLedger(tmp_path / "ledger.db", clock=clock, hold_ttl=2 * 86_400)
    lessor.reserve("vvk_key1", 5, 1_000, "lease", period=month_period(clock.now))
    for i in range(70):
        ledger.reserve(WALLET, 1, 10, f"r{i}")
        ledger.settle(f"r{i}", 1)
        lessor.renew("lease")
        clock.now += 86_400
    ledger.reserve(WALLET, 1, 10, "r70")
    conn = ledger._conn()
    days = [row[0] for row in conn.execute("SELECT day FROM spend WHERE day < ?", (MONTH_BASE,))]
    assert sorted(days) == [DAY + 68, DAY + 69]
    held = [row[0] for row in conn.execute("SELECT request_id FROM holds ORDER BY day")]
    assert held == ["r68", "r69", "r70", "lease"]  # (a month's period sorts after the days)
    assert lessor.settle("lease", 4).cost == 4
    ledger.close()
    lessor.close()


def test_sqlite_prunes_after_the_request_in_batches_and_a_failed_prune_undoes_nothing(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A day's first reserve or settle prunes a day of requests' holds: in the request's own
    transaction it held the write lock throughout (every other worker's settle waited, then
    failed) and a prune that failed undid the request. Now the request commits first, the
    prune deletes `PRUNE_BATCH` rows a transaction, and one that fails is logged and left to
    the next day's."""
    from venice_sdk.ledger import LedgerUnavailable, sqlite

    history = SQLiteLedger(tmp_path / "ledger.db", clock=clock, retention_days=30, hold_ttl=60)
    for day in range(4):
        for i in range(7):
            history.reserve(WALLET, 1, 100, f"d{day}-{i}")
            history.settle(f"d{day}-{i}", 1)
        clock.now += 86_400
    ledger = SQLiteLedger(tmp_path / "ledger.db", clock=clock, retention_days=1, hold_ttl=60)
    conn = ledger._conn()
    tried: list[str] = []
    real = ledger._delete_batch

    def locked(sql: str, args: tuple[object, ...]) -> int:
        tried.append(sql)
        raise LedgerUnavailable("database is locked")

    def counted(sql: str, args: tuple[object, ...]) -> int:
        tried.append(sql)
        return real(sql, args)

    monkeypatch.setattr(sqlite, "PRUNE_BATCH", 3)
    monkeypatch.setattr(ledger, "_delete_batch", locked)
    assert ledger.reserve(WALLET, 1, 100, "x").allowed  # committed, prune or not
    assert ledger.settle("x", 1).cost == 1  # (no second try today: each would wait)
    assert len(tried) == 1 and "pruning the ledger's old days stopped" in caplog.text
    assert conn.execute("SELECT count(*) FROM holds").fetchone()[0] == 29

    monkeypatch.setattr(ledger, "_delete_batch", counted)
    tried.clear()
    clock.now += 86_400
    assert ledger.reserve(WALLET, 1, 100, "y").allowed  # the next day's prunes
    assert {row[0] for row in conn.execute("SELECT request_id FROM holds")} == {"x", "y"}
    assert len(tried) >= 28 // 3 + 1  # (3 rows a transaction)
    ledger.close()
    history.close()


def test_redis_keys_expire(redis_url: str, clock: FakeClock) -> None:
    import redis

    from venice_sdk.ledger import RedisLedger

    ledger = RedisLedger(redis_url, clock=clock, retention_days=2)
    ledger.debit(WALLET, 5, 10)
    client = redis.Redis.from_url(redis_url)
    spend_keys = [k for k in client.keys("*") if b":t:" not in k and b"activity" not in k]
    token_keys = [k for k in client.keys("*:t:*")]
    assert len(spend_keys) == 1 and len(token_keys) == 1
    assert 2 * 86_400 - 5 <= client.ttl(spend_keys[0]) <= 2 * 86_400
    assert 0 < client.ttl(token_keys[0]) <= ledger.token_ttl
    # A refused debit writes nothing, not even a token.
    ledger.debit(WALLET, 6, 10)
    assert len(client.keys("*:t:*")) == 1
    client.close()
    ledger.close()


def test_active_list_names_the_wallets_seen_in_the_window(
    ledger: CreditLedger, clock: FakeClock
) -> None:
    a, b, c = ("0x" + ch * 40 for ch in "abc")
    ledger.record_activity(a)
    clock.now += 3 * 86_400
    ledger.record_activity(b)
    clock.now += 5 * 86_400  # a: 8 days ago, b: 5 days ago
    ledger.record_activity(c)
    assert sorted(ledger.active_list()) == [b, c]
    assert sorted(ledger.active_list(window=86_400)) == [c]
    assert ledger.active_accounts() == len(ledger.active_list()) == 2
