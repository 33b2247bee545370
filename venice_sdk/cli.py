"""`venice-sdk`: check a wallet's entitlement, or serve the sidecar (`keys`: the API keys,
`venice_sdk.keys_cli`).

    venice-sdk check 0xABC... --manifest deployments/31337.json --rpc http://127.0.0.1:8545
    venice-sdk serve --manifest deployments/31337.json --rpc http://127.0.0.1:8545 \\
        [--port 8787] [--data-dir .venice] [--redis-url redis://...] [--prices prices.yaml] \\
        [--authorize-batch 64] [--admin-token ...] [--config venice.toml] ...

`venice-sdk serve --help` lists every option; each also comes from an environment variable
(`VENICE_<NAME>`, e.g. VENICE_ADMIN_TOKEN) or a config file (`--config`, TOML or YAML).

A mistake (a bad address, a missing manifest, a node that does not answer) is one `error:`
line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from venice_sdk.entitlements import EntitlementClient, EntitlementError
from venice_sdk.gateway.command import add_parser as add_gateway_command
from venice_sdk.keys_cli import add_parser as add_keys_command
from venice_sdk.server.settings import (
    SERVE_OPTIONS,
    SettingsError,
    add_arguments,
    is_loopback,
    resolve,
)
from venice_sdk.units import format_units

__all__ = [
    "check",
    "main",
    "parser",
    "serve",
]


def _client(args: argparse.Namespace) -> EntitlementClient:
    return EntitlementClient.from_manifest(
        args.manifest,
        args.rpc,
        ttl=args.ttl,
        rpc_timeout=args.rpc_timeout,
        rpc_retries=args.rpc_retries,
        breaker_cooloff=getattr(args, "breaker_cooloff", 2.0),
    )


def check(args: argparse.Namespace) -> int:
    e = _client(args).get(args.address)
    rows = [
        ("address", e.address),
        ("block", str(e.block)),
        ("staked VVV", format_units(e.staked, 18, 4)),
        ("locked VVV", format_units(e.locked, 18, 4)),
        ("cooling down", format_units(e.cooling, 18, 4)),
        ("Pro", f"yes, by {e.pro_reason.replace('+', ' and ')}" if e.is_pro else "no"),
        ("DIEM staked", format_units(e.diem_staked, 18, 4)),
        ("DIEM cooling", format_units(e.diem_cooling, 18, 4)),
        ("credit today", "$" + format_units(e.daily_credit, 6, 2)),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


def serve(settings: dict[str, Any]) -> int:
    """Run the sidecar with resolved settings (`venice_sdk.server.settings`)."""
    try:
        import uvicorn

        from venice_sdk.auth import (
            ApiKeyStore,
            ChallengeStore,
            KeyStore,
            RedisChallengeStore,
            RedisKeyStore,
            SiweVerifier,
            SQLiteChallengeStore,
            WalletChallenges,
        )
        from venice_sdk.gate import Gatekeeper
        from venice_sdk.gateway.workers import run_server, single_socket
        from venice_sdk.ledger import CreditLedger, RedisLedger, SQLiteLedger
        from venice_sdk.pricing import PriceBook, PriceBookError
        from venice_sdk.server.http import protocol
        from venice_sdk.server.logs import configure_logging
        from venice_sdk.service import create_app
        from venice_sdk.usage import open_usage_store
    except ImportError as exc:
        raise SystemExit(
            f"error: the server needs `pip install venice-sdk[server]` ({exc})"
        ) from None
    s = settings
    configure_logging(s["log_level"], s["log_format"])
    if s["admin_token"] is None and not is_loopback(s["host"]):
        raise SettingsError(
            f"the internal routes would be open to the network on {s['host']}: set an admin"
            " token (--admin-token or VENICE_ADMIN_TOKEN) or listen on 127.0.0.1"
        )
    try:  # (a file's mistake before the node is asked anything)
        prices = PriceBook.load_or_default(s["prices"])
    except PriceBookError as exc:
        raise SettingsError(str(exc)) from None
    data = Path(s["data_dir"])
    data.mkdir(parents=True, exist_ok=True)
    client = EntitlementClient.from_manifest(
        s["manifest"],
        s["rpc"],
        rpc_timeout=s["rpc_timeout"],
        rpc_retries=s["rpc_retries"],
        breaker_cooloff=s["breaker_cooloff"],
        ttl=s["ttl"],
        grace=s["grace"],
        confirmations=s["confirmations"],
        fail_open=s["fail_open"],
        block_tag=s["block_tag"],
    )
    try:
        chain_id = int(client.web3.eth.chain_id)
    except Exception as exc:
        raise SettingsError(
            f"the node at {s['rpc']} does not answer ({type(exc).__name__}): start it, or"
            " check --rpc"
        ) from None
    if client.chain_id is not None and chain_id != client.chain_id:
        raise SettingsError(
            f"the node at {s['rpc']} is chain {chain_id}, but {s['manifest']} is a deployment"
            f" on chain {client.chain_id}: check --rpc and --manifest"
        )
    # Taken, the port is one error: line (uvicorn's own was a logged [Errno 98] and exit 3).
    sock = single_socket(s["host"], s["port"])
    ledger: CreditLedger
    store: ChallengeStore
    if s["redis_url"]:
        import redis

        ledger = RedisLedger(
            s["redis_url"],
            socket_timeout=s["redis_timeout"],
            retry_for=s["ledger_retry_for"],
            hold_ttl=s["hold_ttl"],
        )
        store = RedisChallengeStore(
            redis.Redis.from_url(
                s["redis_url"],
                socket_timeout=s["redis_timeout"],
                socket_connect_timeout=s["redis_timeout"],
            )
        )
    else:
        ledger = SQLiteLedger(data / "ledger.sqlite3", hold_ttl=s["hold_ttl"])
        store = SQLiteChallengeStore(data / "challenges.sqlite3")
    pepper = s["key_pepper"].encode() if s["key_pepper"] else None
    keys: KeyStore
    if (s["key_store"] or ("redis" if s["redis_url"] else "sqlite")) == "redis":
        if not s["redis_url"]:
            raise SettingsError("--key-store redis needs --redis-url")
        keys = RedisKeyStore.from_url(
            s["redis_url"], pepper=pepper, socket_timeout=s["redis_timeout"]
        )
    else:
        keys = ApiKeyStore(data / "keys.sqlite3", pepper=pepper)
    domain = s["siwe_domain"]

    def get_code(address: str) -> bytes:
        # The node tells a contract wallet (EIP-1271, unsupported) from a bad signature.
        return bytes(client.web3.eth.get_code(to_checksum_address(address)))

    app = create_app(
        Gatekeeper(client, ledger, prices, keys, wallets=s["allow_wallet_authorize"]),
        WalletChallenges(domain, store, get_code=get_code),
        SiweVerifier(
            domain,
            s["siwe_uri"] or f"https://{domain}",
            chain_id=chain_id,
            store=store,
            get_code=get_code,
        ),
        keys,
        authorize_batch=s["authorize_batch"],
        admin_token=s["admin_token"],
        allow_wallet_authorize=s["allow_wallet_authorize"],
        body_limit=s["body_limit"],
        usage_store=open_usage_store(s["redis_url"], data),
    )
    config = uvicorn.Config(
        app,
        host=s["host"],
        port=s["port"],
        timeout_keep_alive=s["keep_alive"],
        log_level=s["log_level"],
        log_config=None,  # configure_logging's handlers
        access_log=False,  # the sidecar's own access log (venice_sdk.access, at info)
        loop="uvloop",
        http=protocol("httptools"),  # (a connection has keep_alive s to send its headers)
    )
    return 0 if run_server(config, lambda: None, [sock]) else 3  # (3: startup failed)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="venice-sdk", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="show a wallet's entitlement")
    c.add_argument("--manifest", required=True, help="deployments/<chain_id>.json")
    c.add_argument("--rpc", required=True, help="the node's HTTP URL")
    c.add_argument("--ttl", type=float, default=2.0, help="cache seconds (default 2)")
    c.add_argument(
        "--rpc-timeout", type=float, default=0.5, help="seconds per node request attempt"
    )
    c.add_argument("--rpc-retries", type=int, default=1, help="more attempts after a failure")
    c.add_argument("address")
    add_arguments(
        sub.add_parser(
            "serve",
            help="run the sidecar",
            description="Each option also from VENICE_<NAME> or a --config file (TOML or YAML);"
            " the command line wins, then the environment, then the file.",
        ),
        SERVE_OPTIONS,
    )
    add_gateway_command(sub)
    add_keys_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if hasattr(args, "run"):  # a subcommand of its own module (`gateway`, `usage`, `keys`)
            return int(args.run(args))
        return check(args) if args.command == "check" else serve(resolve(args))
    except (EntitlementError, SettingsError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
