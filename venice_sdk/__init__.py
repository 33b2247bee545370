"""venice_sdk: entitlement checks for inference servers on the Venice token suite.

`venice_sdk.model` mirrors the contracts' integer math; `venice_sdk.units` converts between
human amounts and base units.
"""

__all__: list[str] = []
