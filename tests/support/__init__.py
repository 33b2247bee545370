"""Test support: chain helpers, the contract coverage plugin."""
