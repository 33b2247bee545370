"""The run's report: `sim-out/<scenario>/report.html`, one self-contained page to look at.

The scenario (as YAML), a table of key figures, and interactive plotly charts with dates on the
x axis, the scenario's governance events as markers, Monte Carlo bands when given, a log axis
for the APR (its launch spike flattens a linear one), and a sweep's views (one varied parameter:
lines with bands; two: heatmaps; more: small multiples). plotly's JavaScript is inlined, so the
page needs no network; the div ids are fixed and nothing carries a timestamp, so the same run
gives the same bytes.

The module runs past 500 lines: the daily figures, the sweep's views and the page share its
plotly helpers and style, and splitting them would scatter one page's look over files.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from venice_ops.sim import views
from venice_ops.sim.metrics import WINDOWS, runway_text
from venice_ops.sim.scenario import Scenario

COLORS = {
    "blue": "#1f77b4",
    "orange": "#ff7f0e",
    "green": "#2ca02c",
    "red": "#d62728",
    "purple": "#9467bd",
    "brown": "#8c564b",
    "grey": "#7f7f7f",
    "cyan": "#17becf",
}
KPIS: tuple[tuple[str, str, str], ...] = (
    ("supply", "total supply", "VVV"),
    ("circulating_supply", "circulating supply", "VVV"),
    ("circulating_liquid", "circulating, not staked or cooling", "VVV"),
    ("net_inflation_30d", "net inflation, trailing 30 days", "VVV"),
    ("net_inflation_365d", "net inflation, trailing 365 days", "VVV"),
    ("net_inflation_rate_365d", "net inflation a year, trailing 365 days", ""),
    ("emission_yield_30d", "stakers' emission yield, trailing 30 days", ""),
    ("real_yield_30d", "real yield (buyback burns), trailing 30 days", ""),
    ("burned", "burned, cumulative", "VVV"),
    ("emitted", "emitted, cumulative", "VVV"),
    ("staking_ratio", "staking ratio", ""),
    ("staking_apr", "staking APR", ""),
    ("diem_supply", "DIEM supply", "DIEM"),
    ("treasury_vvv", "treasury", "VVV"),
    ("treasury_usdc", "treasury", "USDC"),
    ("vvv_price", "VVV price", "USDC"),
    ("treasury_value", "treasury value (USDC + VVV sold to the pool)", "USDC"),
    ("treasury_runway_days", "treasury runway at the scenario's spend", "days"),
)
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1200px;
       color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.description { color: #555; max-width: 60rem; }
table.kpi { border-collapse: collapse; margin: 0.5rem 0; }
table.kpi th, table.kpi td { padding: 0.25rem 0.8rem; border-bottom: 1px solid #eee; }
table.kpi td { text-align: right; font-variant-numeric: tabular-nums; }
table.kpi th { text-align: left; font-weight: normal; }
table.kpi thead th { font-weight: bold; text-align: right; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
.chart { margin: 0.5rem 0 1.5rem; }
ul.events { columns: 2; font-size: 0.9rem; }
"""


# --- daily charts ----------------------------------------------------------------------------


def daily_figures(
    data: Sequence[dict[str, Any]] | Any,
    scenario: Scenario | None = None,
    bands: Any = None,
    title: str = "",
) -> list[tuple[str, Any]]:
    """(div id, plotly figure) for each daily chart of a run (rows or the CSV's DataFrame)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    df = views.daily_frame(data, scenario.start if scenario else None)
    bands = views.bands_frame(bands, list(df["day"]))
    marks = views.markers(scenario, len(df))
    dates = [d.strftime("%Y-%m-%d") for d in df["date"]]
    by_day = dict(zip(df["day"], dates, strict=True))
    name = title or (scenario.name if scenario else "run")

    def figure(heading: str, left: str, right: str | None = None) -> Any:
        fig = make_subplots(specs=[[{"secondary_y": right is not None}]])
        fig.update_layout(
            title={"text": f"{name}: {heading}", "x": 0.01},
            height=430,
            margin={"l": 70, "r": 70, "t": 60, "b": 40},
            hovermode="x unified",
            legend={"orientation": "h", "y": -0.12},
            template="plotly_white",
        )
        fig.update_yaxes(title_text=left, secondary_y=False)
        if right is not None:
            fig.update_yaxes(title_text=right, secondary_y=True, showgrid=False, tickmode="auto")
        fig.update_xaxes(type="date")
        return fig

    def line(
        fig: Any,
        metric: str,
        scale: float,
        label: str,
        color: str,
        right: bool = False,
        shape: str = "linear",
        dash: str = "solid",
    ) -> None:
        secondary = {"secondary_y": right} if _has_secondary(fig) else {}
        spread = views.band(bands, metric, scale)
        if spread is not None:
            for low, high, alpha, what in ((5, 95, 0.12, "p5-p95"), (25, 75, 0.25, "p25-p75")):
                fig.add_trace(
                    go.Scatter(
                        x=dates,
                        y=spread[high],
                        mode="lines",
                        line={"width": 0},
                        showlegend=False,
                        hoverinfo="skip",
                        legendgroup=metric,
                    ),
                    **secondary,
                )
                fig.add_trace(
                    go.Scatter(
                        x=dates,
                        y=spread[low],
                        mode="lines",
                        line={"width": 0},
                        fill="tonexty",
                        fillcolor=_rgba(color, alpha),
                        name=f"{label} {what}",
                        legendgroup=metric,
                        hoverinfo="skip",
                    ),
                    **secondary,
                )
        fig.add_trace(
            go.Scatter(
                x=dates,
                y=[float(v) * scale for v in df[metric]],
                mode="lines",
                name=label,
                line={"color": color, "width": 2, "shape": shape, "dash": dash},
                legendgroup=metric,
            ),
            **secondary,
        )

    def events(fig: Any) -> Any:
        for m in marks:
            when = by_day.get(m.day)
            if when is None:
                continue
            fig.add_shape(
                type="line",
                xref="x",
                yref="paper",
                x0=when,
                x1=when,
                y0=0,
                y1=1,
                line={"color": COLORS["grey"], "width": 1, "dash": "dot"},
            )
            fig.add_annotation(
                x=when,
                y=1,
                xref="x",
                yref="paper",
                text=html.escape(_short(m.label)),
                hovertext=html.escape(f"day {m.day}: {m.label}"),
                showarrow=False,
                textangle=-90,
                xanchor="left",
                yanchor="top",
                font={"size": 9, "color": "#555"},
            )
        if marks:  # a legend entry for the markers
            fig.add_trace(
                go.Scatter(
                    x=[dates[0]],
                    y=[None],
                    mode="lines",
                    name="governance event",
                    line={"color": COLORS["grey"], "width": 1, "dash": "dot"},
                    hoverinfo="skip",
                )
            )
        return fig

    out: list[tuple[str, Any]] = []

    fig = figure("supply, burn and emissions", "VVV", "VVV burned / emitted")
    line(fig, "supply", 1, "total supply", COLORS["blue"])
    if "circulating_supply" in df.columns:
        line(fig, "circulating_supply", 1, "circulating supply", COLORS["purple"])
        line(fig, "circulating_liquid", 1, "circulating, not staked", COLORS["brown"])
    line(fig, "burned", 1, "burned (cumulative)", COLORS["red"], right=True)
    line(fig, "emitted", 1, "emitted (cumulative)", COLORS["green"], right=True)
    out.append(("chart-supply", events(fig)))

    fig = figure("staking APR and staking ratio", "staking APR (%, log)", "staked / supply (%)")
    line(fig, "staking_apr", 100, "staking APR", COLORS["purple"])
    if "real_yield_30d" in df.columns:
        line(fig, "emission_yield_30d", 100, "emission yield, 30 d", COLORS["brown"])
        line(fig, "real_yield_30d", 100, "real yield (buyback burns), 30 d", COLORS["orange"])
    line(fig, "staking_ratio", 100, "staked / supply", COLORS["green"], right=True)
    if (df["staking_apr"] > 0).any():
        fig.update_yaxes(type="log", dtick=1, tickformat=",", ticksuffix="%", secondary_y=False)
    out.append(("chart-apr", events(fig)))

    fig = figure("VVV price and revenue", "VVV price (USDC)", "revenue (USD a day)")
    line(fig, "vvv_price", 1, "VVV price (pool)", COLORS["blue"])
    if views.has_market(df):
        line(fig, "market_price", 1, "VVV price (market)", COLORS["cyan"], dash="dash")
    line(fig, "revenue", 1, "revenue", COLORS["orange"], right=True, shape="hv")
    out.append(("chart-price", events(fig)))

    fig = figure("net inflation: emissions against burns", "VVV a day", "VVV emitted - burned")
    emitted, burned, net = views.net_flows(df)
    fig.add_trace(
        go.Bar(x=dates, y=emitted, name="emitted a day", marker_color=COLORS["green"]),
        secondary_y=False,
    )
    fig.add_trace(
        go.Bar(
            x=dates, y=[-b for b in burned], name="burned a day (down)", marker_color=COLORS["red"]
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=dates,
            y=net,
            mode="lines",
            name="emitted - burned since day 0",
            line={"color": "#222", "width": 2},
        ),
        secondary_y=True,
    )
    for days, color in zip(WINDOWS, ("grey", "blue"), strict=True):
        if f"net_inflation_{days}d" in df.columns:
            line(fig, f"net_inflation_{days}d", 1, f"net, trailing {days} d", COLORS[color], True)
    fig.update_layout(barmode="relative", bargap=0.1)
    out.append(("chart-inflation", events(fig)))

    fig = figure("utilization and stakers' share of emissions", "%")
    line(fig, "utilization", 100, "utilization", COLORS["blue"])
    line(fig, "staker_share", 100, "stakers' share of emissions", COLORS["green"])
    fig.update_yaxes(range=[0, 105])
    out.append(("chart-utilization", events(fig)))

    fig = figure("DIEM supply and mint rate", "DIEM", "sVVV locked per DIEM (marginal)")
    line(fig, "diem_supply", 1, "DIEM supply", COLORS["purple"])
    line(fig, "mint_rate", 1, "mint rate", COLORS["brown"], right=True)
    out.append(("chart-diem", events(fig)))

    fig = figure("treasury", "VVV", "USDC")
    line(fig, "treasury_vvv", 1, "treasury VVV", COLORS["blue"])
    line(fig, "treasury_usdc", 1, "treasury USDC", COLORS["orange"], right=True)
    out.append(("chart-treasury", events(fig)))
    return out


def _has_secondary(fig: Any) -> bool:
    return "yaxis2" in fig.layout


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# --- sweeps ----------------------------------------------------------------------------------


def sweep_figures(
    sweep: Any,
    params: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    title: str = "sweep",
) -> list[tuple[str, Any]]:
    """A sweep's views from its tidy DataFrame (one column per varied parameter, `seed`,
    metrics): one parameter gives a line per metric (median over seeds, p5-p95 and p25-p75
    bands); two give a heatmap per metric; more give small multiples of heatmaps, one per
    value of the others. Labels read like 101.9M or 35.2%."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = list(params) if params is not None else views.sweep_params(sweep)
    if not names:
        raise ValueError("the sweep has no varied parameter")
    chosen = list(metrics) if metrics is not None else views.sweep_metrics(sweep, names)
    out: list[tuple[str, Any]] = []
    for metric in chosen:
        table = views.sweep_summary(sweep, names, metric)
        scale = 100.0 if metric in views.FRACTIONS else 1.0
        unit = " (%)" if scale == 100 else ""
        div = f"sweep-{_slug(metric)}"
        if len(names) == 1:
            values = [float(v) for v in table[names[0]]]
            fig = go.Figure()
            if (table["runs"] > 1).any():
                for low, high, alpha in ((5, 95, 0.15), (25, 75, 0.3)):
                    fig.add_trace(
                        go.Scatter(
                            x=values + values[::-1],
                            y=[v * scale for v in table[f"p{high}"]]
                            + [v * scale for v in table[f"p{low}"]][::-1],
                            mode="lines",
                            fill="toself",
                            fillcolor=_rgba(COLORS["blue"], alpha),
                            line={"width": 0},
                            name=f"p{low}-p{high} over seeds",
                            hoverinfo="skip",
                        )
                    )
            fig.add_trace(
                go.Scatter(
                    x=values,
                    y=[v * scale for v in table["p50"]],
                    mode="lines+markers+text",
                    text=[views.label(metric, v) for v in table["p50"]],
                    textposition="top left",
                    name=f"{metric} (median)",
                    line={"color": COLORS["blue"]},
                )
            )
            fig.update_layout(
                xaxis_title=names[0],
                yaxis_title=metric + unit,
                title={"text": f"{title}: final {metric} by {names[0]}", "x": 0.01},
                height=420,
                template="plotly_white",
            )
        else:
            x, y, rest = names[0], names[1], names[2:]
            panels, cols, rows = views.sweep_panels(table, rest)
            subtitles = [
                ", ".join(f"{n}={views.si(float(v))}" for n, v in zip(rest, key, strict=True))
                for key, _ in panels
            ]
            fig = make_subplots(
                rows=rows,
                cols=cols,
                subplot_titles=subtitles if rest else None,
                horizontal_spacing=0.08,
                vertical_spacing=0.15 if rows > 1 else 0.1,
            )
            zmin, zmax = float(table["p50"].min()), float(table["p50"].max())
            for i, (_key, part) in enumerate(panels):
                xs = sorted(part[x].unique())
                ys = sorted(part[y].unique())
                z: list[list[float | None]] = [[None] * len(xs) for _ in ys]
                text = [[""] * len(xs) for _ in ys]
                for _, r in part.iterrows():
                    row, col = ys.index(r[y]), xs.index(r[x])
                    z[row][col] = float(r["p50"])
                    text[row][col] = views.label(metric, float(r["p50"]))
                fig.add_trace(
                    go.Heatmap(
                        z=z,
                        x=[views.si(float(v)) for v in xs],
                        y=[views.si(float(v)) for v in ys],
                        text=text,
                        texttemplate="%{text}",
                        hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{metric}=%{{text}}"
                        "<extra></extra>",
                        coloraxis="coloraxis",
                    ),
                    row=i // cols + 1,
                    col=i % cols + 1,
                )
                fig.update_xaxes(title_text=x, type="category", row=i // cols + 1, col=i % cols + 1)
                fig.update_yaxes(title_text=y, type="category", row=i // cols + 1, col=i % cols + 1)
            fig.update_layout(
                coloraxis={
                    "colorscale": "Viridis",
                    "cmin": zmin,
                    "cmax": zmax if zmax > zmin else zmin + 1,
                    "colorbar": {
                        "title": {"text": metric},
                        "tickformat": ".1%" if scale == 100 else "~s",
                    },
                },
                title={"text": f"{title}: final {metric} (median over seeds)", "x": 0.01},
                height=max(420, 360 * rows),
                template="plotly_white",
            )
        out.append((div, fig))
    return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


# --- the page --------------------------------------------------------------------------------


def kpi_table(data: Sequence[dict[str, Any]] | Any, bands: Any = None) -> str:
    """Day 0 and the last day of the key figures (with the last day's p5-p95 when given)."""
    df = views.daily_frame(data)
    bands = views.bands_frame(bands, list(df["day"]))
    first, last = df.iloc[0], df.iloc[-1]
    spread_head = "<th>last day p5 - p95</th>" if bands is not None else ""
    head = (
        f"<thead><tr><th></th><th>{_date(first)} (day 0)</th>"
        f"<th>{_date(last)} (day {int(last['day'])})</th>{spread_head}</tr></thead>"
    )
    body = []
    for metric, what, unit in KPIS:
        if metric not in df.columns:
            continue
        cells = [_kpi(metric, first[metric], unit), _kpi(metric, last[metric], unit)]
        if bands is not None:
            spread = views.band(bands, metric)
            cells.append(
                f"{_kpi(metric, spread[5][-1], unit)} - {_kpi(metric, spread[95][-1], unit)}"
                if spread is not None
                else ""
            )
        label = f"{what} ({unit})" if unit else what
        body.append(
            f"<tr><th>{html.escape(label)}</th>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            + "</tr>"
        )
    return f'<table class="kpi">{head}<tbody>{"".join(body)}</tbody></table>'


def _date(row: Any) -> str:
    return str(row["date"].strftime("%Y-%m-%d"))


def _kpi(metric: str, amount: Any, unit: str) -> str:
    value = float(amount)
    if unit == "days":
        return runway_text(value)
    if metric in views.FRACTIONS:
        return f"{value:.2%}"
    if metric == "vvv_price":
        return f"{value:,.4f}"
    if unit == "DIEM":
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def scenario_yaml(scenario: Scenario) -> str:
    """The scenario as YAML (the fields it sets, in the model's order)."""
    data = _whole(scenario.model_dump(mode="json", exclude_defaults=True))
    if isinstance(data.get("description"), str):
        data["description"] = " ".join(data["description"].split())
    text = yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, width=96, default_flow_style=None
    )
    return str(text)


def _whole(value: Any) -> Any:
    """5000.0 -> 5000, through lists and mappings (the YAML as a person writes it)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def render(
    data: Sequence[dict[str, Any]] | Any,
    scenario: Scenario | None = None,
    bands: Any = None,
    sweep: Any = None,
    sweep_params: Sequence[str] | None = None,
    title: str | None = None,
) -> str:
    """The report's HTML: one page, plotly's JavaScript inlined once, fixed div ids."""
    name = title or (scenario.name if scenario else "simulation")
    figures = daily_figures(data, scenario, bands, name) if data is not None else []
    sweeps = sweep_figures(sweep, sweep_params, title=name) if sweep is not None else []
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(name)}: simulation report</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(name)}</h1>",
    ]
    if scenario is not None:
        start = scenario.start.isoformat() if scenario.start else "the default start"
        parts.append(
            f'<p class="description">{html.escape(scenario.description.strip())}</p>'
            f"<p>{scenario.days} days from {html.escape(start)}, seed {scenario.seed}, "
            f"{scenario.agent_count:,} agents.</p>"
        )
    if data is not None:
        parts += ["<h2>Key figures</h2>", kpi_table(data, bands)]
    if scenario is not None:
        parts += _history(data, scenario)
    marks = views.markers(scenario)
    if marks and scenario is not None:
        parts.append("<h2>Events</h2><ul class='events'>")
        parts += [f"<li>day {m.day}: {html.escape(m.label)}</li>" for m in marks]
        parts.append("</ul>")
    include_js = True  # plotly's JavaScript, inlined with the first chart
    for heading, group in (("Charts", figures), ("Sweep", sweeps)):
        if group:
            parts.append(f"<h2>{heading}</h2>")
        for div, fig in group:
            snippet = fig.to_html(
                full_html=False,
                include_plotlyjs=include_js,
                div_id=div,
                config={"displaylogo": False, "responsive": True},
            )
            include_js = False
            parts.append(f'<div class="chart">{snippet}</div>')
    if scenario is not None:
        parts += [
            "<h2>Scenario</h2>",
            f"<pre>{html.escape(scenario_yaml(scenario))}</pre>",
        ]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _history(data: Any, scenario: Scenario) -> list[str]:
    """The scenario's assumptions, and its checkpoints beside the run (the history's)."""
    parts: list[str] = []
    if scenario.assumptions:
        parts.append("<h2>Assumptions</h2><ul class='assumptions'>")
        parts += [f"<li>{html.escape(text)}</li>" for text in scenario.assumptions]
        parts.append("</ul>")
    rows = views.checkpoints(data, scenario) if data is not None else []
    if rows:
        head = "".join(f"<th>{h}</th>" for h in ("date", "what", "quoted", "simulated"))
        parts.append(f"<h2>Beside the quoted figures</h2><table class='kpi'><thead><tr>{head}")
        parts.append("</tr></thead><tbody>")
        for cells in rows:
            tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            parts.append(f"<tr>{tds}</tr>")
        parts.append("</tbody></table>")
    return parts


def write_report(
    data: Sequence[dict[str, Any]] | Any,
    path: Path,
    scenario: Scenario | None = None,
    bands: Any = None,
    sweep: Any = None,
    sweep_params: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Write `render(...)` to `path` (e.g. sim-out/<scenario>/report.html)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data, scenario, bands, sweep, sweep_params, title), encoding="utf-8")
    return path


def write_sweep_report(
    sweep: Any, path: Path, title: str, params: Sequence[str] | None = None
) -> Path:
    """A page of a sweep's views alone (the tidy sweep DataFrame)."""
    return write_report(None, path, sweep=sweep, sweep_params=params, title=title)
