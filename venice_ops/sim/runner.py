"""Running a scenario end to end: the backend, a progress bar, the files."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from venice_ops.deploy.config import DeployConfig
from venice_ops.sim.backend import Backend
from venice_ops.sim.engine import DAY, DEFAULT_START, Engine, Run, model_backend
from venice_ops.sim.outputs import write_charts, write_csv
from venice_ops.sim.report import write_report
from venice_ops.sim.scenario import Scenario

if TYPE_CHECKING:  # ape is imported only when a chain run starts
    from venice_ops.sim.chain_backend import ChainBackend

OUT = Path("sim-out")


@dataclass
class Result:
    run: Run
    elapsed: float  # seconds for the days (setup excluded)
    setup: float
    files: list[Path]

    @property
    def tx_per_second(self) -> float:
        return self.run.backend.transactions / self.elapsed if self.elapsed else 0.0


def deploy_time(scenario: Scenario) -> int:
    """When a run deploys: the evening before the scenario's day 0 (its `start:`, 00:00 UTC),
    as the model backend has it."""
    start = scenario.start or DEFAULT_START
    return int(dt.datetime.combine(start, dt.time(), dt.UTC).timestamp()) - DAY // 2


def chain_backend(
    config: DeployConfig,
    deployer: Any,
    overrides: dict[str, str] | None = None,
    scenario: Scenario | None = None,
    kind: str = "chain",
) -> ChainBackend:
    """Deploy the suite on the connected (local) network and wrap it as a backend: `chain`
    (every action a transaction on the node) or `revm` (the run in-process on the node's
    state after setup). With a `scenario`, the node's clock is first set to its
    `deploy_time`, every deploy transaction in that second, so the run is dated from the
    scenario's `start:` and starts where the model backend starts."""
    from venice_ops.deploy.suite import deploy_suite
    from venice_ops.rpc import frozen_clock
    from venice_ops.sim.chain_backend import ChainBackend
    from venice_ops.sim.revm_backend import RevmBackend

    if kind not in ("chain", "revm"):
        raise ValueError(f"no {kind!r} backend on a node: chain or revm")
    roles = overrides or {"treasury": "test:1", "oracle": "test:2"}
    if scenario is None:
        suite = deploy_suite(deployer, config, roles)
    else:
        with frozen_clock(deploy_time(scenario)):
            suite = deploy_suite(deployer, config, roles)
    cls = RevmBackend if kind == "revm" else ChainBackend
    return cls(suite, config, deployer)


def execute(
    scenario: Scenario,
    backend: Backend,
    config: DeployConfig,
    out: Path | None = None,
    console: Console | None = None,
    progress: bool = True,
) -> Result:
    """Set up and run `scenario` on `backend`; write the CSV, charts and report under `out`."""
    console = console or Console()
    started = time.perf_counter()
    engine = Engine(scenario, backend, config)
    run = engine.setup()
    setup = time.perf_counter() - started
    started = time.perf_counter()
    with Progress(
        TextColumn(f"[bold]{scenario.name}[/bold] on the {backend.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
        transient=False,
    ) as bar:
        task = bar.add_task("days", total=scenario.days, info="")

        def on_day(day: int, row: dict[str, Any]) -> None:
            info = f"{row['date']}  {row['transactions']:,} tx"
            bar.update(task, advance=1, info=info)

        engine.run(run, on_day)
    elapsed = time.perf_counter() - started
    files: list[Path] = []
    if out is not None:
        files.append(write_csv(run.rows, out / f"{scenario.name}.csv"))
        charts = out / f"{scenario.name}-charts"
        files.extend(write_charts(run.rows, charts, scenario.name, scenario=scenario))
        files.append(write_report(run.rows, out / scenario.name / "report.html", scenario))
    return Result(run=run, elapsed=elapsed, setup=setup, files=files)


def execute_model(scenario: Scenario, config: DeployConfig, **kwargs: Any) -> Result:
    return execute(scenario, model_backend(scenario, config), config, **kwargs)
