"""The four hypothesis state machines, on Anvil against `venice_sdk.model`."""
