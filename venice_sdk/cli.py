"""`venice-sdk`: check a wallet's entitlement, or serve the sidecar.

    venice-sdk check 0xABC... --manifest deployments/31337.json --rpc http://127.0.0.1:8545
    venice-sdk serve --manifest deployments/31337.json --rpc http://127.0.0.1:8545 \\
        [--port 8787] [--data-dir .venice] [--redis-url redis://...] [--prices prices.yaml] \\
        [--authorize-batch 64]

A mistake (a bad address, a missing manifest, a node that does not answer) is one `error:`
line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eth_utils.address import to_checksum_address

from venice_sdk.entitlements import EntitlementClient, EntitlementError
from venice_sdk.units import format_units

__all__ = [
    "check",
    "main",
    "parser",
    "serve",
]


def _client(args: argparse.Namespace) -> EntitlementClient:
    return EntitlementClient.from_manifest(args.manifest, args.rpc, ttl=args.ttl)


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


def serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from venice_sdk.auth import (
            ApiKeyStore,
            ChallengeStore,
            RedisChallengeStore,
            SiweVerifier,
            SQLiteChallengeStore,
            WalletChallenges,
        )
        from venice_sdk.gate import Gatekeeper
        from venice_sdk.ledger import CreditLedger, RedisLedger, SQLiteLedger
        from venice_sdk.pricing import PriceBook
        from venice_sdk.service import create_app
    except ImportError as exc:
        raise SystemExit(
            f"error: the server needs `pip install venice-sdk[server]` ({exc})"
        ) from None
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    client = _client(args)
    ledger: CreditLedger
    store: ChallengeStore
    if args.redis_url:
        ledger = RedisLedger(args.redis_url)
        store = RedisChallengeStore.from_url(args.redis_url)
    else:
        ledger = SQLiteLedger(data / "ledger.sqlite3")
        store = SQLiteChallengeStore(data / "challenges.sqlite3")
    prices = PriceBook.load(args.prices) if args.prices else PriceBook.default()
    keys = ApiKeyStore(data / "keys.sqlite3")
    chain_id = int(client.web3.eth.chain_id)

    def get_code(address: str) -> bytes:
        # The node tells a contract wallet (EIP-1271, unsupported) from a bad signature.
        return bytes(client.web3.eth.get_code(to_checksum_address(address)))

    app = create_app(
        Gatekeeper(client, ledger, prices, keys),
        WalletChallenges(args.domain, store, get_code=get_code),
        SiweVerifier(args.domain, chain_id=chain_id, store=store, get_code=get_code),
        keys,
        authorize_batch=args.authorize_batch,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="venice-sdk", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (("check", "show a wallet's entitlement"), ("serve", "run the sidecar")):
        c = sub.add_parser(name, help=helptext)
        c.add_argument("--manifest", required=True, help="deployments/<chain_id>.json")
        c.add_argument("--rpc", required=True, help="the node's HTTP URL")
        c.add_argument("--ttl", type=float, default=2.0, help="cache seconds (default 2)")
        if name == "check":
            c.add_argument("address")
        else:
            c.add_argument("--host", default="127.0.0.1")
            c.add_argument("--port", type=int, default=8787)
            c.add_argument("--data-dir", default=".venice", help="SQLite files (default .venice)")
            c.add_argument("--redis-url", help="share the ledger and challenges through Redis")
            c.add_argument("--prices", help="a price book file (default: the bundled one)")
            c.add_argument("--domain", default="localhost", help="the sign-in domain")
            c.add_argument(
                "--authorize-batch",
                type=int,
                default=64,
                help="most concurrent authorize requests decided together (1: one by one)",
            )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return check(args) if args.command == "check" else serve(args)
    except EntitlementError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
