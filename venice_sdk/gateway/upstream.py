"""The gateway's client to its upstream: one aiohttp session per worker process.

aiohttp rather than httpx on the forwarding path: httpcore's pool polled every idle connection's
socket on each request and wrote requests slowly, about 30% of the gateway's CPU per request.
Timeouts: ``GatewayConfig.timeout`` between two reads of the upstream's answer (a stream may run
longer than that in all), 10 s to connect; no total. `UPSTREAM_ERRORS` is what a failed or timed
out upstream raises (the gateway answers 503, or ends a stream with an error event).
"""

from __future__ import annotations

import aiohttp

__all__ = ["UPSTREAM_ERRORS", "Upstream", "describe"]

#: What sending to, or reading from, the upstream raises when it fails or times out.
UPSTREAM_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError)


def describe(exc: BaseException) -> str:
    """An upstream error in a few words (a timeout's own message is empty)."""
    return str(exc) or type(exc).__name__


class Upstream:
    """POSTs to ``base`` (``http://host:port``, no trailing slash) with keep-alive connections
    (at most 2,000 open); ``key``: the bearer token the upstream wants, if any. The session is
    made in the worker's event loop on first use and closed by `close`."""

    def __init__(self, base: str, key: str | None, timeout: float) -> None:
        self.base = base.rstrip("/")
        self.headers = {"authorization": f"Bearer {key}"} if key else {}
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=2_000),
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=10.0, sock_read=self.timeout
                ),
            )
        return self._session

    async def post(self, path: str, body: bytes) -> aiohttp.ClientResponse:
        """Send ``body`` (JSON) to ``path`` and return once the answer's head has arrived (its
        body is read, or streamed, by the caller, who closes it). Raises `UPSTREAM_ERRORS`."""
        return await self.session().post(
            self.base + path, data=body, headers={"content-type": "application/json"}
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
