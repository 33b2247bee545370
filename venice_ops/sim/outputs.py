"""What a run leaves behind: the daily CSV, the PNG charts and a summary table (the HTML
report is `report.py`).

Token amounts in the CSV are exact decimal strings of whole tokens (VVV, DIEM 18 decimals;
USDC 6); shares and rates are fractions. The same scenario and seed give byte-identical files:
the charts carry no timestamp (matplotlib's metadata is pinned).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from venice_ops.sim.metrics import COLUMNS as DERIVED
from venice_ops.sim.metrics import runway_text
from venice_sdk.units import format_units

if TYPE_CHECKING:
    from venice_ops.sim.scenario import Scenario

# column -> decimals of its token (None: a plain number)
COLUMNS: dict[str, int | None] = {
    "day": None,
    "date": None,
    "supply": 18,
    "burned": 18,
    "emitted": 18,
    "staked": 18,
    "locked": 18,
    "staking_ratio": None,
    "staking_apr": None,
    "annual_rate": 18,
    "staker_share": None,
    "diem_supply": 18,
    "mint_rate": 18,
    "diem_credit": 18,
    "api_credit": 18,
    "treasury_vvv": 18,
    "treasury_usdc": 6,
    "utilization": None,
    "revenue": 6,
    "subscribers": None,
    "buyback_burned": 18,
    "vvv_price": None,
    "market_price": None,  # USD per VVV the arbitrage trades toward (0: no market)
    "transactions": None,
    **DERIVED,  # circulating supply, net inflation, real yield, runway (metrics.py)
}


def exact(amount: int, decimals: int) -> str:
    """Base units as an exact decimal string of whole tokens (no separators, no rounding)."""
    whole, frac = divmod(abs(amount), 10**decimals)
    sign = "-" if amount < 0 else ""
    return sign + f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".")


def cell(value: Any, decimals: int | None) -> str:
    if decimals is not None:
        return exact(int(value), decimals)
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(cell(row[c], d) for c, d in COLUMNS.items())
    return path


def write_charts(
    rows: Sequence[dict[str, Any]] | Any,
    directory: Path,
    title: str,
    scenario: Scenario | None = None,
    bands: Any = None,
) -> list[Path]:
    """The run's PNG charts, dated, with a legend, the scenario's events and, when given,
    Monte Carlo bands (a DataFrame of `<metric>_p5` .. `_p95` per day, see `views.py`).

    `rows` is the engine's daily rows or a DataFrame with the CSV's columns. Files:
    supply_and_burn.png, apr_and_staking.png, diem_curve.png, treasury.png,
    price_and_revenue.png, net_inflation.png, utilization_and_share.png.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FuncFormatter

    from venice_ops.sim import views

    mdates: Any = matplotlib.dates  # its helpers carry no annotations
    start = scenario.start if scenario is not None else None
    df = views.daily_frame(rows, start)
    bands = views.bands_frame(bands, list(df["day"]))
    marks = views.markers(scenario, len(df))
    dates = [d.to_pydatetime() for d in df["date"]]
    by_day = dict(zip(df["day"], dates, strict=True))

    directory.mkdir(parents=True, exist_ok=True)
    meta = {"Software": None}  # no version or date in the file: same run, same bytes
    paths: list[Path] = []

    def figure() -> tuple[Any, Any]:
        fig, ax = plt.subplots(figsize=(10, 4.8))
        locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.grid(True, color="0.9", linewidth=0.6)
        return fig, ax

    def line(
        ax: Any, metric: str, scale: float, name: str, color: str, log: bool = False, **kw: Any
    ) -> None:
        values = [float(v) * scale for v in df[metric]]
        if log:  # a log axis has no room for zero: leave those days out
            values = [v if v > 0 else float("nan") for v in values]
        ax.plot(dates, values, color=color, label=name, **kw)
        spread = views.band(bands, metric, scale)
        if spread is not None:
            if log:
                spread = {p: [v if v > 0 else float("nan") for v in vs] for p, vs in spread.items()}
            ax.fill_between(dates, spread[5], spread[95], color=color, alpha=0.12, linewidth=0)
            ax.fill_between(dates, spread[25], spread[75], color=color, alpha=0.25, linewidth=0)

    def save(fig: Any, ax: Any, name: str, heading: str, *others: Any) -> None:
        for day in (m.day for m in marks):
            when = by_day.get(day)
            if when is not None:
                ax.axvline(when, color="0.45", linestyle=":", linewidth=1)
        for m in marks:
            when = by_day.get(m.day)
            if when is not None:
                ax.annotate(
                    _short(m.label),
                    (mdates.date2num(when), 1.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(2, -4),
                    textcoords="offset points",
                    rotation=90,
                    ha="left",
                    va="top",
                    fontsize=7,
                    color="0.3",
                )
        handles, labels = ax.get_legend_handles_labels()
        for other in others:
            h, lab = other.get_legend_handles_labels()
            handles, labels = handles + h, labels + lab
        if bands is not None and any(views.band(bands, c) for c in df.columns):
            handles.append(Rectangle((0, 0), 1, 1, color="0.5", alpha=0.3))
            labels.append("Monte Carlo p5-p95 / p25-p75")
        if marks:
            handles.append(Line2D([], [], color="0.45", linestyle=":", linewidth=1))
            labels.append("governance event")
        ax.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.1),
            ncol=min(4, len(handles)),
            fontsize=8,
            frameon=False,
        )
        ax.set_title(f"{title}: {heading}")
        fig.tight_layout()
        path = directory / name
        fig.savefig(path, dpi=100, metadata=meta)
        plt.close(fig)
        paths.append(path)

    fig, ax = figure()
    line(ax, "supply", 1e-6, "total supply", "tab:blue")
    if "circulating_supply" in df.columns:
        line(ax, "circulating_supply", 1e-6, "circulating supply", "tab:cyan", linestyle="--")
        line(ax, "circulating_liquid", 1e-6, "circulating, not staked", "tab:olive")
    ax.set_ylabel("VVV supply (millions)", color="tab:blue")
    ax2 = ax.twinx()
    line(ax2, "burned", 1e-6, "burned (cumulative)", "tab:red")
    line(ax2, "emitted", 1e-6, "emitted (cumulative)", "tab:green")
    ax2.set_ylabel("VVV burned / emitted (millions)")
    save(fig, ax, "supply_and_burn.png", "supply, burn and emissions", ax2)

    fig, ax = figure()
    line(ax, "staking_apr", 100, "staking APR (log scale)", "tab:purple", log=True)
    if "real_yield_30d" in df.columns:
        line(ax, "emission_yield_30d", 100, "emission yield, 30 d", "tab:pink", log=True)
        line(ax, "real_yield_30d", 100, "real yield (buyback burns), 30 d", "tab:brown", log=True)
    if any(v > 0 for v in df["staking_apr"]):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(_percent))
    ax.set_ylabel("staking APR (%, log scale)", color="tab:purple")
    ax2 = ax.twinx()
    line(ax2, "staking_ratio", 100, "staked / supply", "tab:green")
    ax2.set_ylabel("staked / supply (%)", color="tab:green")
    save(fig, ax, "apr_and_staking.png", "APR and staking ratio", ax2)

    fig, ax = plt.subplots(figsize=(10, 4.8))
    ax.grid(True, color="0.9", linewidth=0.6)
    supply = [float(v) for v in df["diem_supply"]]
    top = max(supply, default=0.0) * 1.25 or 1_000.0  # the range the run reaches
    grid = [top * i / 200 for i in range(201)]
    shades = ["0.55", "tab:orange", "tab:brown", "tab:pink"]
    for i, (name, rates) in enumerate(_curves(scenario, by_day)):
        color = shades[min(i, len(shades) - 1)]
        ax.plot(grid, [rates(s) for s in grid], color=color, linestyle="--", label=name)
    points = ax.scatter(
        supply,
        [float(v) for v in df["mint_rate"]],
        c=[mdates.date2num(d) for d in dates],
        cmap="viridis",
        s=14,
        label="the run (colour: date)",
        zorder=3,
    )
    bar = fig.colorbar(points, ax=ax, pad=0.01)
    ticks = mdates.AutoDateLocator(minticks=3, maxticks=8)
    bar.ax.yaxis.set_major_locator(ticks)
    bar.ax.yaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    ax.set_xlim(0, top)
    ax.set_xlabel("DIEM supply")
    ax.set_ylabel("sVVV locked per DIEM minted (marginal)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{title}: DIEM supply on the mint curve")
    fig.tight_layout()
    path = directory / "diem_curve.png"
    fig.savefig(path, dpi=100, metadata=meta)
    plt.close(fig)
    paths.append(path)

    fig, ax = figure()
    line(ax, "treasury_vvv", 1e-6, "treasury VVV", "tab:blue")
    ax.set_ylabel("treasury VVV (millions)", color="tab:blue")
    ax2 = ax.twinx()
    line(ax2, "treasury_usdc", 1e-3, "treasury USDC", "tab:orange")
    ax2.set_ylabel("treasury USDC (thousands)", color="tab:orange")
    save(fig, ax, "treasury.png", "treasury", ax2)

    fig, ax = figure()
    line(ax, "vvv_price", 1, "VVV price (pool)", "tab:blue")
    if views.has_market(df):
        line(ax, "market_price", 1, "VVV price (market)", "tab:cyan", linestyle="--")
    ax.set_ylabel("VVV price (USDC)", color="tab:blue")
    ax2 = ax.twinx()
    line(ax2, "revenue", 1e-3, "revenue", "tab:orange", drawstyle="steps-mid")
    ax2.set_ylabel("revenue (thousand USD a day)", color="tab:orange")
    save(fig, ax, "price_and_revenue.png", "VVV price and revenue", ax2)

    fig, ax = figure()
    emitted, burned, net = views.net_flows(df)
    ax.plot(dates, [v / 1e3 for v in emitted], color="tab:green", label="emitted a day")
    ax.plot(dates, [v / 1e3 for v in burned], color="tab:red", label="burned a day")
    if views.spiky(emitted + burned):
        ax.set_yscale("symlog", linthresh=max(1.0, _median_positive(emitted + burned) / 1e3))
    ax.set_ylabel("VVV a day (thousands)")
    ax2 = ax.twinx()
    ax2.plot(dates, [v / 1e6 for v in net], color="black", linewidth=1.5, label="net since day 0")
    for days, style in ((30, ":"), (365, "--")) if "net_inflation_30d" in df.columns else ():
        trailing = [float(v) / 1e6 for v in df[f"net_inflation_{days}d"]]
        ax2.plot(dates, trailing, color="0.3", linestyle=style, label=f"net, trailing {days} d")
    ax2.axhline(0, color="0.6", linewidth=0.8)
    ax2.set_ylabel("emitted - burned (million VVV)")
    save(fig, ax, "net_inflation.png", "net inflation (emissions against burns)", ax2)

    fig, ax = figure()
    line(ax, "utilization", 100, "utilization", "tab:blue")
    line(ax, "staker_share", 100, "stakers' share of emissions", "tab:green")
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    save(fig, ax, "utilization_and_share.png", "utilization and stakers' share")
    return paths


def _percent(value: float, _pos: Any = None) -> str:
    return f"{value:g}%"


def _short(text: str, width: int = 38) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _median_positive(values: list[float]) -> float:
    positive = sorted(v for v in values if v > 0)
    return positive[len(positive) // 2] if positive else 1.0


def _curves(scenario: Scenario | None, dates: dict[int, Any]) -> list[tuple[str, Any]]:
    """The mint curves a run uses: the default, then each mint_curve event's, as functions."""
    from venice_sdk.model.curve import UNIT, MintCurveModel, default_rates

    def at(rates: Any) -> Any:
        model = MintCurveModel(rates)
        return lambda s: model.rate_at(int(s * UNIT)) / UNIT

    curves = [("mint curve (default)", at(default_rates()))]
    for event in scenario.events if scenario is not None else []:
        c = event.mint_curve
        if c is not None and scenario is not None:
            rates = default_rates(
                Decimal(str(c["base"])), Decimal(str(c["power"])), Decimal(str(c["target"]))
            )
            day = scenario.event_day(event)
            when = dates[day].strftime("%Y-%m-%d") if day in dates else f"day {day}"
            curves.append((f"mint curve from {when}", at(rates)))
    return curves


def sweep_chart(
    sweep: Any, path: Path, metric: str, params: Sequence[str] | None = None, title: str = ""
) -> Path:
    """A PNG of one metric over a sweep: one varied parameter as a line (the median over
    seeds, with a p5-p95 band when there are several), two as a heatmap, more as small
    multiples of heatmaps, one per value of the others. `sweep` is the tidy DataFrame (one
    column per varied parameter, `seed`, metrics in whole tokens or fractions)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize
    from matplotlib.ticker import FuncFormatter

    from venice_ops.sim import views

    names = list(params) if params is not None else views.sweep_params(sweep)
    if not names:
        raise ValueError("the sweep has no varied parameter")
    table = views.sweep_summary(sweep, names, metric)
    head = title or f"final {metric}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(names) == 1:
        fig, ax = plt.subplots(figsize=(8, 4.8))
        xs = list(table[names[0]])
        scale = 100.0 if metric in views.FRACTIONS else 1.0
        ax.plot(xs, [v * scale for v in table["p50"]], marker="o", label=f"{metric} (median)")
        if (table["runs"] > 1).any():
            ax.fill_between(
                xs, table["p5"] * scale, table["p95"] * scale, alpha=0.2, label="p5-p95 over seeds"
            )
        for xi, v in zip(xs, table["p50"], strict=True):
            ax.annotate(
                views.label(metric, v),
                (xi, v * scale),
                xytext=(0, 6),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
        ax.set_xlabel(names[0])
        ax.set_ylabel(f"{metric} (%)" if scale == 100 else metric)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: views.si(v)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: views.si(v)))
        ax.grid(True, color="0.9")
        ax.legend(fontsize=8)
        ax.set_title(f"{head} by {names[0]}")
    else:
        x, y, rest = names[0], names[1], names[2:]
        panels, cols, rows_n = views.sweep_panels(table, rest)
        fig, axes = plt.subplots(
            rows_n, cols, figsize=(5.2 * cols + 1.5, 4.2 * rows_n + 0.6), squeeze=False
        )
        low, high = float(table["p50"].min()), float(table["p50"].max())
        norm = Normalize(low, high if high > low else low + 1)
        cmap = matplotlib.colormaps["viridis"]
        image = None
        for ax, (key, part) in zip(axes.flat, panels, strict=False):
            xs = sorted(part[x].unique())
            ys = sorted(part[y].unique())
            grid = [[float("nan")] * len(xs) for _ in ys]
            for _, r in part.iterrows():
                grid[ys.index(r[y])][xs.index(r[x])] = float(r["p50"])
            image = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, norm=norm)
            ax.set_xticks(range(len(xs)), [views.si(v) for v in xs])
            ax.set_yticks(range(len(ys)), [views.si(v) for v in ys])
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            for i, row in enumerate(grid):
                for j, value in enumerate(row):
                    if value == value:
                        ax.text(
                            j,
                            i,
                            views.label(metric, value),
                            ha="center",
                            va="center",
                            fontsize=10,
                            color=_ink(cmap(norm(value))),
                        )
            if key:
                ax.set_title(
                    ", ".join(f"{n}={views.si(v)}" for n, v in zip(rest, key, strict=True)),
                    fontsize=9,
                )
        for ax in list(axes.flat)[len(panels) :]:
            ax.set_visible(False)
        if image is not None:
            bar = fig.colorbar(image, ax=axes, label=metric, shrink=0.9)
            bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: views.label(metric, v)))
        fig.suptitle(f"{head} by {x} and {y}" + (f", per {', '.join(rest)}" if rest else ""))
    if len(names) == 1:
        fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path


def _ink(rgba: Any) -> str:
    """Black on light cells, white on dark ones (relative luminance)."""
    r, g, b = rgba[0], rgba[1], rgba[2]
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def summary_table(run: Any, elapsed: float) -> Table:
    first, last = run.rows[0], run.rows[-1]
    table = Table(title=f"{run.scenario.name}: {len(run.rows)} days on the {run.backend.name}")
    table.add_column("")
    table.add_column("day 0", justify="right")
    table.add_column(f"day {last['day']}", justify="right")

    def tokens(key: str, decimals: int = 18, places: int = 0) -> None:
        table.add_row(
            key.replace("_", " "),
            format_units(first[key], decimals, places),
            format_units(last[key], decimals, places),
        )

    for key in ("supply", "circulating_supply", "circulating_liquid", "burned", "emitted"):
        tokens(key)
    for key in ("net_inflation_30d", "net_inflation_365d", "staked", "locked", "treasury_vvv"):
        tokens(key)
    tokens("treasury_usdc", 6)
    tokens("treasury_value", 6)
    tokens("diem_supply", 18, 2)
    tokens("diem_credit", 18, 2)
    for key, fmt in (
        ("staking_ratio", "{:.2%}"),
        ("staking_apr", "{:.2%}"),
        ("net_inflation_rate_30d", "{:.2%}"),
        ("net_inflation_rate_365d", "{:.2%}"),
        ("emission_yield_30d", "{:.2%}"),
        ("real_yield_30d", "{:.2%}"),
        ("vvv_price", "${:.4f}"),
    ):
        table.add_row(key.replace("_", " "), fmt.format(first[key]), fmt.format(last[key]))
    runway = (first["treasury_runway_days"], last["treasury_runway_days"])
    table.add_row("treasury runway", *(runway_text(d) for d in runway))
    table.add_row("subscribers", str(first["subscribers"]), str(last["subscribers"]))
    table.caption = (
        f"{len(run.agents)} agents, {run.backend.transactions:,} transactions "
        f"({sum(run.failures.values())} refused by the contracts), {elapsed:.1f} s"
    )
    return table


def print_summary(run: Any, elapsed: float, console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_table(run, elapsed))
    if run.failures:
        console.print("Refused (the contracts said no; the run went on):")
        for reason, n in run.failures.most_common(8):
            console.print(f"  {n:>5} x {reason}")
