"""`AutoPipeline`: one asyncio connection to Redis on which the commands that every coroutine of
an event loop sends in the same loop iteration go out in one write, their replies read in one
go as they arrive.

Why not redis-py's asyncio client: it sends each command on its own (a write and a read per
command, and a pool checkout), and a gateway request needs a few commands; on machines where a
system call is dear, those calls were most of the gateway's CPU per request. Here a hundred
concurrent requests' commands share one ``write`` and usually one ``read``; hiredis (the redis
extra) packs the commands and parses the replies.

A command's reply is returned; a Redis error reply (``NOSCRIPT``, a script error) is returned as
a `hiredis.ReplyError` for the caller to look at, so one failed command does not fail its
batch. A connection that is lost, or that leaves a batch unanswered for ``timeout`` seconds, is
dropped: every command waiting on it raises `LedgerUnavailable`, and the next call connects
again. Whether those commands ran is unknown, as with any lost reply, so only idempotent ones
may be retried (`AutoPipeline.retrying`).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import hiredis

from venice_sdk.ledger.base import LedgerUnavailable

__all__ = ["AutoPipeline", "ReplyError"]

ReplyError = hiredis.ReplyError
T = TypeVar("T")


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: AutoPipeline, loop: asyncio.AbstractEventLoop) -> None:
        self.owner = owner
        self.loop = loop  # its event loop (asking asyncio for it costs a getpid each time)
        self.reader = hiredis.Reader()
        self.transport: Any = None  # asyncio's or uvloop's transport
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.outgoing: list[bytes] = []  # packed commands of this loop iteration, not sent yet
        self.lost = False
        self.error: Exception | None = None  # why it was lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self.fail(LedgerUnavailable(f"redis sent a malformed reply: {exc}"))
                return
            if reply is False:
                return
            if not waiting:  # a reply nobody asked for: the stream is out of step (or the
                # server's refusal of the connection: maxclients, protected mode)
                self.fail(
                    LedgerUnavailable(f"redis sent a reply nobody was waiting for: {reply!r:.200}")
                )
                return
            future = waiting.popleft()
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(LedgerUnavailable(f"redis connection lost: {exc or 'closed'}"))

    def fail(self, error: Exception) -> None:
        """Drop the connection and fail everything waiting on it."""
        self.lost = True
        self.error = self.error or error
        if self.transport is not None:
            self.transport.abort()
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)
                future.exception()  # its awaiter gets it; one nobody awaits any more is not logged
        if self.owner._protocol is self:
            self.owner._protocol = None


class AutoPipeline:
    """Commands to one Redis at ``host:port`` (or the unix socket ``path``) from one event loop.

    ``timeout``: seconds a sent batch may wait for its replies (and a connect may take) before
    the connection is dropped; ``retry_for``: how long `retrying` keeps trying an idempotent
    call. Make one per event loop (a gateway worker makes one) and `close` it in the same loop.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        *,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 0.5,
        retry_for: float = 5.0,
    ) -> None:
        self.host, self.port, self.path, self.db = host, port, path, db
        self.username, self.password = username, password
        self.timeout, self.retry_for = timeout, retry_for
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._scripts: dict[str, str] = {}

    @property
    def place(self) -> tuple[Any, ...]:
        """Which server and database it talks to."""
        return (self.host, self.port, self.path, self.db)

    @classmethod
    def like(cls, client: Any, timeout: float = 0.5, retry_for: float = 5.0) -> AutoPipeline | None:
        """One with the settings of a redis-py client's pool (host, port or unix socket,
        database, credentials); None for a client it cannot copy (TLS, a cluster, a custom
        connection class): use the client then."""
        import redis

        pool = getattr(client, "connection_pool", None)
        if pool is None:
            return None
        kw = pool.connection_kwargs
        common: dict[str, Any] = {
            "db": int(kw.get("db") or 0),
            "username": kw.get("username"),
            "password": kw.get("password"),
            "timeout": timeout,
            "retry_for": retry_for,
        }
        if pool.connection_class is redis.Connection:
            return cls(kw.get("host", "127.0.0.1"), int(kw.get("port", 6379)), **common)
        if pool.connection_class is redis.UnixDomainSocketConnection:
            return cls(path=kw["path"], **common)
        return None

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        protocol = _Protocol(self, loop)
        try:
            if self.path is not None:
                connect = loop.create_unix_connection(lambda: protocol, self.path)
            else:
                connect = loop.create_connection(lambda: protocol, self.host, self.port)
            await asyncio.wait_for(connect, self.timeout)
        except (OSError, TimeoutError) as exc:
            raise LedgerUnavailable(f"cannot connect to redis: {exc or 'timed out'}") from exc
        hello: list[tuple[Any, ...]] = []
        if self.password is not None:
            user = (self.username,) if self.username else ()
            hello.append(("AUTH", *user, self.password))
        if self.db:
            hello.append(("SELECT", self.db))
        self._protocol = protocol
        for reply in await asyncio.gather(*(self._send(protocol, c) for c in hello)):
            if isinstance(reply, ReplyError):
                protocol.fail(LedgerUnavailable(f"redis refused the connection: {reply}"))
                raise LedgerUnavailable(f"redis refused the connection: {reply}")
        return protocol

    async def _ready(self) -> _Protocol:
        protocol = self._protocol
        if protocol is not None and not protocol.lost:
            return protocol
        if self._connecting is None:  # one connect for every caller waiting on it
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(self._connected)
        return await asyncio.shield(self._connecting)

    def _connected(self, done: asyncio.Future[_Protocol]) -> None:
        self._connecting = None
        if not done.cancelled():
            done.exception()  # retrieved: a failed connect is raised to its waiters

    def _send(self, protocol: _Protocol, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = protocol.loop.create_future()
        if protocol.lost:
            # Lost between its connect and this command (a server that accepts and closes at
            # once: a proxy whose Redis is down, a Redis at maxclients or in protected mode):
            # nothing would answer it, nor any timer fail it.
            future.set_exception(protocol.error or LedgerUnavailable("redis connection lost"))
            future.exception()  # (as `fail`: retrieved, whoever awaits it or not)
            return future
        protocol.waiting.append(future)
        if not protocol.outgoing:  # the first of this iteration: send them all at its end
            protocol.loop.call_soon(self._flush, protocol)
        protocol.outgoing.append(hiredis.pack_command(args))
        return future

    def _flush(self, protocol: _Protocol) -> None:
        data, protocol.outgoing = b"".join(protocol.outgoing), []
        if protocol.lost or protocol.transport is None:
            return  # its waiters were failed with it
        protocol.transport.write(data)
        last = protocol.waiting[-1] if protocol.waiting else None
        if last is not None:
            protocol.loop.call_later(self.timeout, self._check, protocol, last)

    def _check(self, protocol: _Protocol, last: asyncio.Future[Any]) -> None:
        """A batch's timer: if its last reply has not come, the connection is stuck."""
        if not last.done() and not protocol.lost:
            protocol.fail(LedgerUnavailable(f"redis did not answer within {self.timeout:g}s"))

    def register(self, lua: str) -> str:
        """Remember a script's source (so a ``NOSCRIPT`` reply to its ``EVALSHA`` in `batch` is
        answered by sending it); returns its SHA."""
        sha = hashlib.sha1(lua.encode()).hexdigest()
        self._scripts[sha] = lua
        return sha

    async def batch(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Send ``commands`` together (with the rest of this loop iteration's) and return their
        replies in order, error replies as `ReplyError`. An ``EVALSHA`` of a `register`-ed
        script the server has not cached (a restart) is sent again as ``EVAL``. Raises
        `LedgerUnavailable` as `call` does."""
        protocol = await self._ready()
        futures = [self._send(protocol, c) for c in commands]
        replies = [await f for f in futures]
        again = [
            i for i, r in enumerate(replies)
            if isinstance(r, ReplyError) and str(r).startswith("NOSCRIPT")
            and commands[i][0] == "EVALSHA" and commands[i][1] in self._scripts
        ]  # fmt: skip
        if again:
            protocol = await self._ready()
            resent = [
                self._send(protocol, ("EVAL", self._scripts[commands[i][1]], *commands[i][2:]))
                for i in again
            ]
            for i, future in zip(again, resent, strict=True):
                replies[i] = await future
        return replies

    async def call(self, *args: Any) -> Any:
        """Send one command (sent with the others of this loop iteration) and return its reply
        (an error reply as a `ReplyError`). Raises `LedgerUnavailable` if Redis cannot be
        reached or does not answer in time: the command may or may not have run."""
        return (await self.batch(args))[0]

    async def retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` until it gets through or ``retry_for`` seconds pass (then raise
        `LedgerUnavailable` naming ``what``). Only for idempotent calls."""
        deadline = time.monotonic() + self.retry_for
        delay = 0.01
        while True:
            try:
                return await call()
            except LedgerUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise LedgerUnavailable(
                        f"redis unreachable while {what} for {self.retry_for:g}s: {exc}"
                    ) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def close(self) -> None:
        protocol = self._protocol
        if protocol is not None:
            protocol.fail(LedgerUnavailable("the pipeline was closed"))
