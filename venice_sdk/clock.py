"""`Clock`: where the SDK's ledgers, stores and verifiers read the time (one definition)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Clock"]


class Clock(Protocol):
    """A source of unix time in seconds (``time.time`` by default; tests pass their own)."""

    def __call__(self) -> float: ...
