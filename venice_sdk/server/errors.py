"""The sidecar's error answers: every one a JSON object with a stable ``code`` (a
`venice_sdk.errors.Reason`) and a ``message``; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from venice_sdk.auth import AuthError
from venice_sdk.entitlements import EntitlementError
from venice_sdk.errors import Reason
from venice_sdk.server.middleware import SCOPE_KEY

__all__ = ["install_error_handlers"]

_log = logging.getLogger("venice_sdk.service")

_BY_STATUS = {
    401: Reason.ADMIN_TOKEN_REQUIRED,
    404: Reason.NOT_FOUND,
    405: Reason.METHOD_NOT_ALLOWED,
    413: Reason.BODY_TOO_LARGE,
}


def _error(status: int, code: Reason, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, **extra}, status_code=status)


def _clean(errors: Any) -> list[dict[str, Any]]:
    """Pydantic's errors without the input they quote (it may be large, or a secret)."""
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in errors
    ]


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error as JSON with a code: ``invalid_request`` (422) for a body or
    parameter that does not fit the spec, the SDK's own codes (400, or 503 when the node is
    down), ``not_found``, ``method_not_allowed``, ``body_too_large``, and ``internal_error``
    (500, details only in the server's log) for anything unexpected."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = _clean(exc.errors())
        where = ".".join(str(part) for part in detail[0]["loc"]) if detail else "request"
        message = f"{where}: {detail[0]['msg']}" if detail else "invalid request"
        return _error(422, Reason.INVALID_REQUEST, message, detail=detail)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = _BY_STATUS.get(exc.status_code, Reason.BAD_REQUEST)
        response = _error(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(AuthError)
    async def auth_error(_: Request, exc: AuthError) -> JSONResponse:
        return _error(400, exc.code, exc.message)

    @app.exception_handler(EntitlementError)
    async def entitlement_error(_: Request, exc: EntitlementError) -> JSONResponse:
        status = 503 if exc.code == Reason.RPC_UNAVAILABLE else 400
        return _error(status, exc.code, exc.message)

    @app.exception_handler(ValueError)
    async def bad_value(_: Request, exc: ValueError) -> JSONResponse:
        return _error(400, Reason.BAD_REQUEST, str(exc)[:500])

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        # Runs outside the other middleware (Starlette's outermost layer): the request id
        # comes from the scope.
        request_id = str(request.scope.get(SCOPE_KEY, "-"))
        _log.error(
            "internal error on %s",
            request.url.path,
            exc_info=exc,
            extra={"request_id": request_id},
        )
        response = _error(500, Reason.INTERNAL_ERROR, "internal error (see the server's log)")
        response.headers["x-request-id"] = request_id
        return response
