"""A tiny ASGI app for the worker supervisor's tests (`venice_sdk.gateway.workers`): every
request is answered with the pid of the worker process that served it."""

from __future__ import annotations

import os
from typing import Any


def app() -> Any:
    """The app factory (``tests.support.pid_app:app``)."""

    async def serve(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = str(os.getpid()).encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return serve


def broken() -> Any:
    """A factory that fails, as an app with a bad setting would."""
    raise RuntimeError("this app cannot start")


def dying() -> Any:
    """`app`, in a worker that exits (code 3) a second after it was made: a worker that keeps
    crashing after it started serving."""
    import threading

    threading.Timer(1.0, os._exit, args=(3,)).start()
    return app()
