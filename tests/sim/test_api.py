"""The Python API: `from venice_ops.sim import Scenario, simulate` -> a pandas DataFrame."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from venice_ops.sim import Scenario, ScenarioError, simulate


def test_simulate_returns_a_frame_with_units_in_the_names(showcase):
    df = simulate(showcase)
    assert len(df) == showcase.days
    assert list(df.columns[:5]) == ["run", "seed", "day", "date", "supply_vvv"]
    for column in ("burned_vvv", "treasury_usdc", "vvv_price_usd", "diem_supply_diem"):
        assert column in df.columns
    assert df["date"].iloc[0] == pd.Timestamp("2025-01-27")
    assert pd.api.types.is_datetime64_any_dtype(df["date"])
    assert (df["seed"] == showcase.seed).all() and (df["run"] == 0).all()
    assert 100e6 < df["supply_vvv"].iloc[-1] < 110e6
    assert df.attrs["refused_events"] == []


def test_runs_are_seeds_in_a_row_and_exact_amounts_are_decimals(showcase, dask_client):
    df = simulate(showcase, runs=3, client=dask_client, exact=True)
    assert sorted(df["seed"].unique()) == [7, 8, 9]
    assert sorted(df["run"].unique()) == [0, 1, 2]
    supply = df["supply_vvv"].iloc[-1]
    assert isinstance(supply, Decimal) and supply == supply.quantize(Decimal(10) ** -18)
    # the same numbers as the float frame, run by run
    floats = simulate(showcase, runs=3)
    assert float(supply) == pytest.approx(floats["supply_vvv"].iloc[-1])
    spread = df[df["day"] == df["day"].max()].groupby("seed")["diem_supply_diem"].first()
    assert spread.nunique() > 1


def test_with_varies_a_field_by_its_path(showcase):
    richer = showcase.with_({"market.revenue": 80_000, "agents.0.count": 1}, days=25)
    assert richer.market.revenue == 80_000 and richer.agents[0].count == 1 and richer.days == 25
    assert showcase.with_(market__buyback_share=0.3).market.buyback_share == 0.3
    with pytest.raises(ScenarioError, match=r"market\.buyback_share=1\.5: .*outside \[0, 1\]"):
        showcase.with_({"market.buyback_share": 1.5})
    with pytest.raises(ScenarioError, match="past the last day"):
        showcase.with_(days=10).with_({"events.0.day": 12})


def test_from_dict_runs_the_file_checks():
    data = {
        "name": "d",
        "days": 5,
        "agents": [{"kind": "staker", "count": 1, "behaviour": "hold", "wealth": "1e6"}],
        "utilization": 70,
    }
    with pytest.raises(ScenarioError, match=r"utilization: 70 is outside .*0\.7 for 70%"):
        Scenario.from_dict(data)
    data["utilization"] = 0.7
    scenario = Scenario.from_dict(data)
    assert scenario.agents[0].wealth.fixed == 1e6
    assert len(simulate(scenario)) == 5
