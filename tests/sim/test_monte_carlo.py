"""Monte Carlo: seeds s..s+N-1, per-day percentile bands in a CSV and the summary, on Dask;
one run stays exactly as it was."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from scripts.simulate import cli
from venice_ops.sim.montecarlo import (
    NUMERIC,
    PERCENTILES,
    bands,
    bands_table,
    percentile,
    run_seeds,
    write_bands,
)
from venice_ops.sim.runner import execute_model


@pytest.fixture(scope="module")
def three(showcase, config, dask_client):
    return run_seeds(showcase, config, runs=3, client=dask_client)


def test_seeds_differ_and_the_spread_is_reported(three, showcase):
    """The issue: seeds 1-3 of the showcase give different APRs and DIEM supplies, and a run
    reports one number. Now each run is kept and the bands span them."""
    assert [o.seed for o in three] == [showcase.seed, showcase.seed + 1, showcase.seed + 2]
    assert all(not o.error for o in three)
    finals = {o.rows[-1]["diem_supply"] for o in three}
    assert len(finals) > 1  # the seeds differ
    last = bands(three)[-1]
    assert last["runs"] == 3
    for column in NUMERIC:
        values = [last[f"{column}_p{p}"] for p in PERCENTILES]
        assert values == sorted(values), column
    assert last["diem_supply_p5"] == min(finals) and last["diem_supply_p95"] == max(finals)


def test_dask_gives_the_same_runs_as_one_process(three, showcase, config):
    here = run_seeds(showcase, config, runs=3)
    assert [o.rows for o in here] == [o.rows for o in three]


def test_bands_csv_has_every_numeric_column_and_percentile(three, tmp_path, showcase):
    path = write_bands(three, tmp_path / "showcase-bands.csv")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == showcase.days
    assert list(rows[0])[:3] == ["day", "date", "runs"]
    assert {f"{c}_p{p}" for c in NUMERIC for p in PERCENTILES} <= set(rows[0])
    assert rows[0]["date"] == "2025-01-27"
    table = bands_table(three, 1.0)
    assert table.columns[1].header == "median" and table.columns[2].header == "5% - 95%"


def test_percentile_is_a_value_of_the_runs():
    assert percentile([1, 2, 3], 50) == 2
    assert percentile([1, 2, 3], 5) == 1 and percentile([1, 2, 3], 95) == 3
    assert percentile([10**30, 10**30 + 1], 50) in (10**30, 10**30 + 1)  # exact integers


def test_one_run_writes_the_same_files_as_before(tmp_path, showcase, config):
    """`--runs 1` is today's run: the same CSV and charts, byte for byte; `--runs 3` adds the
    bands and keeps seed s's CSV identical."""
    before = execute_model(showcase, config, out=tmp_path / "before", progress=False)
    runner = CliRunner()
    one = runner.invoke(cli, ["run", "showcase", "--out", str(tmp_path / "one")])
    assert one.exit_code == 0, one.output
    for path in before.files:
        again = tmp_path / "one" / path.relative_to(tmp_path / "before")
        assert again.read_bytes() == path.read_bytes(), path.name
    assert not (tmp_path / "one" / "showcase-bands.csv").exists()

    many = runner.invoke(
        cli, ["run", "showcase", "--runs", "3", "--workers", "2", "--out", str(tmp_path / "mc")]
    )
    assert many.exit_code == 0, many.output
    assert (tmp_path / "mc" / "showcase.csv").read_bytes() == before.files[0].read_bytes()
    assert (tmp_path / "mc" / "showcase-bands.csv").exists()
    assert "median" in many.output and "5% - 95%" in many.output


def test_runs_above_one_need_the_model_backend():
    result = CliRunner().invoke(cli, ["run", "showcase", "--runs", "2", "--backend", "chain"])
    assert result.exit_code != 0 and "needs the model backend" in result.output


def test_an_existing_scheduler_is_used(dask_client, tmp_path):
    """`--scheduler ADDRESS` sends the runs to a cluster already running (here the tests')."""
    address = dask_client.scheduler.address
    result = CliRunner().invoke(
        cli,
        ["run", "showcase", "--runs", "2", "--scheduler", address, "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert f"on Dask: {address}" in result.output
    with (tmp_path / "showcase-runs.csv").open() as f:
        assert {row["seed"] for row in csv.DictReader(f)} == {"7", "8"}
