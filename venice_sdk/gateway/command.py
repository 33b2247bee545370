"""``venice-sdk gateway``: run the inference gateway in front of an OpenAI-compatible server.

    venice-sdk gateway --upstream http://127.0.0.1:8000 --manifest deployments/31337.json \\
        --rpc http://127.0.0.1:8545 [--port 8788] [--workers 2] [--redis-url redis://...] \\
        [--data-dir .venice] [--prices prices.yaml] [--upstream-key KEY] \\
        [--default-max-tokens 4096] [--continuous-usage] [--rate-limits limits.yaml] \\
        [--upstream-timeout 600] [--stall-timeout 60] [--body-timeout 60] \\
        [--max-body-bytes N] [--max-answer-bytes N] [--keep-alive 20] \\
        [--key-store sqlite|redis] [--key-pepper SECRET]

With ``--workers`` above 1 the workers share the ledger: give ``--redis-url`` (SQLite works
across the processes of one machine too, more slowly). Rate limits (`venice_sdk.ratelimit`),
usage records and the API keys are shared through Redis too (the keys as the sidecar and
``venice-sdk keys --redis-url`` keep them; ``--key-store sqlite`` keeps them in the data
directory instead); without Redis each worker counts its own limits.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from venice_sdk.server.settings import KEEP_ALIVE

__all__ = ["add_parser", "app_from_env", "build", "run", "usage"]

_ENV = "VENICE_GATEWAY_ARGS"


def add_parser(sub: Any) -> None:
    """Add the ``gateway`` subcommand to ``venice-sdk``'s subparsers."""
    c = sub.add_parser("gateway", help="run the OpenAI-compatible metering gateway")
    c.add_argument("--upstream", required=True, help="the model server's base URL")
    c.add_argument("--upstream-key", help="a bearer token the upstream wants")
    c.add_argument("--manifest", required=True, help="deployments/<chain_id>.json")
    c.add_argument("--rpc", required=True, help="the node's HTTP URL")
    c.add_argument("--ttl", type=float, default=2.0, help="entitlement cache seconds")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8788)
    c.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each listening on the port itself (default 1)",
    )
    c.add_argument("--data-dir", default=".venice", help="SQLite files (default .venice)")
    c.add_argument("--redis-url", help="share the ledger, the limits, the usage records and "
                   "(unless --key-store sqlite) the keys through Redis")  # fmt: skip
    c.add_argument("--key-store", choices=("sqlite", "redis"),
                   help="where the API keys live: redis (the default with --redis-url: the "
                   "keys `venice-sdk keys --redis-url` and the sidecar issue) or sqlite "
                   "(<data-dir>/keys.sqlite3, the only store of earlier gateways: with "
                   "--redis-url and keys in that file, say which)")  # fmt: skip
    c.add_argument("--key-pepper", default=os.environ.get("VENICE_KEY_PEPPER"),
                   help="the server secret the keys were issued with, if any (as the "
                   "sidecar's; env VENICE_KEY_PEPPER)")  # fmt: skip
    c.add_argument("--prices", help="a price book file (default: the bundled one); reloaded "
                   "on SIGHUP or when it changes, for new requests")  # fmt: skip
    c.add_argument("--default-max-tokens", type=int, default=4_096,
                   help="output limit of a request that sets none (default 4096)")  # fmt: skip
    c.add_argument("--continuous-usage", action="store_true",
                   help="ask the upstream for usage in every chunk, so a stream cut short pays "
                   "its counts, not one token a chunk (vLLM: turn it on)")  # fmt: skip
    c.add_argument("--rate-limits", help="requests and tokens per minute per key (a YAML file)")
    c.add_argument("--upstream-timeout", type=float,
                   help="seconds the upstream may send nothing before the request fails "
                   "(default 600)")  # fmt: skip
    c.add_argument("--stall-timeout", type=float,
                   help="seconds a client may read none of its answer before it is dropped; "
                   "a stream is billed what was streamed (default 60)")  # fmt: skip
    c.add_argument("--body-timeout", type=float,
                   help="seconds a client has to send its whole request body (default 60)",
                   )  # fmt: skip
    c.add_argument("--max-body-bytes", type=int,
                   help="largest request body accepted (default 4 MiB)")  # fmt: skip
    c.add_argument("--keep-alive", type=float, default=KEEP_ALIVE,
                   help="seconds an idle keep-alive connection stays open (default "
                   f"{KEEP_ALIVE:g}: longer than the clients' pools keep theirs)")  # fmt: skip
    c.add_argument("--hold-ttl", type=float,
                   help="seconds a request's hold outlives its worker (default 900): each "
                   "worker renews the holds of the requests it serves")  # fmt: skip
    c.add_argument("--max-parallel", type=int,
                   help="requests one wallet may have in flight in each worker, headers to "
                   "last byte (default 256; more are answered 429)")  # fmt: skip
    c.add_argument("--max-uploads", type=int,
                   help="request bodies of one wallet each worker reads at once (default 16; "
                   "more wait)")  # fmt: skip
    c.add_argument("--max-answer-bytes", type=int,
                   help="largest upstream answer read whole (not a stream; default 256 MiB)",
                   )  # fmt: skip
    c.set_defaults(run=run)

    u = sub.add_parser("usage", help="show the gateway's usage records of a wallet or a key")
    who = u.add_mutually_exclusive_group(required=True)
    who.add_argument("--wallet", help="a wallet address")
    who.add_argument("--key-id", help="an API key's id")
    u.add_argument("--day", help="a UTC day, YYYY-MM-DD (default: every day kept)")
    u.add_argument("--daily", action="store_true",
                   help="the day's sums by key and model (default: today)")  # fmt: skip
    u.add_argument("--format", choices=("csv", "json"), default="csv")
    u.add_argument("--cursor", type=int, default=0, help="from a previous page's next cursor")
    u.add_argument("--limit", type=int, default=1_000, help="records per page (1-1000)")
    u.add_argument("--data-dir", default=".venice", help="the gateway's SQLite files")
    u.add_argument("--redis-url", help="the gateway's Redis")
    u.set_defaults(run=usage)


def build(options: dict[str, Any]) -> Any:
    """The gateway app from the command's options (a dict, so worker processes can rebuild it)."""
    from venice_sdk.entitlements import EntitlementClient
    from venice_sdk.gate import Gatekeeper
    from venice_sdk.gateway.app import create_gateway
    from venice_sdk.ledger import HOLD_TTL, CreditLedger, RedisLedger, SQLiteLedger
    from venice_sdk.pricing import PriceBook
    from venice_sdk.ratelimit import (
        LocalRateLimiter,
        RateLimiter,
        RateLimitPolicy,
        RedisRateLimiter,
    )

    data = Path(options["data_dir"])
    data.mkdir(parents=True, exist_ok=True)
    client = EntitlementClient.from_manifest(
        options["manifest"], options["rpc"], ttl=options["ttl"]
    )
    ledger: CreditLedger
    ttl = options.get("hold_ttl") or HOLD_TTL
    if options.get("redis_url"):
        ledger = RedisLedger(options["redis_url"], hold_ttl=ttl)
    else:
        ledger = SQLiteLedger(data / "ledger.sqlite3", hold_ttl=ttl)
    prices = PriceBook.load_or_default(options.get("prices"))
    keys = _key_store(options)
    config = _config(options)
    limiter: RateLimiter | None = None
    policy = RateLimitPolicy.load(options["rate_limits"]) if options.get("rate_limits") else None
    if policy is not None:
        limiter = (
            RedisRateLimiter(options["redis_url"])
            if options.get("redis_url")
            else LocalRateLimiter()
        )
    app = create_gateway(
        # (API keys only: a bearer token is a vvk_ key, never a wallet address)
        Gatekeeper(client, ledger, prices, keys, wallets=False),
        config,
        limiter,
        policy,
        _usage_store(options),
    )
    app.state.preparer.start()  # type: ignore[attr-defined]  # (its process: ready first)
    return app


def _key_store(options: dict[str, Any]) -> Any:
    """The API keys' store: Redis (shared with the sidecar, ``venice-sdk keys`` and every
    replica) by default with ``--redis-url``, else SQLite in the data directory."""
    from venice_sdk.auth import ApiKeyStore, RedisKeyStore

    pepper = options["key_pepper"].encode() if options.get("key_pepper") else None
    if _key_store_kind(options) == "redis":
        return RedisKeyStore.from_url(options["redis_url"], pepper=pepper)
    return ApiKeyStore(Path(options["data_dir"]) / "keys.sqlite3", pepper=pepper)


def _key_store_kind(options: dict[str, Any]) -> str:
    kind = options.get("key_store") or ("redis" if options.get("redis_url") else "sqlite")
    if kind == "redis" and not options.get("redis_url"):
        raise ValueError("--key-store redis needs --redis-url")
    return str(kind)


def _keys_said(options: dict[str, Any]) -> str:
    """Where the gateway reads its keys, as its serving line says (a key that is a 401 there
    was issued in the other store, or with another pepper)."""
    kind = _key_store_kind(options)
    where = (
        "Redis" if kind == "redis" else str(Path(options["data_dir"]).absolute() / "keys.sqlite3")
    )
    return f"keys: {where}, {'with' if options.get('key_pepper') else 'no'} pepper"


def _check_no_keys_left_behind(options: dict[str, Any]) -> None:
    """Refuse (``ValueError``) to start on Redis's keys by default while the data directory's
    ``keys.sqlite3`` holds live keys: the gateway read only that file until it read Redis's
    with ``--redis-url``, and every one of those keys would now be a 401 ``unknown_key``.
    Saying ``--key-store`` (either) is the operator's choice, and is not checked."""
    from venice_sdk.auth import ApiKeyStore

    if options.get("key_store") or _key_store_kind(options) != "redis":
        return
    path = Path(options["data_dir"]) / "keys.sqlite3"
    live = ApiKeyStore.live_keys(path) if path.is_file() else 0
    if live:
        raise ValueError(
            f"{path} holds {live} API key(s), which a gateway with --redis-url no longer reads "
            "(it reads the keys in Redis, where the sidecar and 'venice-sdk keys --redis-url' "
            "issue them): pass --key-store sqlite to go on using them, or --key-store redis "
            "to use Redis's keys (issue them again there)"
        )


def _config(options: dict[str, Any]) -> Any:
    """The `GatewayConfig` of the command's options (raises ``ValueError`` on a bad one)."""
    from venice_sdk.gateway.app import GatewayConfig

    given = {field: options.get(option) for field, option in _LIMITS.items()}
    try:
        return GatewayConfig(
            upstream=options["upstream"],
            upstream_key=options.get("upstream_key"),
            default_max_tokens=options["default_max_tokens"],
            continuous_usage=options.get("continuous_usage", False),
            prices_path=options.get("prices"),
            **{field: value for field, value in given.items() if value is not None},
        )
    except ValueError as exc:  # named as the operator wrote it ("timeout" is --upstream-timeout)
        field, _, rest = str(exc).partition(" ")
        option = {**_LIMITS, "default_max_tokens": "default_max_tokens"}.get(field)
        if option is None:
            raise
        raise ValueError(f"--{option.replace('_', '-')} {rest}") from None


#: `GatewayConfig`'s fields set by an option only when it is given (else its own default).
_LIMITS = {"timeout": "upstream_timeout", "stall_timeout": "stall_timeout",
           "body_timeout": "body_timeout", "max_body_bytes": "max_body_bytes",
           "max_answer_bytes": "max_answer_bytes", "max_parallel": "max_parallel",
           "max_uploads": "max_uploads"}  # fmt: skip


def _usage_store(options: dict[str, Any]) -> Any:
    from venice_sdk.usage import open_usage_store

    return open_usage_store(options.get("redis_url"), options["data_dir"])


def usage(args: argparse.Namespace) -> int:
    """``venice-sdk usage``: print a page of records (CSV or JSON) or a day's sums."""
    import dataclasses
    import sys
    import time

    from venice_sdk.addresses import parse_address
    from venice_sdk.gateway.app import _parse_day
    from venice_sdk.ledger import LedgerUnavailable, epoch_day, normalize_account
    from venice_sdk.usage import to_csv

    try:
        day = _parse_day(args.day)
        if args.daily and day is None:  # (today, as GET /v1/usage/daily)
            day = epoch_day(time.time())
        if args.wallet is not None:
            who = {"wallet": normalize_account(parse_address(args.wallet))}
        else:
            who = {"key_id": args.key_id}
        if args.redis_url:
            from venice_sdk.ledger.connections import check_redis_url

            check_redis_url(args.redis_url)
        else:  # (not created to show nothing: the gateway's folder is another)
            path = Path(args.data_dir) / "usage.sqlite3"
            if not path.is_file():
                raise ValueError(
                    f"no usage records at {path}: pass the gateway's --data-dir (or its "
                    "--redis-url)"
                )
        store = _usage_store(vars(args))
        if args.daily:
            assert day is not None
            sums = [dataclasses.asdict(d) for d in store.daily(day, **who)]
            print(json.dumps(sums, indent=2))
            return 0
        page = store.query(day=day, cursor=args.cursor, limit=args.limit, **who)
    except LedgerUnavailable as exc:
        where = "--redis-url" if args.redis_url else "--data-dir"
        raise SystemExit(f"error: the usage store does not answer ({exc}): check {where}") from None
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.format == "csv":
        sys.stdout.write(to_csv(page.records))
    else:
        records = [dataclasses.asdict(r) for r in page.records]
        print(json.dumps({"data": records, "next_cursor": page.next_cursor}, indent=2))
    if page.next_cursor is not None:
        print(f"more: --cursor {page.next_cursor}", file=sys.stderr)
    return 0


def app_from_env() -> Any:
    """The app of a worker process (``uvicorn --factory``), from the options in the env."""
    return build(json.loads(os.environ[_ENV]))


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError as exc:
        raise SystemExit(
            f"error: the gateway needs `pip install venice-sdk[server]` ({exc})"
        ) from None
    from venice_sdk.ledger import MAX_HOLD_TTL
    from venice_sdk.server.http import protocol

    if args.workers < 1:
        raise SystemExit("error: --workers must be at least 1")
    if not args.ttl >= 0:  # (also refuses nan, which cached nothing)
        raise SystemExit("error: --ttl must be seconds, 0 or more (0: nothing cached)")
    if not args.keep_alive > 0:  # (also refuses nan)
        raise SystemExit("error: --keep-alive must be a positive number of seconds")
    if args.hold_ttl is not None and not 0 < args.hold_ttl <= MAX_HOLD_TTL:
        raise SystemExit("error: --hold-ttl must be seconds between 0 and 604800 (a week)")
    try:  # check the options here, before any worker starts
        _config(vars(args))
        _key_store_kind(vars(args))
        from venice_sdk.entitlements import EntitlementError, check_rpc_url

        try:
            check_rpc_url(args.rpc)
        except EntitlementError as exc:
            raise ValueError(exc.message) from None
        if args.redis_url:
            from venice_sdk.ledger.connections import check_redis_url

            try:
                check_redis_url(args.redis_url)
            except ValueError as exc:
                raise ValueError(f"--redis-url {exc}") from None
        _check_no_keys_left_behind(vars(args))
        if args.prices:
            from venice_sdk.pricing import PriceBook

            PriceBook.load(args.prices)
        if args.rate_limits:
            from venice_sdk.ratelimit import RateLimitPolicy

            RateLimitPolicy.load(args.rate_limits)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    options = {k: v for k, v in vars(args).items() if k not in {"run", "command"}}
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": "warning",
        "access_log": False,
        "timeout_keep_alive": args.keep_alive,
        "http": protocol(),  # (a connection has --keep-alive s to send a request's headers)
    }
    from venice_sdk.gateway.workers import run_server, say, serve, serving_line, single_socket

    if args.workers == 1:
        sock = single_socket(args.host, args.port)  # (a port in use: one line, before the app)
        config = uvicorn.Config(build(options), **common)
        line = serving_line(1, args.host, sock.getsockname()[1], _keys_said(options))
        return 0 if run_server(config, lambda: say(line), [sock]) else 3  # (startup failed)

    # Each worker listens on its own socket (SO_REUSEPORT): connections spread evenly.
    os.environ[_ENV] = json.dumps(options)
    return serve("venice_sdk.gateway.command:app_from_env", workers=args.workers,
                 detail=_keys_said(options), **common)  # fmt: skip
