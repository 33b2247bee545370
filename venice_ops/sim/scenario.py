"""Simulator scenarios: YAML files validated into typed objects, errors naming field and line.

A scenario says how long to run, with which seed, which agents (groups with a wealth
distribution and a behaviour), the market (revenue, buyback cadence, DIEM price), the
utilization series, the airdrop, and governance events by day or by date. Amounts are whole
tokens (VVV, USDC or USD) as numbers (`1e6` and `10_000` included); they become integer base
units when the run starts. Shares, rates and floors are fractions (0.7 for 70%).

Every mistake is reported before the run with its file and line: pydantic's checks of each
field, then `Scenario.problems`, the checks that need the whole scenario or the deploy config
(an event past the last day, an emission rate above the cap). `Scenario.with_` changes fields
by their path (`market.revenue`, `agents.0.count`, `events.2.annual_rate`) through the same
checks, naming the value in the error.

Over 500 lines on purpose: one schema, a model per section with each check beside its field
(the market's own checks are in market.py); split further it would be harder to read against
a scenario file.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from venice_ops.paths import SCENARIOS
from venice_ops.sim.market import Arbitrage, Price
from venice_ops.sim.market import problems as market_problems

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


FRACTIONS = "shares are fractions: 0.7 for 70%"


def _share(value: float) -> float:
    """A share, rate or floor: a fraction in [0, 1]."""
    if not 0 <= value <= 1:
        hint = (
            f"shares are fractions: {value / 100:g} for {value:g}%"
            if 1 < value <= 100
            else FRACTIONS
        )
        raise ValueError(f"{value:g} is outside [0, 1]: {hint}")
    return value


Share = Annotated[float, AfterValidator(_share)]


def _number(value: Any) -> Any:
    """`1e6` as YAML 1.1 or a caller writes it (a string): the number it means."""
    if isinstance(value, str):
        try:
            return float(value.replace("_", ""))
        except ValueError:
            return value
    return value


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
    """A bare number (`1e6` included) means a fixed amount."""
    value = _number(value)
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
    apr_floor: Share = 0.0  # a fraction (0.3 for 30%), for unstake_on_low_apr
    lock_fraction: Share = 0.5  # minters: share of stake to lock
    demand: Distribution = Distribution(fixed=0)  # api users: USD of inference a day
    tier: Literal["pro", "pro+", "max"] = "pro"
    periods: int = Field(default=1, ge=1, le=36)
    airdrop: Distribution | None = None  # VVV allocated in the airdrop
    airdrop_stake: bool = False  # claim straight into sVVV

    _dist = field_validator("wealth", "demand", "airdrop", mode="before")(_distribution)

    @model_validator(mode="after")
    def _behaviour(self) -> AgentGroup:
        if self.lock_fraction == 0:
            raise ValueError("lock_fraction must be above 0 (a fraction: 0.5 for half)")
        allowed = BEHAVIOURS[self.kind]
        if self.behaviour not in allowed:
            raise ValueError(
                f"behaviour {self.behaviour!r} is not one of {', '.join(allowed)} for {self.kind}"
            )
        return self


Point = tuple[int | str | dt.date, float]


class Market(_Strict):
    revenue: float | list[Point] = 0.0  # USD a day of platform revenue
    buyback_share: Share = 0.1  # of revenue sent to the burner
    buyback_every: int = Field(default=7, ge=1)
    # USD per DIEM between agents, or "market": the VVV price times the mint curve's rate
    diem_price: Annotated[float, Field(gt=0)] | Literal["market"] = 150.0
    release_every: int = Field(default=7, ge=1)  # days between treasury releases
    price: Price | None = None  # the VVV market price (venice_ops.sim.market)
    arbitrage: Arbitrage = Arbitrage()
    elasticity: float = Field(default=0.0, ge=-5, le=5)  # revenue, API demand ~ price**this


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
    utilization: float | list[Point] = 0.5  # fraction of capacity in use, in [0, 1]
    airdrop: Airdrop | None = None
    events: list[Event] = []
    checkpoints: list[dict[str, Any]] = []  # figures to print beside the run's (history)
    treasury_spend: float = Field(default=0, ge=0)  # USD a day, for the runway (0: infinite)
    assumptions: list[str] = []  # what the scenario assumes, printed with its results

    _source: str = PrivateAttr(default="<scenario>")
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    @field_validator("utilization", mode="after")
    @classmethod
    def _utilization(cls, value: float | list[Point]) -> float | list[Point]:
        for v in [value] if isinstance(value, int | float) else [v for _, v in value]:
            _share(v)
        return value

    @model_validator(mode="after")
    def _dates(self) -> Scenario:
        for i, event in enumerate(self.events):
            if event.date is not None and self.start is None:
                raise ValueError(f"events[{i}] has a date: the scenario needs a start date")
        for key in ("utilization", "revenue"):
            series = self.utilization if key == "utilization" else self.market.revenue
            dated = not isinstance(series, int | float) and any(
                not isinstance(d, int) for d, _ in series
            )
            if dated and self.start is None:
                raise ValueError(f"{key} has dated points: the scenario needs a start date")
        price = self.market.price
        if price and price.regimes and self.start is None and any(r.date for r in price.regimes):
            raise ValueError("market.price.regimes has dates: the scenario needs a start date")
        return self

    # --- loading, checking, varying --------------------------------------------------------

    @classmethod
    def load(cls, name_or_path: str | Path, max_annual: int | None = None) -> Scenario:
        """A scenario file by path or built-in name, checked (see `load_scenario`)."""
        return load_scenario(name_or_path, max_annual)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], source: str = "<dict>", max_annual: int | None = None
    ) -> Scenario:
        """A scenario from a mapping (as the YAML would read), through the file's checks."""
        try:
            scenario = cls.model_validate(dict(data))
        except ValidationError as exc:
            raise ScenarioError(_problems(exc, {}, source)) from None
        scenario._source = source
        scenario.check(max_annual)
        return scenario

    def problems(self, max_annual: int | None = None) -> list[tuple[tuple[Any, ...], str]]:
        """What pydantic's field checks cannot see: (field path, problem) pairs.

        `max_annual` is the deploy config's cap on the emission rate, in wei a year (default:
        `config/default.yaml`'s)."""
        cap = default_max_annual() if max_annual is None else max_annual
        found: list[tuple[tuple[Any, ...], str]] = []
        last = self.days - 1
        for i, event in enumerate(self.events):
            key = "day" if event.day is not None else "date"
            day = self.event_day(event)
            when = f"day {day}" if event.day is not None else f"{event.date} (day {day})"
            if day > last:
                found.append(
                    (
                        ("events", i, key),
                        f"{when} is past the last day, day {last} (the run has {self.days} days)",
                    )
                )
            elif day < 0:
                found.append((("events", i, key), f"{when} is before the start, {self.start}"))
            too_high = above_cap(event.annual_rate, cap)
            if too_high:
                found.append((("events", i, "annual_rate"), too_high))
        found.extend(market_problems(self))
        return found

    def check(self, max_annual: int | None = None) -> Scenario:
        """Raise `ScenarioError` listing every problem of `problems`, each with its line."""
        found = self.problems(max_annual)
        if found:
            index = _Lines(self._lines)
            raise ScenarioError(
                "\n".join(
                    f"{_at(self._source, index.find(loc))}: {_dotted(loc)}: {message}"
                    for loc, message in found
                )
            )
        return self

    def with_(
        self,
        changes: Mapping[str, Any] | None = None,
        max_annual: int | None = None,
        /,
        **fields: Any,
    ) -> Scenario:
        """A copy with fields changed by their path, checked as the file would be.

        `scenario.with_({"market.revenue": 5e4, "agents.0.count": 20}, days=90)`; a keyword
        may spell a path with `__` for the dots (`market__revenue=5e4`). A value the file's
        checks refuse raises `ScenarioError` naming the path and the value."""
        wanted = {**(changes or {}), **{k.replace("__", "."): v for k, v in fields.items()}}
        if not wanted:
            return self
        data = self.model_dump()
        for path, value in wanted.items():
            _set_path(data, path, value)
        said = ", ".join(f"{p}={shown(v)}" for p, v in wanted.items())
        parts = {part for path in wanted for part in path.split(".")}
        try:
            varied = Scenario.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(
                f"{said}: " + _problems(exc, self._lines, self._source, parts).replace("\n", "\n  ")
            ) from None
        varied._source, varied._lines = self._source, self._lines
        try:
            return varied.check(max_annual)
        except ScenarioError as exc:
            raise ScenarioError(f"{said}: {exc}") from None

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
        """A copy with top-level fields replaced as they are (no checks; see `with_`)."""
        copy = self.model_copy(update=changes)
        copy._source, copy._lines = self._source, self._lines
        return copy


def above_cap(annual_rate: float | None, cap: int) -> str | None:
    """Why an emission rate (whole VVV a year) is refused, or None when it is within `cap`."""
    if annual_rate is None or round(annual_rate * 10**6) * 10**12 <= cap:
        return None
    return (
        f"{annual_rate:,.0f} VVV a year is above the cap, {cap / 10**18:,.0f} VVV a year "
        "(emissions.max_annual in the deploy config): the contract would refuse it"
    )


@functools.cache
def default_max_annual() -> int:
    """`config/default.yaml`'s cap on the emission rate, wei a year."""
    from venice_ops.deploy.config import load_config

    return load_config().max_annual


def _at(source: str, line: int | None) -> str:
    """`file:line`, or the source alone when there is no file (a dict, a varied copy)."""
    return f"{source}:{line}" if line is not None else source


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def shown(value: Any) -> str:
    """A value as a person typed it: 20000000 for 2e7, 0.25, compound."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else f"{value:g}"
    return str(value)


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set `data` at a dotted path (`agents.0.count`), naming what exists when it does not."""
    node: Any = data
    parts = path.split(".")
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth]) or "the scenario"
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(
                    f"{path}: {here} is a list of {len(node)}: "
                    f"{part!r} is not an index 0..{len(node) - 1}"
                )
            key: Any = int(part)
        elif isinstance(node, dict):
            if part not in node:
                known = ", ".join(sorted(str(k) for k in node))
                raise ScenarioError(f"{path}: {here} has no field {part!r} (it has {known})")
            key = part
        else:
            raise ScenarioError(f"{path}: {here} is a value, not a mapping or list")
        if last:
            node[key] = value
        else:
            if node[key] is None:
                node[key] = {}
            node = node[key]


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


class _BadDate(yaml.YAMLError):  # type: ignore[misc]  # PyYAML is untyped
    def __init__(self, text: str, reason: str, line: int):
        super().__init__(text)
        self.text, self.reason, self.line = text, reason, line


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML 1.1 as PyYAML reads it, plus `1e6` as a number (1.1 wants `1.0e+6`) and a date
    that does not exist (`2026-13-01`) as an error with its line, not a traceback."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise _BadDate(str(node.value), str(exc), node.start_mark.line + 1) from None


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def read_yaml(text: str) -> Any:
    """One YAML value as scenario files are read (`1e6` a number)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass


def parse_scenario(
    text: str, source: str = "<scenario>", max_annual: int | None = None
) -> Scenario:
    """A checked scenario from YAML text; `ScenarioError` lists every problem with its line."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except _BadDate as exc:
        raise ScenarioError(
            f"{source}:{exc.line}: {exc.text} is not a date ({exc.reason}): dates are YYYY-MM-DD"
        ) from None
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
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_problems(exc, lines, source)) from None
    scenario._source, scenario._lines = source, lines
    return scenario.check(max_annual)


def _problems(
    exc: ValidationError,
    lines: dict[tuple[Any, ...], int],
    source: str,
    fields: Iterable[str] = (),
) -> str:
    """pydantic's errors as `source:line: field: problem` lines (`fields`: names the caller
    set, which the file may not have)."""
    index = _Lines(lines)
    problems = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        # pydantic reports union branches as extra path parts; keep what the file has.
        if lines:
            keep = _keys(lines) | set(fields)
            if error["type"] == "missing":
                keep.add(loc[-1])  # the field the file lacks
            loc = tuple(p for p in loc if p in keep or isinstance(p, int))
        line = index.find(loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{_at(source, line)}: {_dotted(loc)}: {message}")
    return "\n".join(dict.fromkeys(problems))


def _keys(lines: dict[tuple[Any, ...], int]) -> set[Any]:
    return {p for path in lines for p in path if isinstance(p, str)}


def load_scenario(name_or_path: str | Path, max_annual: int | None = None) -> Scenario:
    """A scenario by path, or by name from `scenarios/` (e.g. "showcase", "history"), checked
    against the cap `max_annual` (wei a year; default `config/default.yaml`'s)."""
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
    return parse_scenario(text, str(path), max_annual)
