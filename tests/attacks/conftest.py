"""Fixtures of the attack tests: the unit tests' helpers (time control, storage roots, the
cached dev-account derivation), shared rather than copied."""

from __future__ import annotations

from tests.unit.conftest import (  # noqa: F401  (fixtures, registered by name)
    _cache_dev_account_derivation,
    at,
    mine_at,
    now,
    storage_roots,
    t0,
    warp,
)
