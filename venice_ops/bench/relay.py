"""A bare byte relay, the floor for the gateway's streams figure:
`python -m venice_ops.bench.relay --port 8001 --upstream 8000 [--workers 2]`.

Each connection accepted gets its own connection to the upstream, and bytes are copied both
ways as they arrive (asyncio protocols on uvloop, no HTTP parsing, no metering): what any
relay process adds to a chunk's trip on the machine, measured beside the gateway in the same
rounds (`venice_ops.bench.gateway`). ``--workers`` processes (forked; two in the benchmark,
as the gateway runs two workers), each on its own ``SO_REUSEPORT`` socket; SIGTERM stops them.
Linux only, as the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket


class _Upstream(asyncio.Protocol):
    """The relay's connection to the upstream: what it sends goes to the client."""

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.client.transport is not None
        self.client.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client.transport is not None:
            self.client.transport.close()


class _Client(asyncio.Protocol):
    """A client's connection: what it sends goes to its upstream connection (opened when the
    client connects; what arrives before it is open waits)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.upstream: _Upstream | None = None
        self.waiting: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_connection(
                lambda: _Upstream(self), "127.0.0.1", self.port
            )
        except OSError:
            if self.transport is not None:
                self.transport.close()
            return
        self.upstream = upstream
        assert upstream.transport is not None
        for data in self.waiting:
            upstream.transport.write(data)
        self.waiting.clear()

    def data_received(self, data: bytes) -> None:
        if self.upstream is None or self.upstream.transport is None:
            self.waiting.append(data)
        else:
            self.upstream.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()


async def serve(port: int, upstream: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    server = await asyncio.get_running_loop().create_server(lambda: _Client(upstream), sock=sock)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", type=int, required=True, help="the upstream's port")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    import uvloop

    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            uvloop.run(serve(args.port, args.upstream))
            os._exit(0)
        children.append(pid)

    def stop(*_: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        os.waitpid(child, 0)


if __name__ == "__main__":
    main()
