"""Price book reload without a restart: on SIGHUP, or when the file changes (polled).

`PriceBookReloader.check` loads the file again if its modification time or size changed and
swaps the gate's price book in one assignment; a file that does not load is logged and the old
prices stay. The gateway reads the price book once per request, so a request in flight keeps
the prices it started with and new prices apply to new requests only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import anyio

from venice_sdk.gate import Gatekeeper
from venice_sdk.pricing import PriceBook

__all__ = ["PriceBookReloader"]

log = logging.getLogger("venice_sdk.gateway")


class PriceBookReloader:
    """Keeps ``gate.prices`` equal to the price book in ``path``."""

    def __init__(self, gate: Gatekeeper, path: str | Path, interval: float = 2.0) -> None:
        if not interval > 0:
            raise ValueError("the reload interval must be positive")
        self.gate, self.path, self.interval = gate, Path(path), interval
        self._seen = self._stamp()
        self.reloads = 0

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def check(self, force: bool = False) -> bool:
        """Reload if the file changed (or ``force``); whether new prices are in use."""
        stamp = self._stamp()
        if not force and stamp == self._seen:
            return False
        self._seen = stamp
        try:
            prices = PriceBook.load(self.path)
        except (OSError, ValueError) as exc:
            log.error("price book %s not reloaded, the old prices stay: %s", self.path, exc)
            return False
        self.gate.prices = prices
        self.reloads += 1
        log.warning("price book %s reloaded: %d models", self.path, len(prices))
        return True

    async def run(self) -> None:
        """Poll the file, and reload at once on SIGHUP where this process can catch it."""
        box = {"hup": anyio.Event()}
        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, lambda: box["hup"].set())
        except (RuntimeError, ValueError, NotImplementedError, AttributeError):
            pass  # not the main thread (tests), or no SIGHUP on this platform: polling only
        while True:
            with anyio.move_on_after(self.interval):
                await box["hup"].wait()
            forced = box["hup"].is_set()
            if forced:
                box["hup"] = anyio.Event()
            self.check(force=forced)
