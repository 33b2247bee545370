"""A `Gatekeeper` without a chain, for the holds and gateway tests: wallets' daily credit is
set by the test, API keys are real (`ApiKeyStore` in a temporary file)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from venice_sdk.auth import ApiKeyStore
from venice_sdk.entitlements import EntitlementError, EntitlementUnavailable
from venice_sdk.errors import Reason
from venice_sdk.gate import Gatekeeper
from venice_sdk.ledger import CreditLedger
from venice_sdk.pricing import PriceBook

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
ALICE = "0x00000000000000000000000000000000000A11cE"
BOB = "0x0000000000000000000000000000000000000B0b"

PRICES = {
    "models": {
        # 1 micro-USD per input token, 3 per output token: costs are easy to check.
        "tiny": {"input_per_million": "1", "output_per_million": "3"},
        # "tiny" that also reads images: a request with one is held at its context length.
        "tiny-vl": {"input_per_million": "1", "output_per_million": "3", "context_tokens": 32_768},
        "small": {"input_per_million": "0.05", "output_per_million": "0.25"},
        "painter": {"per_image": "0.02"},
    }
}


class FakeEntitlements:
    """``credits[address]`` is the wallet's credit today (micro-USD); ``down`` fails the node."""

    ttl = 2.0

    def __init__(self, credits: dict[str, int]) -> None:
        self.credits = {a.lower(): c for a, c in credits.items()}
        self.down = False
        self.probes = 0  # readiness probes asked

    def get(self, address: str) -> Any:
        if self.down:
            raise EntitlementUnavailable(Reason.RPC_UNAVAILABLE, "the node does not answer")
        if not ADDRESS.fullmatch(address):
            raise EntitlementError(Reason.MALFORMED_ADDRESS, f"{address!r} is not an address")
        credit = self.credits.get(address.lower(), 0)
        return SimpleNamespace(
            daily_credit=credit, staked=int(credit > 0), is_pro=False, stale=False, diem_staked=0
        )

    def cached(self, address: str) -> Any:
        """As a real client's cache: what `get` gives while the node answers (the gateway's
        Redis path then meters on the event loop), nothing once it is down."""
        if self.down or not ADDRESS.fullmatch(address):
            return None
        return self.get(address)

    def expires_in(self, address: str) -> float | None:
        """Never expiring (nothing to refresh ahead): `None`, as for an entry not cached."""
        return None

    def refresh(self, addresses: list[str]) -> None:
        """Nothing cached to read again."""

    def probe(self) -> dict[str, int]:
        """Readiness, as `EntitlementClient.probe`: the node's chain id and block, or down."""
        self.probes += 1
        if self.down:
            raise EntitlementUnavailable(Reason.RPC_UNAVAILABLE, "the node does not answer")
        return {"chain_id": 31337, "block": 1}

    @property
    def breaker(self) -> Any:
        return SimpleNamespace(state="open" if self.down else "closed")


def make_gate(
    ledger: CreditLedger, tmp_path: Path, credits: dict[str, int] | None = None
) -> tuple[Gatekeeper, ApiKeyStore, FakeEntitlements]:
    """A gate over ``ledger``: ALICE has $10 a day unless ``credits`` says otherwise."""
    client = FakeEntitlements(credits if credits is not None else {ALICE: 10_000_000})
    keys = ApiKeyStore(tmp_path / "keys.sqlite3", clock=ledger.clock)
    gate = Gatekeeper(client, ledger, PriceBook.from_dict(PRICES), keys)  # type: ignore[arg-type]
    return gate, keys, client
