"""The simulator tests' Dask cluster: a LocalCluster of 2 workers, once per session."""

from __future__ import annotations

import pytest

from venice_ops.sim.distributed import cluster


@pytest.fixture(scope="session")
def dask_client():
    # Threads, not processes: the same scheduler and serialization path, and it starts at once
    # on a machine shared with other work.
    with cluster(workers=2, processes=False) as client:
        yield client
