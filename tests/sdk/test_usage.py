"""Usage records on both stores: idempotent by request id, paged by wallet or key and day,
CSV, daily sums by key and model."""

from __future__ import annotations

import csv
import io

import pytest

from venice_sdk.usage import (
    DailyUsage,
    UsageRecord,
    UsageStore,
    to_csv,
)

WALLET = "0x00000000000000000000000000000000000000cc"
DAY = 20_240


@pytest.fixture
def store(usage_store: UsageStore) -> UsageStore:
    return usage_store


def rec(i: int, key: str | None = "key1", model: str = "tiny", day: int = DAY) -> UsageRecord:
    at = DAY * 86_400.0 + i
    return UsageRecord(f"r{i}", key, WALLET, model, 10 + i, i, 0, 10 + 4 * i, 500, at, day,
                       "complete")  # fmt: skip


def test_records_page_by_wallet_key_and_day(store: UsageStore) -> None:
    for i in range(5):
        assert store.record(rec(i, key="key1" if i % 2 else "key2"))
    assert not store.record(rec(0))  # the same request id: recorded once
    store.record(rec(9, key=None, day=DAY + 1))
    first = store.query(wallet=WALLET, limit=4)
    assert [r.request_id for r in first.records] == ["r0", "r1", "r2", "r3"]
    assert first.next_cursor is not None
    rest = store.query(wallet=WALLET, cursor=first.next_cursor, limit=4)
    assert [r.request_id for r in rest.records] == ["r4", "r9"] and rest.next_cursor is None
    assert rest.records[1].key_id is None
    assert [r.request_id for r in store.query(key_id="key1").records] == ["r1", "r3"]
    assert [r.request_id for r in store.query(wallet=WALLET, day=DAY + 1).records] == ["r9"]
    assert store.query(wallet=WALLET, day=DAY + 2).records == []
    assert store.query(wallet=WALLET).records[2] == rec(2, key="key2")
    with pytest.raises(ValueError):
        store.query()
    with pytest.raises(ValueError):
        store.query(wallet=WALLET, limit=0)


@pytest.mark.parametrize("field", ["cursor", "day", "daily"])
def test_a_cursor_or_day_beyond_any_record_is_a_value_error(store: UsageStore, field: str) -> None:
    """``/v1/usage?cursor=99999999999999999999`` (or such a day) raised OverflowError from
    SQLite's driver: a 500 with a traceback in the gateway's log for a caller's typo."""
    for value in (2**63, 10**30, -1):
        with pytest.raises(ValueError):
            if field == "daily":
                store.daily(value, wallet=WALLET)
            else:
                store.query(wallet=WALLET, **{field: value})
    assert store.query(wallet=WALLET, cursor=2**63 - 1, day=2**63 - 1).records == []


def test_daily_sums_by_key_and_model(store: UsageStore) -> None:
    store.record(rec(1))
    store.record(rec(2))
    store.record(rec(3, model="small"))
    store.record(rec(4, key=None))
    store.record(rec(5, day=DAY + 1))
    sums = {(d.key_id, d.model): d for d in store.daily(DAY, wallet=WALLET)}
    assert sums[("key1", "tiny")] == DailyUsage("key1", "tiny", 2, 23, 3, 0, 32)
    assert sums[("key1", "small")].requests == 1
    assert sums[(None, "tiny")].cost == 26
    assert len(sums) == 3
    assert [d.model for d in store.daily(DAY, key_id="key1")] == ["small", "tiny"]


def test_csv_has_a_header_and_one_row_per_record() -> None:
    rows = list(csv.reader(io.StringIO(to_csv([rec(1), rec(2, key=None)]))))
    assert rows[0][:4] == ["request_id", "key_id", "wallet", "model"]
    assert rows[1][0] == "r1" and rows[2][1] == "" and len(rows) == 3
