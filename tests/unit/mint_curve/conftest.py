"""The mint curve tests' fixtures: the deployed table, fast reads and the model built from it."""

from __future__ import annotations

import pytest

from venice_ops.rpc import bind
from venice_sdk.model.curve import MintCurveModel


@pytest.fixture(scope="module")
def rates(curve):
    """The deployed curve's knots (sVVV per DIEM at each STEP of supply)."""
    return list(curve.knots())


@pytest.fixture(scope="module")
def fast_curve(curve):
    """The curve's views read over raw RPC (no ape decoding), for the property tests."""
    return bind(curve).functions


@pytest.fixture(scope="module")
def model(rates):
    """The Python model of the same table."""
    return MintCurveModel(rates)
