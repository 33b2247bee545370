"""API-key lifecycle on both backends (SQLite, and the real Redis the test command starts):
a refused request leaves no charge on a key's counters (issue 13), expiry, the model allowlist,
daily and monthly budgets changed without reissuing, the key kinds, and records written before
these fields existed. The wallet's credit comes from `FakeEntitlements` (no chain); the ledger
and key stores are real."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_gate import ALICE, BOB, PRICES, FakeEntitlements
from tests.support.sdk import NOON, FakeClock
from venice_sdk.auth import MAX_EXPIRES_AT, ApiKeyStore, AuthError, KeyStore, RedisKeyStore
from venice_sdk.auth.key_store import key_hash
from venice_sdk.cli import main
from venice_sdk.gate import Gatekeeper
from venice_sdk.ledger import CreditLedger, month_period
from venice_sdk.metering import Metering
from venice_sdk.pricing import PriceBook

DAY = 86_400
JULY_1 = NOON + 29 * DAY + DAY // 2  # 2025-07-01 00:00 UTC: NOON is 2025-06-01 12:00


@pytest.fixture
def keys(key_store: KeyStore) -> KeyStore:
    return key_store


@pytest.fixture
def credits() -> FakeEntitlements:
    return FakeEntitlements({ALICE: 10_000, BOB: 10_000})


@pytest.fixture
def gate(ledger: CreditLedger, keys: KeyStore, credits: FakeEntitlements) -> Gatekeeper:
    return Gatekeeper(credits, ledger, PriceBook.from_dict(PRICES), keys)  # type: ignore[arg-type]


def key_counters(ledger: CreditLedger, key_id: str) -> tuple[int, int, int, int]:
    """(spent today, held today, spent this month, held this month) of a key."""
    month = month_period(float(ledger.clock()))
    return (
        ledger.spent(key_id),
        ledger.held(key_id),
        ledger.spent(key_id, month),
        ledger.held(key_id, month),
    )


# ----------------------------------------------------------------- no charge for a refusal


def test_wallet_refusal_leaves_no_charge_on_the_key(
    gate: Gatekeeper, keys: KeyStore, ledger: CreditLedger, credits: FakeEntitlements
) -> None:
    """The key's budgets allow the request, the wallet's credit does not: refused, and neither
    the key's daily nor its monthly counter keeps the charge (they kept it before)."""
    credits.credits[ALICE.lower()] = 100
    issued = keys.issue(ALICE, True, daily_limit_micros=1_000, monthly_limit_micros=5_000)
    refused = gate.authorize(issued.key, "tiny", 200)  # 200 micro-USD > the wallet's 100
    assert (refused.allowed, refused.reason) == (False, "insufficient_credit")
    assert key_counters(ledger, issued.key_id) == (0, 0, 0, 0)
    assert ledger.spent(ALICE) == 0
    # a batch decides it the same way
    [again] = gate.authorize_many([(issued.key, "tiny", 200, 0, 0)])
    assert again.reason == "insufficient_credit"
    assert key_counters(ledger, issued.key_id) == (0, 0, 0, 0)
    # an allowed request is charged on every counter, once
    ok = gate.authorize(issued.key, "tiny", 60)
    assert ok.allowed and ok.spent == 60 and ok.spent + ok.remaining == ok.daily_limit == 1_000
    assert key_counters(ledger, issued.key_id) == (60, 0, 60, 0)
    assert ledger.spent(ALICE) == 60


def test_key_budget_refusal_charges_neither_key_nor_wallet(
    gate: Gatekeeper, keys: KeyStore, ledger: CreditLedger
) -> None:
    issued = keys.issue(ALICE, True, daily_limit_micros=1_000, monthly_limit_micros=150)
    assert gate.authorize(issued.key, "tiny", 100).allowed
    refused = gate.authorize(issued.key, "tiny", 100)  # the month's 150 would be passed
    assert refused.reason == "key_monthly_limit_reached"
    assert key_counters(ledger, issued.key_id) == (100, 0, 100, 0)  # the daily hold released
    assert ledger.spent(ALICE) == 100


def test_metering_refusal_releases_the_key_holds(
    gate: Gatekeeper, keys: KeyStore, ledger: CreditLedger, credits: FakeEntitlements
) -> None:
    credits.credits[ALICE.lower()] = 100
    issued = keys.issue(ALICE, True, daily_limit_micros=1_000, monthly_limit_micros=5_000)
    metering = Metering(gate)
    refused = metering.reserve(issued.key, "req-1", 500)
    assert refused.reason == "insufficient_credit"
    assert key_counters(ledger, issued.key_id) == (0, 0, 0, 0)
    held = metering.reserve(issued.key, "req-2", 80)
    assert held.allowed and key_counters(ledger, issued.key_id) == (0, 80, 0, 80)
    metering.settle(held, 30)
    assert key_counters(ledger, issued.key_id) == (30, 0, 30, 0)
    assert metering.settle("req-2", 30).cost == 30  # a retry changes nothing
    assert key_counters(ledger, issued.key_id) == (30, 0, 30, 0)


def test_a_key_with_a_daily_budget_of_zero_is_refused_for_its_budget(
    gate: Gatekeeper, keys: KeyStore, ledger: CreditLedger, credits: FakeEntitlements
) -> None:
    """A key paused with ``--daily 0`` was refused ``no_credit``, which says the wallet has no
    DIEM staked (and the gateway's message, "$0.000000 is left today", the same), though the
    wallet's credit is whole: it is the key's budget that is reached."""
    issued = keys.issue(ALICE, True, daily_limit_micros=0)
    assert gate.authorize(issued.key, "tiny", 10).reason == "key_limit_reached"
    [batched] = gate.authorize_many([(issued.key, "tiny", 10, 0, 0)])
    assert batched.reason == "key_limit_reached"
    assert Metering(gate).reserve(issued.key, "req-0", 10).reason == "key_limit_reached"
    credits.credits[ALICE.lower()] = 0  # no DIEM either: that is the reason given
    assert gate.authorize(issued.key, "tiny", 10).reason == "no_credit"
    assert ledger.spent(ALICE) == 0 and key_counters(ledger, issued.key_id) == (0, 0, 0, 0)


# ---------------------------------------------------------------------------- budgets


def test_monthly_budget_spans_days_and_resets_with_the_utc_month(
    gate: Gatekeeper, keys: KeyStore, ledger: CreditLedger, clock: FakeClock
) -> None:
    issued = keys.issue(ALICE, True, monthly_limit_micros=300)
    assert gate.authorize(issued.key, "tiny", 200).allowed
    clock.now += DAY  # another day, the same month: the daily counter is new, the month's not
    refused = gate.authorize(issued.key, "tiny", 200)
    assert refused.reason == "key_monthly_limit_reached" and ledger.spent(ALICE) == 0
    assert gate.authorize(issued.key, "tiny", 100).allowed  # exactly the month's 300
    clock.now = JULY_1 - 1
    assert gate.authorize(issued.key, "tiny", 1).reason == "key_monthly_limit_reached"
    clock.now = JULY_1
    assert gate.authorize(issued.key, "tiny", 300).allowed


def test_budgets_change_without_reissuing(
    gate: Gatekeeper, keys: KeyStore, ledger: CreditLedger
) -> None:
    issued = keys.issue(ALICE, True, daily_limit_micros=100)
    assert gate.authorize(issued.key, "tiny", 150).reason == "key_limit_reached"
    record = keys.set_budgets(issued.key_id, 200, 160)
    assert (record.daily_limit_micros, record.monthly_limit_micros) == (200, 160)
    assert gate.authorize(issued.key, "tiny", 150).allowed  # the same key
    assert gate.authorize(issued.key, "tiny", 20).reason == "key_monthly_limit_reached"
    keys.set_budgets(issued.key_id, None, None)  # no limits of its own
    assert gate.authorize(issued.key, "tiny", 5_000).allowed
    assert keys.get(issued.key_id).daily_limit_micros is None
    with pytest.raises(ValueError, match="monthly_limit_micros"):
        keys.set_budgets(issued.key_id, 1, -1)
    with pytest.raises(AuthError, match="unknown_key"):
        keys.set_budgets("key_0000000000000000", 1, 1)


# ------------------------------------------------------------------- expiry, models, kind


def test_expired_key_refused(gate: Gatekeeper, keys: KeyStore, clock: FakeClock) -> None:
    issued = keys.issue(ALICE, True, expires_at=clock.now + 60)
    assert gate.authorize(issued.key, "tiny", 1).allowed
    clock.now += 60
    assert gate.authorize(issued.key, "tiny", 1).reason == "key_expired"
    with pytest.raises(AuthError, match="key_expired"):
        keys.resolve(issued.key)
    assert keys.list(ALICE)[0].expires_at == issued.record.expires_at  # still listed


def test_model_allowlist(gate: Gatekeeper, keys: KeyStore, ledger: CreditLedger) -> None:
    issued = keys.issue(ALICE, True, models=["tiny", "tiny"], daily_limit_micros=1_000)
    assert keys.resolve(issued.key).models == ("tiny",)
    refused = gate.authorize(issued.key, "small", 1)
    assert (refused.allowed, refused.reason) == (False, "model_not_allowed")
    assert key_counters(ledger, issued.key_id) == (0, 0, 0, 0) and ledger.spent(ALICE) == 0
    assert gate.authorize(issued.key, "tiny", 1).allowed
    reservation = Metering(gate).reserve(issued.key, "req-1", 10, model="small")
    assert reservation.reason == "model_not_allowed"


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"models": []}, "models"),
        ({"models": "tiny"}, "models"),
        ({"models": ["a\nb"]}, "models"),
        ({"kind": "root"}, "kind"),
        ({"expires_at": float("inf")}, "expires_at"),
        ({"expires_at": True}, "expires_at"),
        ({"monthly_limit_micros": 2**70}, "monthly_limit_micros"),
    ],
)
def test_bad_key_fields_refused(keys: KeyStore, fields: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        keys.issue(ALICE, True, **fields)
    assert keys.list(ALICE) == []


def test_kind_defaults_to_inference(keys: KeyStore) -> None:
    assert keys.issue(ALICE, True).record.kind == "inference"
    assert keys.resolve(keys.issue(ALICE, True, kind="admin").key).kind == "admin"


# ------------------------------------------------------------------ records of older code


def test_sqlite_file_of_the_first_schema_still_loads(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "old.sqlite3"
    key = "vvk_" + "a" * 43
    db = sqlite3.connect(path)
    db.execute(  # the table as the previous release created it
        "CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE,"
        " address TEXT NOT NULL, daily_limit_micros INTEGER, label TEXT,"
        " created_at REAL NOT NULL, revoked_at REAL)"
    )
    db.execute(
        "INSERT INTO api_keys VALUES ('key_old', ?, ?, 500, 'ci', 1.0, NULL)",
        (key_hash(key, None), ALICE),
    )
    db.commit()
    db.close()
    store = ApiKeyStore(path, clock=clock)
    record = store.resolve(key)
    assert (record.key_id, record.daily_limit_micros, record.label) == ("key_old", 500, "ci")
    assert (record.monthly_limit_micros, record.expires_at, record.models) == (None, None, None)
    assert record.kind == "inference"
    assert store.set_budgets("key_old", 600, 9_000).monthly_limit_micros == 9_000
    assert store.issue(ALICE, True, kind="admin").record.kind == "admin"  # new rows too
    assert [(r.key_id == "key_old", r.kind) for r in store.list(ALICE)] == [
        (True, "inference"),
        (False, "admin"),
    ]


def test_redis_record_of_older_code_still_loads(redis_url: str, clock: FakeClock) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    key = "vvk_" + "b" * 43
    digest = key_hash(key, None)
    prefix = "venice:keys:"
    client.hset(  # the fields the previous release wrote
        prefix + "h:" + digest,
        mapping={"id": "key_old", "address": ALICE, "limit": "", "created": "1.0"},
    )
    client.set(prefix + "id:key_old", digest)
    client.zadd(prefix + "a:" + ALICE.lower(), {"key_old": 1.0})
    store = RedisKeyStore(client, clock=clock)
    record = store.resolve(key)
    assert (record.key_id, record.daily_limit_micros, record.monthly_limit_micros) == (
        "key_old",
        None,
        None,
    )
    assert (record.expires_at, record.models, record.kind) == (None, None, "inference")
    assert store.set_budgets("key_old", 10, 20).daily_limit_micros == 10
    assert store.resolve(key).monthly_limit_micros == 20
    assert [r.key_id for r in store.list(ALICE)] == ["key_old"]


# ------------------------------------------------------------------- venice-sdk keys


def test_keys_command_lists_revokes_and_rebudgets(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On the store the sidecar uses (its --data-dir file, or Redis): no key is ever printed,
    budgets are USD, a mistake is one error line and exit code 1."""
    if backend == "redis":
        where = ["--redis-url", request.getfixturevalue("redis_url")]
        store: KeyStore = RedisKeyStore.from_url(where[1])
    else:
        where = ["--data-dir", str(tmp_path)]
        store = ApiKeyStore(tmp_path / "keys.sqlite3")
    issued = store.issue(ALICE, True, label="ci", monthly_limit_micros=7)
    assert main(["keys", "list", ALICE, "--json", *where]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["key_id"], row["label"], row["monthly_limit_micros"]) == (issued.key_id, "ci", 7)
    assert main(["keys", "budgets", issued.key_id, "--daily", "2.5", "--monthly", "none",
                 *where]) == 0  # fmt: skip
    assert issued.key not in capsys.readouterr().out
    record = store.get(issued.key_id)
    assert (record.daily_limit_micros, record.monthly_limit_micros) == (2_500_000, None)
    assert main(["keys", "revoke", issued.key_id, *where]) == 0
    with pytest.raises(AuthError, match="key_revoked"):
        store.resolve(issued.key)
    capsys.readouterr()
    assert main(["keys", "revoke", "key_0000000000000000", *where]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "no such API key" in err
    with pytest.raises(SystemExit):  # argparse: a usage line, no traceback
        main(["keys", "budgets", issued.key_id, "--daily", "0.0000001", "--monthly", "1", *where])
    assert "whole micro-USD" in capsys.readouterr().err


def test_keys_command_without_a_store_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "list", ALICE, "--data-dir", str(tmp_path / "nowhere")]) == 1
    assert capsys.readouterr().err.startswith("error: no key store at")


def test_a_month_counter_outlives_the_days_retention(
    backend: str, ledger: CreditLedger, clock: FakeClock, request: pytest.FixtureRequest
) -> None:
    month = month_period(clock())
    hold = ledger.reserve("key_m", 9, 100, "r-1", period=month)
    assert (hold.day, ledger.settle(hold, 5).spent) == (month, 5)
    clock.now += 10 * DAY  # past the 3 days a day's counter is kept
    ledger.debit("someone", 1, 10)  # a new day: SQLite prunes old days now
    assert ledger.spent("key_m", month) == 5 and ledger.spent("key_m") == 0
    if backend == "redis":
        import redis

        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        assert client.ttl(f"venice:credit:{{key_m}}:{month}") > 60 * DAY
    else:  # two months on, SQLite drops the month (Redis lets its 62-day TTL do it)
        clock.now = JULY_1 + 40 * DAY
        ledger.debit("someone", 1, 10)
        assert ledger.spent("key_m", month) == 0


def test_a_key_with_an_allowlist_cannot_reserve_without_a_model(
    gate: Gatekeeper, keys: KeyStore, ledger: CreditLedger
) -> None:
    limited = keys.issue(ALICE, True, models=["tiny"])
    metering = Metering(gate)
    assert metering.reserve(limited.key, "r-1", 10).reason == "model_not_allowed"
    assert metering.reserve(limited.key, "r-2", 10, model="tiny").allowed
    assert metering.reserve(keys.issue(ALICE, True).key, "r-3", 10).allowed  # no allowlist
    assert ledger.held(ALICE) == 20


def test_keys_list_says_expired_and_issue_refuses_an_expiry_gone_by(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`keys list` called a key past its expiry (refused 401 key_expired by the gateway)
    ``active``, and showed budgets in micro-USD beside ``issue``'s USD (``daily=5000000`` for
    ``--daily 5``); ``issue --expires`` a moment gone by issued a key refused from the start."""
    store = ApiKeyStore(tmp_path / "keys.sqlite3")
    gone = store.issue(ALICE, True, 5_000_000, expires_at=time.time() - 60)
    live = store.issue(ALICE, True, None, models=["tiny"], monthly_limit_micros=2_500_000)
    assert main(["keys", "list", ALICE, "--data-dir", str(tmp_path)]) == 0
    rows = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert " expired " in rows[gone.key_id] and "daily=$5 " in rows[gone.key_id], rows
    assert " active " in rows[live.key_id] and "monthly=$2.5 " in rows[live.key_id], rows
    assert "models=tiny" in rows[live.key_id], rows
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"contracts": {"EntitlementsLens": {"address": "0x' + "e1" * 20 + '"}}}')
    issue = ["keys", "issue", ALICE, "--manifest", str(manifest), "--rpc", "http://127.0.0.1:1"]
    assert main([*issue, "--data-dir", str(tmp_path), "--expires", "2025-01-01T00:00:00Z"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "in the past" in err and err.count("\n") == 1, err


def test_keys_issue_refuses_a_model_the_price_book_does_not_price(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``keys issue --model gpt4`` (a typo, or a model the gateway does not serve) issued a
    key the gateway refuses on every request; now refused before the chain is asked, naming
    the models the book prices. ``--prices`` names the gateway's own book."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"contracts": {"EntitlementsLens": {"address": "0x' + "e1" * 20 + '"}}}')
    issue = ["keys", "issue", ALICE, "--manifest", str(manifest), "--rpc", "http://127.0.0.1:1",
             "--data-dir", str(tmp_path)]  # fmt: skip
    assert main([*issue, "--model", "qwen3-4b", "--model", "gpt4"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --model gpt4: no price for it in the bundled price book"), err
    assert "qwen3-4b" in err and err.count("\n") == 1, err
    book = tmp_path / "prices.yaml"
    book.write_text('models:\n  gpt4:\n    input_per_million: "1"\n    output_per_million: "2"\n')
    assert main([*issue, "--model", "gpt4", "--prices", str(book)]) == 1  # priced: on to the node
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read entitlements from the node"), err  # (the stake)
    assert main([*issue, "--model", "gpt4", "--prices", str(tmp_path / "none.yaml")]) == 1
    assert "cannot read price book" in capsys.readouterr().err


def test_an_expiry_past_year_9999_is_refused_and_an_old_one_still_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An expiry a date cannot say (any staker could ask ``expires_at: 1e12`` over HTTP) was
    kept, and ``keys list`` of that wallet failed ('year 33658 is out of range'; 1e20 an
    OverflowError traceback), as did ``issue --expires=-1e20``. Now refused at issue; a record
    kept before lists with its expiry as a number."""
    store = ApiKeyStore(tmp_path / "keys.sqlite3")
    for late in (MAX_EXPIRES_AT + 1, 1e12, 1e20):
        with pytest.raises(ValueError, match="9999-12-31"):
            store.issue(ALICE, True, expires_at=late)
    last = store.issue(ALICE, True, expires_at=MAX_EXPIRES_AT)  # the bound itself is a date
    old = store.issue(ALICE, True)
    with sqlite3.connect(tmp_path / "keys.sqlite3") as db:
        db.execute("UPDATE api_keys SET expires_at = 1e20 WHERE key_id = ?", (old.key_id,))
    assert main(["keys", "list", ALICE, "--data-dir", str(tmp_path)]) == 0
    rows = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert "expires=9999-12-31T23:59:59Z" in rows[last.key_id], rows
    assert "expires=100000000000000000000" in rows[old.key_id], rows
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"contracts": {"EntitlementsLens": {"address": "0x' + "e1" * 20 + '"}}}')
    issue = ["keys", "issue", ALICE, "--manifest", str(manifest), "--rpc", "http://127.0.0.1:1",
             "--data-dir", str(tmp_path)]  # fmt: skip
    unix = "is not a Unix time from 0 to 253402300799"
    for when, said in [
        *((n, unix) for n in ("1e20", "-1e20", "inf", "nan")),
        ("9999-12-31T23:59:59-05:00", "is not a time from 1970 to 9999-12-31T23:59:59Z"),
    ]:
        with pytest.raises(SystemExit) as exited:  # (argparse's one usage error)
            main([*issue, f"--expires={when}"])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert said in err and "--expires" in err, err
        assert "Traceback" not in err, err
