"""The run's report (sim-out/<scenario>/report.html) looked at in headless Chromium, the PNG
charts, Monte Carlo bands and a sweep's views."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.support.browser import Browser, PageLog, chromium_path
from venice_ops.sim import views
from venice_ops.sim.outputs import _ink, sweep_chart, write_charts
from venice_ops.sim.report import render, write_report, write_sweep_report
from venice_ops.sim.runner import execute_model

PNG = b"\x89PNG\r\n\x1a\n"
DAILY_CHARTS = {
    "chart-supply",
    "chart-apr",
    "chart-price",
    "chart-inflation",
    "chart-utilization",
    "chart-diem",
    "chart-treasury",
}
RENDERED = """(() => {
  const divs = [...document.querySelectorAll('div.plotly-graph-div')];
  if (!divs.length || !divs.every(d => d.querySelector('svg.main-svg'))) return null;
  return Object.fromEntries(divs.map(d => [d.id, d.querySelectorAll('svg.main-svg').length]));
})()"""


@pytest.fixture(scope="module")
def runs(showcase, config):
    """The showcase on the model, seeds 7, 8, 9 (rows of each)."""
    return [
        execute_model(showcase.with_overrides(seed=s), config, progress=False).run.rows
        for s in (7, 8, 9)
    ]


@pytest.fixture(scope="module")
def bands(runs):
    """Per-day percentiles of the three runs, as a Monte Carlo run gives them."""
    frames = [views.daily_frame(rows) for rows in runs]
    numeric = [c for c in frames[0].columns if c not in ("day", "date")]
    stacked = pd.concat(frames)
    out = {"day": sorted(frames[0]["day"])}
    for column in numeric:
        by_day = stacked.groupby("day")[column]
        for p in views.PERCENTILES:
            out[f"{column}_p{p}"] = list(by_day.quantile(p / 100))
    return pd.DataFrame(out)


def _sweep(params: int, seeds: int = 3) -> pd.DataFrame:
    """A tidy sweep: one column per varied path, seed, metrics (whole tokens, fractions)."""
    rows = []
    grid = [[6e6, 10e6, 14e6], [2, 4], [0.1, 0.3]][:params]
    points: list[list[float]] = [[]]
    for values in grid:
        points = [[*p, v] for p in points for v in values]
    names = ["events.0.annual_rate", "pro_burn", "market.buyback_share"][:params]
    for point in points:
        for seed in range(seeds):
            rate = point[0]
            rows.append(
                {
                    **dict(zip(names, point, strict=True)),
                    "seed": seed,
                    "supply": 100e6 + rate / 10 + seed * 1e5 - sum(point[1:]) * 1e5,
                    "staking_apr": rate / 40e6 + seed / 100,
                }
            )
    return pd.DataFrame(rows)


def test_report_renders_in_headless_chromium(tmp_path, showcase, config, bands):
    """Every chart draws, the console stays quiet and the page asks for nothing online."""
    if chromium_path() is None:
        pytest.skip(
            "chromium is not installed: run scripts/ensure_chromium.sh (`make setup` does) "
            "or install Debian's chromium package"
        )
    result = execute_model(showcase, config, out=tmp_path, progress=False)
    report = tmp_path / "showcase" / "report.html"
    assert report in result.files
    with_bands = write_report(
        result.run.rows, tmp_path / "bands" / "report.html", showcase, bands=bands
    )
    sweeps = write_sweep_report(_sweep(2), tmp_path / "sweep" / "report.html", "showcase")
    with Browser() as browser:
        for page, expected in (
            (report, DAILY_CHARTS),
            (with_bands, DAILY_CHARTS),
            (sweeps, {"sweep-supply", "sweep-staking-apr"}),
        ):
            browser.log = PageLog()
            browser.open(page.as_uri())
            rendered = browser.wait_for(RENDERED)
            shot = browser.screenshot(page.with_suffix(".png"))
            browser.pump(0.5)
            assert rendered, f"{page}: a chart did not render"
            assert set(rendered) == expected
            data = shot.read_bytes()
            assert data[:8] == PNG and len(data) > 20_000, page
            assert browser.log.errors == [], browser.log.errors
            online = [u for u in browser.log.requests if not u.startswith(("file:", "data:"))]
            assert online == [], online


def test_report_is_one_self_contained_page(tmp_path, showcase, config):
    execute_model(showcase, config, out=tmp_path, progress=False)
    text = (tmp_path / "showcase" / "report.html").read_text()
    assert text.count("<html") == 1
    assert not re.search(r"<script[^>]+src=", text)  # plotly.js is inlined
    assert text.count("Plotly.newPlot") == len(DAILY_CHARTS)
    # The scenario, the key figures and the events are on the page, with dates on the axes.
    assert "<h2>Scenario</h2>" in text and "name: showcase" in text
    for figure in ("total supply (VVV)", "staking APR", "DIEM supply (DIEM)", "treasury (USDC)"):
        assert figure in text
    assert "day 12: emission cut: emissions 10M VVV/yr" in text
    assert "day 11: airdrop rest burned" in text
    assert "split retired" in text
    assert '"2025-01-27"' in text or "2025-01-27" in text
    assert '"type":"log"' in text  # the APR axis
    # Same run, same bytes: fixed div ids, no timestamp.
    again = execute_model(showcase, config, out=tmp_path / "again", progress=False)
    assert (tmp_path / "again" / "showcase" / "report.html").read_bytes() == text.encode()
    assert again.files[-1].name == "report.html"


def test_markers_name_each_event_day(showcase):
    marks = {m.day: m.label for m in views.markers(showcase)}
    assert marks == {
        11: "airdrop rest burned",
        12: "emission cut: emissions 10M VVV/yr",
        20: "split retired; mint curve (target 40k)",
    }
    shorter = showcase.with_overrides(days=15)
    assert [m.day for m in views.markers(shorter)] == [11, 12]


def test_png_charts_dated_with_bands_and_the_curve_in_range(tmp_path, showcase, runs, bands):
    paths = write_charts(runs[0], tmp_path, "showcase", scenario=showcase, bands=bands)
    assert [p.name for p in paths] == [
        "supply_and_burn.png",
        "apr_and_staking.png",
        "diem_curve.png",
        "treasury.png",
        "price_and_revenue.png",
        "net_inflation.png",
        "utilization_and_share.png",
    ]
    for path in paths:
        assert path.read_bytes()[:8] == PNG
    again = write_charts(runs[0], tmp_path / "again", "showcase", scenario=showcase, bands=bands)
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    # The CSV's DataFrame draws the same charts as the rows.
    frame = views.daily_frame(runs[0])
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    from_frame = write_charts(frame, tmp_path / "frame", "showcase", scenario=showcase)
    from_rows = write_charts(runs[0], tmp_path / "rows", "showcase", scenario=showcase)
    assert [p.read_bytes() for p in from_frame] == [p.read_bytes() for p in from_rows]


def test_labels_read_like_people_write_them():
    assert views.si(101_900_000) == "101.9M"
    assert views.si(4_972.3) == "4.972k"
    assert views.si(2.5e9) == "2.5B"
    assert views.label("staking_apr", 0.3512) == "35.1%"
    assert views.label("supply", 1.019e8) == "101.9M"
    # Black on viridis' yellow end, white on its purple end.
    import matplotlib

    viridis = matplotlib.colormaps["viridis"]
    assert _ink(viridis(1.0)) == "black" and _ink(viridis(0.0)) == "white"
    assert views.spiky([1000, 1, 1, 1, 1]) and not views.spiky([3, 2, 2, 2])


@pytest.mark.parametrize("params", [1, 2, 3])
def test_sweep_views_for_one_two_and_more_parameters(tmp_path, params):
    sweep = _sweep(params)
    assert views.sweep_params(sweep) == list(sweep.columns[:params])
    png = sweep_chart(sweep, tmp_path / "sweep.png", "supply")
    assert png.read_bytes()[:8] == PNG
    page = render(None, sweep=sweep, title="t")
    assert page.count("Plotly.newPlot") == 2  # supply and staking_apr
    if params == 1:
        assert '"p5-p95 over seeds"' in page and '"101.1M"' in page
    else:
        assert '"texttemplate":"%{text}"' in page and '"100.9M"' in page
    if params == 3:
        assert "market.buyback_share=0.1" in page and "market.buyback_share=0.3" in page
    summary = views.sweep_summary(sweep, views.sweep_params(sweep), "supply")
    assert set(summary["runs"]) == {3}


def test_todays_sweep_rows_draw_as_a_tidy_frame(tmp_path, config):
    """sweep.sweep's rows (base units) become the tidy frame the views take."""
    from venice_ops.sim.scenario import parse_scenario
    from venice_ops.sim.sweep import parse_values, sweep

    small = parse_scenario(
        "name: small\ndays: 10\nagents:\n  - {kind: staker, count: 3, behaviour: compound, "
        "wealth: 50000}\n"
    )
    grid = dict([parse_values("annual_rate=2e6,14e6"), parse_values("pro_burn=2,10")])
    frame = views.sweep_frame(sweep(small, config, grid), list(grid))
    assert list(frame.columns[:3]) == ["annual_rate", "pro_burn", "seed"]
    assert 100e6 < frame["supply"].min() < 101e6
    png = sweep_chart(frame, tmp_path / "sweep.png", "supply")
    assert png.read_bytes()[:8] == PNG
    assert "M" in render(None, sweep=frame, title="small")


def test_sweep_names_a_missing_column():
    with pytest.raises(ValueError, match="no column 'colour'"):
        views.sweep_summary(_sweep(1), ["colour"], "supply")
