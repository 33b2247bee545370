"""Simulator scenarios: YAML files validated into typed objects, errors naming field and line.

A scenario says how long to run, with which seed, which agents (groups with a wealth
distribution and a behaviour), the market (revenue, buyback cadence, DIEM price), the
utilization series, the airdrop, and governance events by day or by date. Amounts are whole
tokens (VVV, USDC or USD) as numbers; they become integer base units when the run starts.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from venice_ops.paths import SCENARIOS

DAY = 86_400

BEHAVIOURS = {
    "staker": ("compound", "claim_and_sell", "unstake_on_low_apr", "hold"),
    "diem_minter": ("stake_diem", "sell_diem"),
    "api_user": ("buy_diem", "subscribe"),
    "subscriber": ("renew",),
}
TIERS = {"pro": 0, "pro+": 1, "max": 2}


class ScenarioError(ValueError):
    """A scenario file that cannot run; the message names the file, line and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Distribution(_Strict):
    """Exactly one of: fixed, uniform [low, high], lognormal {median, sigma},
    pareto {minimum, alpha, cap}."""

    fixed: float | None = Field(default=None, ge=0)
    uniform: tuple[float, float] | None = None
    lognormal: dict[Literal["median", "sigma"], float] | None = None
    pareto: dict[Literal["minimum", "alpha", "cap"], float] | None = None

    @model_validator(mode="after")
    def _one(self) -> Distribution:
        chosen = [k for k in ("fixed", "uniform", "lognormal", "pareto") if getattr(self, k)]
        if self.fixed == 0:
            chosen.append("fixed")
        if len(chosen) != 1:
            raise ValueError("give exactly one of fixed, uniform, lognormal, pareto")
        if self.uniform is not None and not 0 <= self.uniform[0] <= self.uniform[1]:
            raise ValueError("uniform needs 0 <= low <= high")
        if self.lognormal is not None and set(self.lognormal) != {"median", "sigma"}:
            raise ValueError("lognormal needs median and sigma")
        if self.pareto is not None and set(self.pareto) != {"minimum", "alpha", "cap"}:
            raise ValueError("pareto needs minimum, alpha and cap")
        return self


def _distribution(value: Any) -> Any:
    """A bare number means a fixed amount."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"fixed": value}
    return value


class AgentGroup(_Strict):
    kind: Literal["staker", "diem_minter", "api_user", "subscriber"]
    count: int = Field(ge=1, le=100_000)
    name: str | None = None
    behaviour: str
    wealth: Distribution = Distribution(fixed=0)  # VVV (stakers, minters) or USDC (users)
    every: int = Field(default=7, ge=1, le=365)  # days between decisions
    join_day: int = Field(default=0, ge=0)
    apr_floor: float = Field(default=0.0, ge=0)  # percent, for unstake_on_low_apr
    lock_fraction: float = Field(default=0.5, gt=0, le=1)  # minters: share of stake to lock
    demand: Distribution = Distribution(fixed=0)  # api users: USD of inference a day
    tier: Literal["pro", "pro+", "max"] = "pro"
    periods: int = Field(default=1, ge=1, le=36)
    airdrop: Distribution | None = None  # VVV allocated in the airdrop
    airdrop_stake: bool = False  # claim straight into sVVV

    _dist = field_validator("wealth", "demand", "airdrop", mode="before")(_distribution)

    @model_validator(mode="after")
    def _behaviour(self) -> AgentGroup:
        allowed = BEHAVIOURS[self.kind]
        if self.behaviour not in allowed:
            raise ValueError(
                f"behaviour {self.behaviour!r} is not one of {', '.join(allowed)} for {self.kind}"
            )
        return self


Point = tuple[int | str | dt.date, float]


class Market(_Strict):
    revenue: float | list[Point] = 0.0  # USD a day of platform revenue
    buyback_share: float = Field(default=0.1, ge=0, le=1)  # of revenue sent to the burner
    buyback_every: int = Field(default=7, ge=1)
    diem_price: float = Field(default=150.0, gt=0)  # USD per DIEM between agents
    release_every: int = Field(default=7, ge=1)  # days between treasury releases


class Airdrop(_Strict):
    window_days: int = Field(default=45, ge=1, le=365)
    claim_within: int = Field(default=30, ge=1)  # days in which claimers claim
    others: float = Field(default=0, ge=0)  # VVV allocated to wallets that never claim


class Event(_Strict):
    day: int | None = Field(default=None, ge=0)
    date: dt.date | None = None
    annual_rate: float | None = Field(default=None, ge=0)
    split_curve: list[tuple[int, int]] | None = None
    mint_curve: dict[Literal["base", "power", "target"], float] | None = None
    launch_mode: Literal["closed", "punitive", "open"] | None = None
    tiers: list[tuple[float, float]] | None = None  # (price, burn) per tier, USDC
    note: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Event:
        if (self.day is None) == (self.date is None):
            raise ValueError("give exactly one of day or date")
        actions = [
            k
            for k in ("annual_rate", "split_curve", "mint_curve", "launch_mode", "tiers")
            if getattr(self, k) is not None
        ]
        if not actions:
            raise ValueError(
                "an event needs one of annual_rate, split_curve, mint_curve, launch_mode, tiers"
            )
        if self.mint_curve is not None and set(self.mint_curve) != {"base", "power", "target"}:
            raise ValueError("mint_curve needs base, power and target")
        return self


class Scenario(_Strict):
    name: str
    description: str = ""
    days: int = Field(ge=1, le=3_650)
    seed: int = 0
    start: dt.date | None = None  # the first day (UTC); dated events need it
    agents: list[AgentGroup] = Field(min_length=1)
    market: Market = Market()
    utilization: float | list[Point] = 0.5  # fraction of capacity in use
    airdrop: Airdrop | None = None
    events: list[Event] = []
    checkpoints: list[dict[str, Any]] = []  # figures to print beside the run's (history)

    @model_validator(mode="after")
    def _dates(self) -> Scenario:
        for i, event in enumerate(self.events):
            if event.date is not None and self.start is None:
                raise ValueError(f"events[{i}] has a date: the scenario needs a start date")
        return self

    @property
    def agent_count(self) -> int:
        return sum(g.count for g in self.agents)

    def day_of(self, when: int | str | dt.date) -> int:
        if isinstance(when, int):
            return when
        date = when if isinstance(when, dt.date) else dt.date.fromisoformat(when)
        if self.start is None:
            raise ScenarioError(f"{self.name}: a dated point needs a start date")
        return (date - self.start).days

    def event_day(self, event: Event) -> int:
        return event.day if event.day is not None else self.day_of(event.date)  # type: ignore[arg-type]

    def series(self, value: float | list[Point], day: int) -> float:
        """A constant, or points (day or date, value) joined linearly, flat outside."""
        if isinstance(value, int | float):
            return float(value)
        points = sorted((self.day_of(d), float(v)) for d, v in value)
        if day <= points[0][0]:
            return points[0][1]
        for (d0, v0), (d1, v1) in itertools.pairwise(points):
            if day <= d1:
                return v0 + (v1 - v0) * (day - d0) / (d1 - d0) if d1 > d0 else v1
        return points[-1][1]

    def with_overrides(self, **changes: Any) -> Scenario:
        return self.model_copy(update=changes)


# --- loading with line numbers ---------------------------------------------------------------


@dataclass
class _Lines:
    lines: dict[tuple[Any, ...], int]

    def find(self, loc: tuple[Any, ...]) -> int | None:
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]]
        return None


def _index(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _index(value, (*path, key.value), out)
            out[(*path, key.value)] = key.start_mark.line + 1  # the key's line, not the value's
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), out)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{source}{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict) or node is None:
        raise ScenarioError(f"{source}:1: a scenario is a mapping (name:, days:, agents: ...)")
    lines: dict[tuple[Any, ...], int] = {}
    _index(node, (), lines)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        index = _Lines(lines)
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
            # pydantic reports union branches as extra path parts; keep what the file has.
            keep = _keys(lines)
            if error["type"] == "missing":
                keep.add(loc[-1])  # the field the file lacks
            loc = tuple(p for p in loc if p in keep or isinstance(p, int))
            line = index.find(loc)
            field = ".".join(str(p) for p in loc) or "(top level)"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{source}:{line or 1}: {field}: {message}")
        raise ScenarioError("\n".join(dict.fromkeys(problems))) from None


def _keys(lines: dict[tuple[Any, ...], int]) -> set[Any]:
    return {p for path in lines for p in path if isinstance(p, str)}


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by path, or by name from `scenarios/` (e.g. "showcase", "history")."""
    path = Path(name_or_path)
    if not path.exists():
        candidate = SCENARIOS / f"{name_or_path}.yaml"
        if not candidate.exists():
            known = ", ".join(sorted(p.stem for p in SCENARIOS.glob("*.yaml")))
            raise ScenarioError(
                f"no scenario file {str(name_or_path)!r}; built-in scenarios: {known}"
            )
        path = candidate
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_scenario(text, str(path))
