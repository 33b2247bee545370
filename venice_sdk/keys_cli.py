"""`venice-sdk keys`: the operator's view of the API-key store (the sidecar's and the gateway's).

    venice-sdk keys issue 0xABC... --manifest deployments/31337.json --rpc http://127.0.0.1:8545 \\
        [--daily 5] [--monthly 100] [--expires 2027-01-01T00:00:00Z] [--model qwen3-4b ...] \\
        [--prices prices.yaml] [--kind inference|admin] [--label ci]
    venice-sdk keys list 0xABC...
    venice-sdk keys revoke key_0123abcd
    venice-sdk keys budgets key_0123abcd --daily 5 --monthly none

The store is the sidecar's: ``--data-dir`` (its ``keys.sqlite3``, default ``.venice``) or
``--redis-url`` (then the keys live in Redis, as with ``serve --redis-url``); ``--key-pepper``
must be the server's for an issued key to resolve. Each also comes from ``VENICE_DATA_DIR``,
``VENICE_REDIS_URL`` and ``VENICE_KEY_PEPPER``. Budgets are USD (``2.5``; ``none``: no
limit), kept in micro-USD. ``issue`` checks the wallet's stake on the chain (as the sidecar
does) and prints the key once; ``list`` never prints a key, only ids and metadata.

Wallets manage their own keys over HTTP with their signature instead (a SIWE session is an
admin key): see `venice_sdk.keys_api`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from venice_sdk.auth import (
    MAX_EXPIRES_AT,
    ApiKeyStore,
    AuthError,
    KeyRecord,
    KeyStore,
    RedisKeyStore,
)
from venice_sdk.entitlements import EntitlementClient, EntitlementError
from venice_sdk.pricing import PriceBook, UnknownModel

__all__ = ["add_parser", "parse_usd", "run"]

_ISO = "%Y-%m-%dT%H:%M:%SZ"


def parse_usd(text: str) -> int | None:
    """``"2.5"`` -> 2_500_000 micro-USD; ``"none"`` -> None (no limit). Raises ValueError."""
    if text.strip().lower() == "none":
        return None
    try:
        micros = Decimal(text) * 1_000_000
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount of USD (e.g. 2.5) or 'none'") from None
    if not micros.is_finite() or micros < 0 or micros != micros.to_integral_value():
        raise ValueError(f"{text!r} is not a USD amount of whole micro-USD (6 decimals at most)")
    return int(micros)


def _arg(parse: Any) -> Any:
    """``parse`` for argparse: its ValueError becomes the one-line usage error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _time(text: str) -> float:
    """A Unix time, or an ISO 8601 time with a zone (``2027-01-01T00:00:00Z``)."""
    try:
        moment = float(text)
    except ValueError:
        pass
    else:
        if not 0 <= moment <= MAX_EXPIRES_AT:  # (nan and inf too)
            raise ValueError(f"{text!r} is not a Unix time from 0 to {MAX_EXPIRES_AT}")
        return moment
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time (Unix seconds or ISO 8601 with a zone)") from None
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add Z for UTC")
    if not 0 <= when.timestamp() <= MAX_EXPIRES_AT:
        raise ValueError(f"{text!r} is not a time from 1970 to 9999-12-31T23:59:59Z")
    return when.timestamp()


def add_parser(sub: Any) -> None:
    """Add ``keys`` and its commands to ``venice-sdk``'s subparsers."""
    k = sub.add_parser("keys", help="issue, list and revoke API keys; change their budgets")
    commands = k.add_subparsers(dest="keys_command", required=True)
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--data-dir", default=os.environ.get("VENICE_DATA_DIR", ".venice"),
                       help="the sidecar's SQLite files (default .venice)")  # fmt: skip
    store.add_argument("--redis-url", default=os.environ.get("VENICE_REDIS_URL"),
                       help="the keys are in this Redis")  # fmt: skip
    store.add_argument("--key-pepper", default=os.environ.get("VENICE_KEY_PEPPER"),
                       help="the server's key pepper")  # fmt: skip
    i = commands.add_parser("issue", parents=[store], help="issue a key to a staker")
    i.add_argument("address")
    i.add_argument("--manifest", required=True, help="deployments/<chain_id>.json")
    i.add_argument("--rpc", required=True, help="the node's HTTP URL (the stake is checked)")
    i.add_argument("--daily", type=_arg(parse_usd), help="daily budget, USD")
    i.add_argument("--monthly", type=_arg(parse_usd), help="UTC calendar-month budget, USD")
    i.add_argument("--expires", type=_arg(_time), help="refused from then on (Unix or ISO time)")
    i.add_argument("--model", action="append", dest="models",
                   help="a model it may use (repeat; default: every model)")  # fmt: skip
    i.add_argument("--prices", help="the gateway's price book, which must price each --model "
                   "(default: the bundled one)")  # fmt: skip
    i.add_argument("--kind", choices=("inference", "admin"), default="inference")
    i.add_argument("--label")
    lst = commands.add_parser("list", parents=[store], help="a wallet's keys (never the keys)")
    lst.add_argument("address")
    lst.add_argument("--json", action="store_true", help="one JSON object per key")
    r = commands.add_parser("revoke", parents=[store], help="revoke a key by its id")
    r.add_argument("key_id")
    b = commands.add_parser("budgets", parents=[store], help="change a key's budgets")
    b.add_argument("key_id")
    b.add_argument("--daily", type=_arg(parse_usd), required=True, help="USD a day, or none")
    b.add_argument("--monthly", type=_arg(parse_usd), required=True, help="USD a month, or none")
    k.set_defaults(run=run)


def _store(args: argparse.Namespace) -> KeyStore:
    pepper = args.key_pepper.encode() if args.key_pepper else None
    if args.redis_url:
        return RedisKeyStore.from_url(args.redis_url, pepper=pepper)
    path = Path(args.data_dir) / "keys.sqlite3"
    if args.keys_command != "issue" and not path.exists():
        raise ValueError(f"no key store at {path}: pass the sidecar's --data-dir")
    path.parent.mkdir(parents=True, exist_ok=True)
    return ApiKeyStore(path, pepper=pepper)


def _usd(micros: int | None) -> str:
    """A budget as ``issue`` and ``budgets`` take it: ``$2.5``, or ``none``."""
    return "none" if micros is None else f"${Decimal(micros).scaleb(-6).normalize():f}"


def _iso(moment: float) -> str:
    """A Unix time as ISO 8601 UTC (as a number if it is past what a date can say: a record
    written before `MAX_EXPIRES_AT` was checked)."""
    try:
        return datetime.fromtimestamp(moment, UTC).strftime(_ISO)
    except (ValueError, OverflowError, OSError):
        return f"{moment:.0f}"


def _row(record: KeyRecord) -> str:
    budgets = f"daily={_usd(record.daily_limit_micros)} monthly={_usd(record.monthly_limit_micros)}"
    expired = record.expires_at is not None and record.expires_at <= time.time()
    state = "revoked" if record.revoked else "expired" if expired else "active"
    row = f"{record.key_id}  {record.kind:9}  {state:7}  {budgets}  label={record.label}"
    if record.expires_at is not None:
        row += "  expires=" + _iso(record.expires_at)
    if record.models is not None:
        row += "  models=" + ",".join(record.models)
    return row


def run(args: argparse.Namespace) -> int:
    """Run a ``keys`` command; a mistake is one ``error:`` line and exit code 1."""
    try:
        keys = _store(args)
        command = args.keys_command
        if command == "issue":
            if args.expires is not None and args.expires <= time.time():
                raise ValueError(
                    f"--expires {_iso(args.expires)} is in the past: the key would be refused "
                    "at once"
                )
            if args.models:  # (a model the gateway does not price: every request refused)
                prices = PriceBook.load_or_default(args.prices)
                try:
                    prices.check_models(args.models)
                except UnknownModel as exc:
                    book = args.prices or "the bundled price book (pass the gateway's --prices)"
                    raise ValueError(
                        f"--model {exc.model}: no price for it in {book}; priced: "
                        + ", ".join(sorted(prices))
                    ) from None
            client = EntitlementClient.from_manifest(args.manifest, args.rpc, ttl=0)
            issued = keys.issue(
                args.address, lambda a: client.get(a).staked > 0, args.daily, args.label,
                monthly_limit_micros=args.monthly, expires_at=args.expires,
                models=args.models, kind=args.kind,
            )  # fmt: skip
            print(f"key     {issued.key}\nkey_id  {issued.key_id}\n(shown once: store it now)")
        elif command == "list":
            for record in keys.list(args.address):
                print(json.dumps(record.public()) if args.json else _row(record))
        elif command == "revoke":
            print(f"revoked {keys.revoke(args.key_id).key_id}")
        else:
            print(_row(keys.set_budgets(args.key_id, args.daily, args.monthly)))
    except (AuthError, EntitlementError, ValueError, OSError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    return 0
