"""Plain ASGI middleware that runs before any route parses anything (cheap per request).

- `BodyLimit`: a request body larger than the limit is answered 413 ``body_too_large`` without
  being read: at once from its ``Content-Length``, or as soon as a chunked body grows past it.
- `AdminGuard`: the internal routes (`INTERNAL_PREFIXES`) answer 401 ``admin_token_required``
  unless the request carries the admin token (``Authorization: Bearer <token>`` or
  ``X-Venice-Admin-Token: <token>``), compared in constant time.
- `RequestContext`: a request id (the caller's ``X-Request-Id`` if it is a sane one, else a new
  one) echoed on every answer and put on every log line of the request; one access-log line
  per request when the ``venice_sdk.access`` logger is enabled for INFO.
"""

from __future__ import annotations

import contextvars
import hmac
import json
import logging
import re
import secrets
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from venice_sdk.errors import Reason

__all__ = [
    "INTERNAL_PREFIXES",
    "REQUEST_ID",
    "SCOPE_KEY",
    "AdminGuard",
    "BodyLimit",
    "RequestContext",
    "send_error",
]

#: Paths that only the operator's own servers may call.
INTERNAL_PREFIXES = (
    "/v1/authorize",
    "/v1/entitlements",
    "/v1/reserve",
    "/v1/settle",
    "/v1/release",
    "/v1/renew",
    "/metrics",
    "/readyz",
)

#: Where `RequestContext` puts the request's id in the ASGI scope.
SCOPE_KEY = "venice.request_id"

#: The current request's id (for log lines).
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("venice_request_id", default="-")

_access = logging.getLogger("venice_sdk.access")
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


async def send_error(
    send: Send,
    status: int,
    code: Reason,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer ``{"code": ..., "message": ...}`` with ``status``."""
    body = json.dumps({"code": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _TooLarge(HTTPException):
    """Raised by the counting ``receive``: an HTTPException, so that a framework reading the body
    passes it on (FastAPI turns other errors into a 400) to the error handlers, which answer
    413 ``body_too_large`` (`venice_sdk.server.errors`)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` (413 ``body_too_large``), unread."""

    def __init__(self, app: ASGIApp, max_bytes: int = 64 * 1024) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, send: Send) -> None:
        await send_error(
            send,
            413,
            Reason.BODY_TOO_LARGE,
            f"the request body is larger than {self.max_bytes} bytes",
            [(b"connection", b"close")],  # the rest of the body is never read
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
        if length is not None and not chunked:
            try:
                too_large = int(length) > self.max_bytes
            except ValueError:
                too_large = True  # the server would have refused it anyway
            if too_large:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)  # the server reads no more than it says
            return
        if not chunked:  # no body
            await self.app(scope, receive, send)
            return
        # A chunked body: counted as it streams, refused as soon as it passes the limit.
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if started:
                raise
            await self._refuse(send)


class AdminGuard:
    """401 ``admin_token_required`` on `INTERNAL_PREFIXES` without the admin token."""

    def __init__(
        self, app: ASGIApp, token: str, prefixes: tuple[str, ...] = INTERNAL_PREFIXES
    ) -> None:
        if not token:
            raise ValueError("the admin token must not be empty")
        self.app, self.prefixes = app, prefixes
        self._token = token.encode()

    def _allowed(self, scope: Scope) -> bool:
        given = b""
        for name, value in scope["headers"]:
            if name == b"x-venice-admin-token":
                given = value.strip()
                break
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                given = value[7:].strip()
        return hmac.compare_digest(given, self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith(self.prefixes)
            and not self._allowed(scope)
        ):
            await send_error(
                send,
                401,
                Reason.ADMIN_TOKEN_REQUIRED,
                "an internal route: send the admin token (Authorization: Bearer <token>)",
                [(b"www-authenticate", b'Bearer realm="venice-sidecar"')],
            )
            return
        await self.app(scope, receive, send)


class RequestContext:
    """A request id on every answer (``X-Request-Id``) and log line; an access-log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value if _SANE_ID.fullmatch(value) else None
                break
        if rid is None:
            rid = secrets.token_hex(8).encode()
        request_id = rid.decode()
        scope[SCOPE_KEY] = request_id  # for handlers that run outside this middleware (500s)
        token = REQUEST_ID.set(request_id)
        start = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if _access.isEnabledFor(logging.INFO):
                _access.info(
                    "%s %s %s %.1f ms",
                    scope.get("method", "-"),
                    scope.get("path", "-"),
                    status or 500,
                    (time.perf_counter() - start) * 1_000,
                    extra={
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status or 500,
                        "ms": round((time.perf_counter() - start) * 1_000, 3),
                    },
                )
            REQUEST_ID.reset(token)
