"""Sending a transaction with enough gas on any node.

A StakedVVV action costs tens of thousands of gas more in a new second than in the second of
the last accrual (the accrual writes storage, and past a rate breakpoint it asks the
controller), and nodes (Anvil, geth) estimate against the latest block by default, so a plain
estimate taken after another staking action falls short. Estimate against the pending block
and add headroom; only the gas used is paid for.
"""

from __future__ import annotations

from typing import Any

from ape import chain
from ape.api import AccountAPI
from eth_utils import to_hex

GAS_HEADROOM = 100_000


def gas_limit(method: Any, *args: Any, sender: AccountAPI) -> int | None:
    """The gas limit to send `method(*args)` with, or None when the estimate itself fails
    (then ape estimates again and explains the revert)."""
    request = {
        "from": str(sender.address),
        "to": str(method.contract.address),
        "data": to_hex(method.encode_input(*args)),
    }
    return _with_headroom(request)


def _with_headroom(request: dict[str, Any]) -> int | None:
    try:
        estimate = chain.provider.web3.eth.estimate_gas(request, "pending")
    except Exception:
        return None
    return int(min(estimate * 5 // 4 + GAS_HEADROOM, chain.blocks.head.gas_limit))


def deploy(container: Any, *args: Any, sender: AccountAPI) -> Any:
    """Deploy `container(*args)` from `sender` with a pending-block estimate plus headroom: a
    constructor that reads the pool's price since its last update (the buyback-burner's)
    costs more in a later second than estimated, and a node named by its URI (ape's custom
    network) sends exactly the estimate."""
    data = container.constructor.serialize_transaction(*args).data
    gas = _with_headroom({"from": str(sender.address), "data": to_hex(data)})
    if gas is None:
        return container.deploy(*args, sender=sender)
    return container.deploy(*args, sender=sender, gas=gas)


def transact(method: Any, *args: Any, sender: AccountAPI) -> Any:
    """Send `method(*args)` from `sender` with a pending-block estimate plus headroom."""
    gas = gas_limit(method, *args, sender=sender)
    if gas is None:
        return method(*args, sender=sender)
    return method(*args, sender=sender, gas=gas)
