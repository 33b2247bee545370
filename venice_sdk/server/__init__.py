"""The sidecar's HTTP surface around `venice_sdk.service.create_app`: request and response
models (`models`), the error answers (`errors`), the ASGI middleware that runs before any
parsing (`middleware`: body cap, admin token, request id and access log), logging (`logs`) and
`venice-sdk serve`'s settings from the command line, the environment and a file (`settings`).

Public routes (expose them to users): ``/v1/auth/*`` and ``/healthz``. Internal routes (keep
them on the operator's network, behind the admin token): ``/v1/authorize``,
``/v1/entitlements/*``, ``/metrics`` and ``/readyz``.

Only `settings` works without the ``server`` extra (``venice-sdk check`` imports it); the
other modules need FastAPI, so this package imports none of them: import them by name.
"""

__all__: list[str] = []
