"""A request's body read, checked and priced in bounds, and the body to send upstream written:
`prepare`, one function of the body's bytes and a `Catalog` of the price book's models.

A worker runs it itself for a body of up to `INLINE_BYTES`, and hands a larger one to a process
of its own (`Preparer`): parsing JSON holds the interpreter for as long as it takes, and a body
of a million small values (``[[0],[0],...]`` in 4 MiB: 0.5 s to parse, more to write again)
would stall every other request and stream of the worker that long. In a process of its own it
takes a core, not the worker's event loop: another tenant's requests go on meanwhile, and only
the large bodies of a worker wait for each other.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from venice_sdk.errors import Reason
from venice_sdk.gateway.estimate import WorstCase, worst_case

if TYPE_CHECKING:
    from venice_sdk.pricing import PriceBook

__all__ = ["INLINE_BYTES", "Catalog", "Prepared", "Preparer", "Refused", "catalog_of", "prepare"]

#: Largest body a worker parses on its own event loop (at most ~10 ms of it, whatever the JSON).
INLINE_BYTES = 64 * 1024

#: What `prepare` needs of a price book: each model's (priced per image, context length).
Catalog = Mapping[str, tuple[bool, int | None]]


@dataclass(frozen=True)
class Prepared:
    """A request ready to be held and sent: its model, whether it streams, its worst case and
    the body to send upstream (the output limit held written in, usage asked for a stream)."""

    model: str
    streaming: bool
    bound: WorstCase
    payload: bytes


class Refused(Exception):
    """The request is refused: ``reason`` and ``message`` as the client is told, ``status``."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(reason, message, status)
        self.reason, self.message, self.status = reason, message, status


class _Live(Mapping[str, tuple[bool, int | None]]):
    """A price book read as a `Catalog` (in the worker: nothing copied)."""

    def __init__(self, prices: PriceBook) -> None:
        self.prices = prices

    def __getitem__(self, model: str) -> tuple[bool, int | None]:
        if model not in self.prices:
            raise KeyError(model)
        price = self.prices.get(model)
        return price.per_image is not None, price.context_tokens

    def __contains__(self, model: object) -> bool:
        return model in self.prices

    def __iter__(self) -> Any:
        return iter(self.prices)

    def __len__(self) -> int:
        return sum(1 for _ in self.prices)


def catalog_of(prices: PriceBook) -> dict[str, tuple[bool, int | None]]:
    """The catalog of ``prices`` as a plain dict (sent to another process)."""
    view = _Live(prices)
    return {model: view[model] for model in prices}


def prepare(
    kind: str,
    raw: bytes,
    catalog: Catalog,
    default_max_tokens: int,
    continuous_usage: bool = False,
) -> Prepared:
    """Read the body ``raw`` of a request of ``kind`` (``chat``, ``completions``, ``embeddings``
    or ``images``) for a model of ``catalog``: raises `Refused` for what the client must fix
    (not JSON in UTF-8, no model, a model without a price or priced for another route, a
    malformed limit or ``stream``), else returns it `Prepared`."""
    try:  # UTF-8 only (RFC 8259): the prompt's bound is the body's size in UTF-8 bytes,
        # and json.loads would read UTF-16 or UTF-32 bytes too, in which a character may
        # take fewer bytes than in UTF-8 (U+0800-U+FFFF: 2 against 3) and so more tokens.
        body = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # (nested deeper than the parser recurses)
        raise Refused(Reason.BAD_REQUEST, "the body is not JSON in UTF-8") from None
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise Refused(Reason.BAD_REQUEST, "the body must be an object with a 'model'")
    model: str = body["model"]
    if model not in catalog:
        raise Refused(Reason.UNKNOWN_MODEL, f"model '{model}' does not exist or has no price", 404)
    per_image, context_tokens = catalog[model]
    if per_image != (kind == "images"):
        unit = "image" if per_image else "token"
        raise Refused(
            Reason.BAD_REQUEST, f"model '{model}' is priced per {unit}: not for this route"
        )
    if not isinstance(body.get("stream", False), bool | None):
        # (a server's pydantic reads 1 or "true" as true and streams; read here as no
        # stream, the events would be taken for an answer without usage: charged the hold)
        raise Refused(Reason.BAD_REQUEST, "'stream' must be true or false")
    if kind == "images" and body.get("stream"):
        raise Refused(Reason.BAD_REQUEST, "streamed images are not metered here")
    try:
        bound = worst_case(kind, raw, body, default_max_tokens, context_tokens)
    except ValueError as exc:
        raise Refused(Reason.BAD_REQUEST, str(exc)) from None
    streaming = body.get("stream") is True
    if streaming:
        options = body.setdefault("stream_options", {})
        if not isinstance(options, dict):
            raise Refused(Reason.BAD_REQUEST, "'stream_options' must be an object")
        options["include_usage"] = True
        if continuous_usage:
            options["continuous_usage_stats"] = True
    try:  # (json.loads reads NaN and Infinity, which are not JSON: not sent on)
        payload = json.dumps(body, allow_nan=False).encode()
    except (ValueError, RecursionError):
        raise Refused(Reason.BAD_REQUEST, "the body cannot be sent on as JSON (NaN?)") from None
    return Prepared(model, streaming, bound, payload)


def _outlive_not(parent: int) -> None:
    """In the process for large bodies: exit once the worker that started it is gone. A worker
    ends with ``os._exit`` (a multiprocessing child) or is killed, and the pool's own goodbye
    never comes: its process, waiting on a queue it holds both ends of, would wait for ever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="outlive-not", daemon=True).start()


class Preparer:
    """`prepare` for a worker: a body of up to ``inline_bytes`` in the worker itself, a larger
    one in a process of its own (started on the first, or by `start`; one per worker)."""

    def __init__(self, inline_bytes: int = INLINE_BYTES) -> None:
        self.inline_bytes = inline_bytes
        self._pool: ProcessPoolExecutor | None = None
        self._catalogs: tuple[PriceBook, dict[str, tuple[bool, int | None]]] | None = None

    def start(self) -> None:
        """Start the process now (a worker's startup), not on the first large body."""
        self._executor().submit(int)

    async def prepare(
        self, kind: str, raw: bytes, prices: PriceBook, default_max_tokens: int,
        continuous_usage: bool = False,
    ) -> Prepared:  # fmt: skip
        """`prepare` of ``raw`` for ``prices``; raises `Refused` (a 503 if the process died)."""
        if len(raw) <= self.inline_bytes:
            return prepare(kind, raw, _Live(prices), default_max_tokens, continuous_usage)
        loop = asyncio.get_running_loop()
        pool = self._executor()
        try:
            return await loop.run_in_executor(
                pool, prepare, kind, raw, self._catalog(prices), default_max_tokens,
                continuous_usage,
            )  # fmt: skip
        except BrokenProcessPool:  # (killed, out of memory): the next large body starts another
            if self._pool is pool:
                self._pool = None
            raise Refused(
                Reason.INTERNAL_ERROR, "the process reading large bodies stopped; retry", 503
            ) from None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Spawned, not forked: a fork of a worker (its event loop, its threads) is unsafe.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=context, initializer=_outlive_not, initargs=(os.getpid(),)
            )
        return self._pool

    def _catalog(self, prices: PriceBook) -> dict[str, tuple[bool, int | None]]:
        """The catalog of ``prices``, made once per price book (a reload makes a new one)."""
        cached = self._catalogs
        if cached is None or cached[0] is not prices:
            cached = self._catalogs = (prices, catalog_of(prices))
        return cached[1]

    def close(self) -> None:
        """Stop the process, waiting for it (at most the one body it is reading): without the
        wait its queues' semaphores were left behind, and every stop of the gateway ended in
        multiprocessing's "leaked semaphore objects" warning."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
