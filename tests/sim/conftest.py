"""The simulator tests' Dask cluster (a LocalCluster of 2 workers, once per session) and the
showcase scenario; the deploy config is the session's `config` (tests/conftest.py)."""

from __future__ import annotations

import pytest

from venice_ops.sim.distributed import cluster
from venice_ops.sim.scenario import Scenario, load_scenario


@pytest.fixture(scope="session")
def dask_client():
    # Threads, not processes: the same scheduler and serialization path, and it starts at once
    # on a machine shared with other work.
    with cluster(workers=2, processes=False) as client:
        yield client


@pytest.fixture(scope="module")
def showcase() -> Scenario:
    return load_scenario("showcase")
