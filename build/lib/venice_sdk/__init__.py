"""venice_sdk: entitlement checks for inference servers on the Venice token suite.

`venice_sdk.model` mirrors the contracts' integer math; `venice_sdk.units` converts between
human amounts and base units; `venice_sdk.pricing` prices a request in micro-USD;
`venice_sdk.ledger` debits it against an account's daily credit (SQLite or Redis).
"""

__all__: list[str] = []
