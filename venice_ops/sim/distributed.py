"""Where the simulator's runs execute: Dask distributed, or this process.

`cluster()` opens a `dask.distributed.Client` on a `LocalCluster` of `workers` processes, or
on an existing scheduler (`tcp://host:8786`); `run_all` maps a function over its arguments on
that client, in order, or in this process when there is none. The functions mapped catch
their own errors and return them as data, so one failing run never loses the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # dask is imported only when a run is distributed
    from distributed import Client

__all__ = ["cluster", "run_all"]

T = TypeVar("T")


@contextmanager
def cluster(
    workers: int = 2, scheduler: str | None = None, processes: bool = True
) -> Iterator[Client]:
    """A Dask client: on `scheduler` when given, else on a new `LocalCluster` of `workers`
    single-threaded workers (processes, or threads with `processes=False`), closed after."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=":0",  # any free port: never "8787 is already in use"
            silence_logs=40,  # logging.ERROR: no chatter about the cluster going up and down
        ) as local,
        Client(local) as client,
    ):
        yield client


def run_all(
    client: Client | None, fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]]
) -> list[T]:
    """`fn(*job)` for each job, in order: on the client's workers, or here without one."""
    if client is None:
        return [fn(*job) for job in jobs]
    if not jobs:
        return []
    # Each argument is scattered once per distinct object (the scenario and config are shared).
    futures = client.map(fn, *zip(*jobs, strict=True), pure=False)
    return list(client.gather(futures))
