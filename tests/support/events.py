"""Reading a receipt's events."""

from __future__ import annotations


def contract_events(receipt, contract) -> list[tuple[str, dict]]:
    """(event name, args) of the logs `contract` emitted in `receipt`, in order."""
    return [
        (log.event_name, dict(log.event_arguments))
        for log in receipt.events
        if log.contract_address == contract.address
    ]
