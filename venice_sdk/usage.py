"""Usage records: one per settled (or released) metered request, and daily aggregates.

A `UsageRecord` says who (wallet, key id), what (model, input and output tokens, images), what
it cost and held (micro-USD), when, and how it ended (``complete``, ``disconnected``,
``upstream_failed``, ``released``). Recording is idempotent by request id. `UsageStore.query`
pages through a wallet's or a key's records (optionally of one UTC day) with a cursor;
`UsageStore.daily` sums a day by key and model. `SQLiteUsageStore` keeps them in a SQLite file
(beside the SQLite ledger), `RedisUsageStore` in Redis (one script per record; records expire
after ``retention_days``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from venice_sdk.ledger import LedgerUnavailable
from venice_sdk.ledger.connections import redis_client, thread_connection, unavailable_errors

if TYPE_CHECKING:
    import redis

__all__ = [
    "DailyUsage",
    "RedisUsageStore",
    "SQLiteUsageStore",
    "UsagePage",
    "UsageRecord",
    "UsageStore",
    "open_usage_store",
    "to_csv",
]

_LUA = resources.files("venice_sdk").joinpath("usage.lua").read_text(encoding="utf-8")
_SHA = hashlib.sha1(_LUA.encode()).hexdigest()
MAX_PAGE = 1_000


@dataclass(frozen=True)
class UsageRecord:
    request_id: str
    key_id: str | None
    wallet: str
    model: str
    input_tokens: int
    output_tokens: int
    images: int
    cost: int  # micro-USD debited
    hold: int  # micro-USD held
    time: float
    day: int
    outcome: str


@dataclass(frozen=True)
class UsagePage:
    records: list[UsageRecord]
    next_cursor: int | None  # pass it back for the next page; None: no more


@dataclass(frozen=True)
class DailyUsage:
    """One day's sums for one key (None: requests by wallet) and model."""

    key_id: str | None
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    images: int
    cost: int


def to_csv(records: list[UsageRecord]) -> str:
    """Records as CSV with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f.name for f in fields(UsageRecord)])
    for r in records:
        writer.writerow(["" if v is None else v for v in asdict(r).values()])
    return out.getvalue()


def open_usage_store(redis_url: str | None, data_dir: str | Path) -> UsageStore:
    """The usage store of a server: in its Redis if it has one, else ``usage.sqlite3`` in its
    data directory (the gateway and the sidecar write to the same one)."""
    if redis_url:
        return RedisUsageStore(redis_url)
    data = Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    return SQLiteUsageStore(data / "usage.sqlite3")


#: The largest cursor and day a query takes (SQLite's largest integer: a larger one raised
#: OverflowError from its driver, a 500 with a traceback for ``/v1/usage?cursor=1e20``).
MAX_INTEGER = 2**63 - 1


def _integer(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INTEGER:
        raise ValueError(f"{name} must be an integer between 0 and {MAX_INTEGER}")


def _owner(wallet: str | None, key_id: str | None, limit: int) -> tuple[str, str]:
    """Whose records a query asks for: ``("wallet", wallet)`` or ``("key_id", key_id)``."""
    if (wallet is None) == (key_id is None):
        raise ValueError("give a wallet or a key id")
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    if wallet is not None:
        return "wallet", wallet
    return "key_id", str(key_id)


class UsageStore(ABC):
    @abstractmethod
    def record(self, record: UsageRecord) -> bool:
        """Store ``record`` unless its request id was recorded before; whether it was new."""

    def query(
        self,
        *,
        wallet: str | None = None,
        key_id: str | None = None,
        day: int | None = None,
        cursor: int = 0,
        limit: int = 100,
    ) -> UsagePage:
        """A wallet's or a key's records (of ``day``, or all kept), oldest first."""
        owner = _owner(wallet, key_id, limit)
        _integer("cursor", cursor)
        if day is not None:
            _integer("day", day)
        return self._query(owner, day, cursor, limit)

    def daily(
        self, day: int, *, wallet: str | None = None, key_id: str | None = None
    ) -> list[DailyUsage]:
        """``day``'s sums by key and model for a wallet or a key."""
        owner = _owner(wallet, key_id, 1)
        _integer("day", day)
        return self._daily(owner, day)

    @abstractmethod
    def _query(self, owner: tuple[str, str], day: int | None, cursor: int, limit: int) -> UsagePage:
        """`query` for a checked ``owner``: ``("wallet", address)`` or ``("key_id", id)``."""

    @abstractmethod
    def _daily(self, owner: tuple[str, str], day: int) -> list[DailyUsage]:
        """`daily` for a checked ``owner``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    key_id TEXT,
    wallet TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    images INTEGER NOT NULL,
    cost INTEGER NOT NULL,
    hold INTEGER NOT NULL,
    time REAL NOT NULL,
    day INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_wallet ON usage (wallet, day, seq);
CREATE INDEX IF NOT EXISTS usage_key ON usage (key_id, day, seq);
"""
_COLUMNS = ", ".join(f.name for f in fields(UsageRecord))


class SQLiteUsageStore(UsageStore):
    """Usage records in a SQLite file (WAL; one connection per thread and process)."""

    def __init__(self, path: str | Path, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._conn()

    def _conn(self) -> sqlite3.Connection:
        return thread_connection(self._local, self.path, self.busy_timeout, _SCHEMA, "usage store")[
            0
        ]

    def _run(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        try:
            return self._conn().execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailable(f"usage store {self.path}: {exc}") from exc

    def record(self, record: UsageRecord) -> bool:
        values = tuple(asdict(record).values())
        marks = ", ".join("?" for _ in values)
        try:
            cursor = self._conn().execute(
                f"INSERT OR IGNORE INTO usage ({_COLUMNS}) VALUES ({marks})", values
            )
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailable(f"usage store {self.path}: {exc}") from exc
        return cursor.rowcount == 1

    def _query(self, owner: tuple[str, str], day: int | None, cursor: int, limit: int) -> UsagePage:
        column, who = owner
        where = f"{column} = ? AND seq > ?" + (" AND day = ?" if day is not None else "")
        args: tuple[Any, ...] = (who, cursor) + ((day,) if day is not None else ())
        rows = self._run(
            f"SELECT seq, {_COLUMNS} FROM usage WHERE {where} ORDER BY seq LIMIT ?",
            (*args, limit),
        )
        records = [UsageRecord(*row[1:]) for row in rows]
        return UsagePage(records, int(rows[-1][0]) if len(rows) == limit else None)

    def _daily(self, owner: tuple[str, str], day: int) -> list[DailyUsage]:
        column, who = owner
        rows = self._run(
            "SELECT key_id, model, count(*), sum(input_tokens), sum(output_tokens), sum(images), "
            f"sum(cost) FROM usage WHERE {column} = ? AND day = ? GROUP BY key_id, model "
            "ORDER BY key_id, model",
            (who, day),
        )
        return [DailyUsage(*row) for row in rows]


def _tag(owner: tuple[str, str]) -> str:
    """An owner in Redis key names: ``w:<wallet>`` or ``k:<key id>``."""
    return f"{owner[0][0]}:{owner[1]}"


class RedisUsageStore(UsageStore):
    """Usage records in Redis, all under one hash tag (``{prefix}``), kept ``retention_days``."""

    def __init__(
        self,
        client_or_url: redis.Redis | str,
        *,
        prefix: str = "venice:usage",
        retention_days: int = 35,
        socket_timeout: float = 5.0,
    ) -> None:
        self._redis, self.client = redis_client(client_or_url, socket_timeout)
        self._errors = unavailable_errors(self._redis)
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self.base = f"{{{prefix}}}:"
        self.ttl = retention_days * 86_400

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except self._errors as exc:
            raise LedgerUnavailable(f"redis unavailable while {what}: {exc}") from exc

    def record_call(self, record: UsageRecord, settled: str | None = None) -> tuple[Any, ...]:
        """`record` as a command to send (its reply: the record's sequence, 0 if it was
        recorded before). With ``settled`` (a hold's record key in the ledger's Redis), the
        record is kept only if that hold is settled at ``record.cost`` (else the reply is -1 and
        nothing changed): sent in one batch after the settle, whose charge it cannot know."""
        args = self._record_args(record)
        if settled is None:
            return ("EVALSHA", _SHA, 2, *args)
        return ("EVALSHA", _SHA, 3, *args[:2], settled, *args[2:], str(record.cost))

    def _record_args(self, record: UsageRecord) -> tuple[Any, ...]:
        return (
            f"{self.base}id:{record.request_id}", f"{self.base}seq",
            json.dumps(asdict(record)), self.ttl, self.base, record.wallet, record.key_id or "",
            record.day, record.model, record.input_tokens, record.output_tokens, record.images,
            record.cost,
        )  # fmt: skip

    def record(self, record: UsageRecord) -> bool:
        args = self._record_args(record)

        def run() -> Any:
            try:
                return self.client.evalsha(_SHA, 2, *args)
            except self._redis.exceptions.NoScriptError:
                return self.client.eval(_LUA, 2, *args)

        return bool(self._call("recording usage", run))

    def _query(self, owner: tuple[str, str], day: int | None, cursor: int, limit: int) -> UsagePage:
        index = self.base + _tag(owner) + (f":{day}" if day is not None else "")
        seqs = self._call(
            "reading usage",
            lambda: self.client.zrangebyscore(index, f"({cursor}", "+inf", start=0, num=limit),
        )
        if not seqs:
            return UsagePage([], None)
        names = [f"{self.base}r:{int(s)}" for s in seqs]
        raw = self._call("reading usage", lambda: self.client.mget(names))
        records = [UsageRecord(**json.loads(r)) for r in raw if r is not None]
        return UsagePage(records, int(seqs[-1]) if len(seqs) == limit else None)

    def _daily(self, owner: tuple[str, str], day: int) -> list[DailyUsage]:
        agg = f"{self.base}a:{_tag(owner)}:{day}"
        raw = self._call("reading usage", lambda: self.client.hgetall(agg))
        groups: dict[tuple[str, str], dict[str, int]] = {}
        for field_name, value in raw.items():
            key, model, metric = (
                field_name.decode() if isinstance(field_name, bytes) else field_name
            ).split("\t")
            groups.setdefault((key, model), {})[metric] = int(value)
        return [
            DailyUsage(key or None, model, m.get("requests", 0), m.get("input_tokens", 0),
                       m.get("output_tokens", 0), m.get("images", 0), m.get("cost", 0))
            for (key, model), m in sorted(groups.items())
        ]  # fmt: skip

    def close(self) -> None:
        self.client.close()
