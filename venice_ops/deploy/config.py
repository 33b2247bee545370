"""The deploy config: PROTOCOL.md's defaults in `config/default.yaml`, validated.

The file (after `extends:` is merged in, see `_read`) is validated by `ConfigFile`, whose
fields are the YAML's top-level sections, one pydantic model each:

    roles:          Roles               role name -> account spec; owner, treasury, oracle needed
    genesis:        [GenesisAllocation] 1 to 16 {name, to, amount}
    emissions:      Emissions           max_annual, annual_rate, schedule: [ScheduleEntry],
                                        split_curve: [[bps, bps]], max_report_age, stale_staker_bps
    staking:        Staking             cooldown, locked_treasury_bps, pro_threshold
    diem:           Diem                cooldown, curve: DiemCurve, launch_mode, punitive_multiplier
    value_capture:  ValueCapture        usdc, router, pool_seed: PoolSeed, buyback: Buyback,
                                        tiers: [Tier]
    governance:     Governance          timelock, min_delay, proposers, executors
    airdrop:        Airdrop             window, csv

Leaves are typed by what they hold: `Tokens` (whole VVV, as YAML writes numbers: `14_000_000`,
`1e6`, `"0.5"`, into wei), `Usdc` (into 6-decimal base units), `_whole(lo, hi)` (an integer in a
range, never a bool or float). A rule between fields sits in the model holding both (the
live-market timelock rule and the governance accounts, which need `roles`, in `ConfigFile`).
`load_config` then flattens the models into `DeployConfig`, the frozen dataclass the rest of
the code reads (and `dataclasses.replace`s); `GenesisAllocation`, `Tier` and `Governance` are
the models themselves.

Every mistake is reported as a `ConfigError` naming the file and the field: a validator raises
a `ValueError` with the problem (an `_At` when the field is below the model checking it) and
`_config_error` prefixes the file and the field path from pydantic's `loc`.

Over 500 lines on purpose: it is one schema, a model per section with each rule beside its
field; split across files it would be harder to read against `config/default.yaml`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

import yaml
from eth_utils.address import is_address
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    PrivateAttr,
    RootModel,
    ValidationError,
    model_validator,
)

from venice_ops.paths import DEFAULT_CONFIG
from venice_sdk.model import MAX_CAP
from venice_sdk.model.curve import MAX_PUNITIVE, MODES, default_rates
from venice_sdk.units import parse_units

BPS = 10_000
DAY = 86_400
USDC_DECIMALS = 6
MAX_TIERS = 4
# The timelock's delay: long enough for holders to see a proposal and react, short enough
# that governance can still fix a parameter within the month.
MIN_TIMELOCK_DELAY = 3_600
MAX_TIMELOCK_DELAY = 30 * DAY
# An executor spec that opens execution of ready operations to everyone (the zero address).
ANYONE = "anyone"
ACCOUNTS = "role names, 'deployer', 'test:N' or 0x addresses"


class ConfigError(ValueError):
    """A deploy config that cannot be used; the message names the field."""


class _At(ValueError):
    """A problem a model's validator finds at `where`, a path below the model."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(why)
        self.where = where


# ---------------------------------------------------------------------------- leaf types


def _in_range(value: Any, lo: int | None, hi: int | None = None, where: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _At(where, f"expected a whole number, got {value!r}")
    if lo is None:
        return value
    if value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise _At(where, f"{value} is out of range ({bound})")
    return value


def _whole(lo: int | None = 0, hi: int | None = None) -> PlainValidator:
    """An integer (not a bool or float) in lo..hi; any integer when `lo` is None."""
    return PlainValidator(lambda value: _in_range(value, lo, hi))


def _units(decimals: int) -> PlainValidator:
    # parse_units' AmountError is a ValueError: pydantic reports its message.
    return PlainValidator(lambda value: parse_units(str(value), decimals))


def _positive(value: int) -> int:
    if value == 0:
        raise ValueError("must be positive")
    return value


def _text(value: Any) -> str:
    return str(value)


def _optional_text(value: Any) -> str | None:
    return str(value) if value else None


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _address_or_local(value: Any) -> str:
    text = str(value).strip()
    if text == "local" or is_address(text):
        return text
    raise ValueError(f"{text!r} is neither 'local' nor a 0x address")


def _timestamp(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, dt.date):
        value = value.isoformat()
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is neither a unix time nor an ISO date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp())


def _curve_point(value: Any) -> tuple[int, int]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("expected [utilization_bps, staker_bps]")
    return _in_range(value[0], 0, BPS), _in_range(value[1], 0, BPS)


def _launch_mode(value: Any) -> int:
    if str(value) not in MODES:
        raise ValueError(f"'{value}' is not one of {', '.join(MODES)}")
    return MODES[str(value)]


def _list_of(
    expected: str, lo: int, hi: int, too_many: str | None = None, named: bool = False
) -> BeforeValidator:
    """A YAML list of lo..hi items: "expected ..." when it is not one, is too short, or too
    long without its own `too_many` message; `named` names unnamed mappings by their index."""

    def check(value: Any) -> list[Any]:
        if not isinstance(value, list) or len(value) < lo or (len(value) > hi and not too_many):
            raise ValueError(f"expected {expected}")
        if len(value) > hi:
            raise ValueError(too_many)
        if named:
            return [{"name": i, **v} if isinstance(v, dict) else v for i, v in enumerate(value)]
        return value

    return BeforeValidator(check)


Text = Annotated[str, PlainValidator(_text)]
Tokens = Annotated[int, _units(18)]
Usdc = Annotated[int, _units(USDC_DECIMALS)]
Bps = Annotated[int, _whole(0, BPS)]
Flag = Annotated[bool, PlainValidator(_flag)]
AddressOrLocal = Annotated[str, PlainValidator(_address_or_local)]
Timestamp = Annotated[int, PlainValidator(_timestamp)]
CurvePoint = Annotated[tuple[int, int], PlainValidator(_curve_point)]
Spec = Annotated[str, PlainValidator(lambda value: str(value).strip())]


# ---------------------------------------------------------------------------- sections


class _Section(BaseModel):
    """A mapping of the file. Not a mapping, or lacking one of `_keys`: "expected
    `_expected`" at the mapping itself (before its fields are looked at)."""

    model_config = ConfigDict(frozen=True)
    _expected: ClassVar[str] = "a mapping"
    _keys: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not cls._keys <= data.keys():
            raise ValueError(f"expected {cls._expected}")
        return cls._prepare(data)

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> dict[str, Any]:
        return data


class Roles(RootModel[dict[Text, Text]]):
    """`roles:` role name -> account: "deployer", "test:N" or an address (resolved at deploy)."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("expected a mapping of role -> account")
        return data

    @model_validator(mode="after")
    def _required(self) -> Self:
        for role in ("owner", "treasury", "oracle"):
            if role not in self.root:
                raise _At(role, "missing")
        return self


class GenesisAllocation(_Section):
    """A `genesis:` entry: `amount` whole VVV (wei here) to `to`, a role spec."""

    _expected = "{name, to, amount}"
    _keys = frozenset({"to", "amount"})
    name: Text
    to: Text  # a role spec: "deployer", "treasury", "test:N" or an address
    amount: Annotated[Tokens, AfterValidator(_positive)]


class ScheduleEntry(_Section):
    """An `emissions.schedule:` entry: from `start` (unix time or ISO date, UTC) `annual` VVV."""

    _expected = "{start, annual}"
    _keys = frozenset({"start", "annual"})
    start: Timestamp
    annual: Tokens


def _below_cap(value: int) -> int:
    if value > MAX_CAP:
        raise ValueError(
            f"is above {MAX_CAP // 10**18:,} VVV a year, the most whose per-second rate the "
            "staking contract holds"
        )
    return value


def _schedule(value: Any) -> Any:
    """null: no change; else a list of at most 16 (ScheduleEntry checks each entry)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("expected a list of {start, annual}")
    if len(value) > 16:
        raise ValueError("at most 16 entries")
    return value


def _unique_starts(schedule: list[ScheduleEntry]) -> list[ScheduleEntry]:
    starts = [entry.start for entry in schedule]
    if len(set(starts)) != len(starts):
        raise ValueError("two entries start at the same time")
    return schedule


def _split_curve(curve: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if curve[0][0] != 0 or curve[-1][0] != BPS:
        raise ValueError("must start at 0 and end at 10000 utilization")
    if any(b[0] <= a[0] for a, b in pairwise(curve)):
        raise ValueError("utilization must strictly increase")
    return curve


class Emissions(_Section):
    """`emissions:` the cap, the launch rate, future rate changes and the stakers' split."""

    max_annual: Annotated[Tokens, AfterValidator(_positive), AfterValidator(_below_cap)]
    annual_rate: Tokens
    schedule: Annotated[
        list[ScheduleEntry],
        BeforeValidator(_schedule),
        AfterValidator(_unique_starts),
    ]
    split_curve: Annotated[
        list[CurvePoint],
        _list_of("2 to 8 [utilization_bps, staker_bps]", 2, 8),
        AfterValidator(_split_curve),
    ]
    max_report_age: Annotated[int, _whole(3_600, 30 * DAY)]
    stale_staker_bps: Bps

    @model_validator(mode="after")
    def _under_max(self) -> Self:
        if self.annual_rate > self.max_annual:
            raise _At("annual_rate", "is above emissions.max_annual")
        for i, entry in enumerate(self.schedule):
            if entry.annual > self.max_annual:
                raise _At(f"schedule[{i}].annual", "is above emissions.max_annual")
        return self


class Staking(_Section):
    """`staking:` the unstake cooldown, locked stake's treasury cut, the Pro threshold."""

    cooldown: Annotated[int, _whole(0, 365 * DAY)]
    locked_treasury_bps: Bps
    pro_threshold: Tokens


class DiemCurve(_Section):
    """`diem.curve:` rate(S) = base * exp(power * (S / target)^3) sVVV per DIEM."""

    _expected = "{base, power, target}"
    _keys = frozenset({"base", "power", "target"})
    base: Decimal
    power: Decimal
    target: Decimal
    _rates: list[int] = PrivateAttr(default_factory=list)

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> dict[str, Any]:
        try:
            numbers = {k: Decimal(str(data[k])) for k in ("base", "power", "target")}
        except InvalidOperation:
            numbers = {}
        if len(numbers) < 3 or not all(n.is_finite() for n in numbers.values()):
            raise ValueError("base, power and target must be numbers")
        return numbers

    @model_validator(mode="after")
    def _tabulate(self) -> Self:
        if self.base <= 0 or self.power < 0 or self.target <= 0:
            raise ValueError("base and target must be positive, power not negative")
        self._rates = default_rates(self.base, self.power, self.target)
        if len(self._rates) < 2:
            raise ValueError("the curve passes 1e9 sVVV per DIEM within 500 DIEM")
        return self

    @property
    def rates(self) -> list[int]:
        """The knots' rates in sVVV wei per DIEM, every 500 DIEM."""
        return list(self._rates)


class Diem(_Section):
    """`diem:` the DIEM unstake cooldown, the mint curve and the launch mode."""

    cooldown: Annotated[int, _whole(0, 30 * DAY)]
    curve: DiemCurve
    launch_mode: Annotated[int, PlainValidator(_launch_mode)]  # MODES' number for the name
    punitive_multiplier: Annotated[int, _whole(2, MAX_PUNITIVE)]


class PoolSeed(_Section):
    """`value_capture.pool_seed:` the local VVV/USDC pool's seed (whole tokens)."""

    vvv: Tokens
    usdc: Usdc


class Buyback(_Section):
    """`value_capture.buyback:` the BuybackBurner's limits."""

    max_amount_in: Usdc
    max_deviation_bps: Annotated[int, _whole(1, 2_000)]
    max_slippage_bps: Annotated[int, _whole(1, 2_000)]
    min_twap_window: Annotated[int, _whole(60, 7 * DAY)]
    max_twap_age: Annotated[int, _whole(None)]  # its range depends on min_twap_window

    @model_validator(mode="after")
    def _twap_age(self) -> Self:
        lo = 2 * self.min_twap_window
        _in_range(self.max_twap_age, lo, 7 * DAY, where="max_twap_age")
        return self


class Tier(_Section):
    """A `value_capture.tiers:` entry: price per 30 days and the part of it burned (USDC)."""

    _expected = "{name, price, burn}"
    _keys = frozenset({"price", "burn"})
    name: Text
    price: Annotated[Usdc, AfterValidator(_positive)]  # USDC base units per 30 days
    burn: Usdc  # USDC base units of it that buy VVV to burn

    @model_validator(mode="after")
    def _burn_within_price(self) -> Self:
        if self.burn > self.price:
            raise _At("burn", "is above the price")
        return self


class ValueCapture(_Section):
    """`value_capture:` USDC and the router ("local" or addresses), the pool, buyback, tiers."""

    usdc: AddressOrLocal
    router: AddressOrLocal
    pool_seed: PoolSeed
    buyback: Buyback
    tiers: Annotated[
        list[Tier], _list_of(f"1 to {MAX_TIERS} {{name, price, burn}}", 1, MAX_TIERS, named=True)
    ]


class Governance(_Section):
    """`governance:` whether a Timelock owns the owned contracts, its delay and accounts
    (role specs; executors may be ANYONE). `ConfigFile` checks the specs against `roles`."""

    timelock: Flag  # hand every owned contract to a Timelock
    min_delay: Annotated[int, _whole(MIN_TIMELOCK_DELAY, MAX_TIMELOCK_DELAY)]
    proposers: Annotated[
        list[Spec], _list_of(f"a non-empty list of {ACCOUNTS}", 1, 16, "at most 16 accounts")
    ]
    executors: Annotated[
        list[Spec],
        _list_of(f"a non-empty list of {ACCOUNTS}, or '{ANYONE}'", 1, 16, "at most 16 accounts"),
    ]


class Airdrop(_Section):
    """`airdrop:` the claim window; an optional CSV (relative to the config) to drop at deploy."""

    window: Annotated[int, _whole(3_600, 365 * DAY)]
    csv: Annotated[str | None, BeforeValidator(_optional_text)] = None


def _known_account(spec: str, roles: dict[str, str], anyone: bool) -> bool:
    return (
        spec in roles
        or spec == "deployer"
        or is_address(spec)
        or (spec.startswith("test:") and spec[5:].isdigit())
        or (anyone and spec == ANYONE)
    )


class ConfigFile(_Section):
    """The whole file, one field per section; the rules across sections."""

    roles: Roles
    genesis: Annotated[
        list[GenesisAllocation],
        _list_of(
            "a non-empty list of {name, to, amount}", 1, 16, "at most 16 allocations", named=True
        ),
    ]
    emissions: Emissions
    staking: Staking
    diem: Diem
    value_capture: ValueCapture
    governance: Governance
    airdrop: Airdrop

    @model_validator(mode="after")
    def _across_sections(self) -> Self:
        for name, accepted in (
            ("proposers", ACCOUNTS),
            ("executors", f"{ACCOUNTS}, or '{ANYONE}'"),
        ):
            for i, spec in enumerate(getattr(self.governance, name)):
                if not _known_account(spec, self.roles.root, anyone=name == "executors"):
                    raise _At(f"governance.{name}[{i}]", f"{spec!r} is not one of {accepted}")
        if not self.governance.timelock and self.value_capture.router != "local":
            raise _At(
                "governance.timelock",
                "must be true in a config for a live market (value_capture.router is an "
                "address): a live deploy hands every owned contract to the timelock",
            )
        return self


# ---------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class DeployConfig:
    source: Path
    roles: dict[str, str]
    genesis: list[GenesisAllocation]
    max_annual: int
    annual_rate: int
    schedule: list[tuple[int, int]]  # (start timestamp, annual wei), by start
    split_curve: list[tuple[int, int]]
    max_report_age: int
    stale_staker_bps: int
    cooldown: int
    locked_treasury_bps: int
    pro_threshold: int
    diem_cooldown: int
    curve_rates: list[int]
    launch_mode: int
    punitive_multiplier: int
    usdc: str  # "local" or an address
    router: str  # "local" or an address
    pool_seed_vvv: int
    pool_seed_usdc: int
    buyback_max_amount_in: int
    buyback_max_deviation_bps: int
    buyback_max_slippage_bps: int
    buyback_min_twap_window: int
    buyback_max_twap_age: int
    tiers: list[Tier]
    airdrop_window: int
    airdrop_csv: Path | None
    governance: Governance
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read(path: Path, depth: int = 0) -> dict[str, Any]:
    if depth > 4:
        raise ConfigError(f"{path}: 'extends' nests too deep")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    parent = data.pop("extends", None)
    if parent is not None:
        data = _merge(_read(path.parent / str(parent), depth + 1), data)
    return data


def _config_error(source: Path, exc: ValidationError) -> ConfigError:
    """The first problem as "file: section.field[i].field: what is wrong"."""
    error = exc.errors()[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _At) and cause.where:
        where += cause.where if cause.where.startswith("[") else f".{cause.where}"
    if error["type"] == "missing":
        why = "missing"
    else:
        why = str(cause) if isinstance(cause, Exception) else error["msg"]
    return ConfigError(f"{source}: {where.lstrip('.') or '(top level)'}: {why}")


def load_config(path: Path | str | None = None) -> DeployConfig:
    """Load and validate a deploy config (default: `config/default.yaml`)."""
    source = Path(path) if path is not None else DEFAULT_CONFIG
    raw = _read(source)
    try:
        model = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(source, exc) from None
    return _deploy_config(source, model, raw)


def _deploy_config(source: Path, model: ConfigFile, raw: dict[str, Any]) -> DeployConfig:
    emissions, diem, value, buyback = (
        model.emissions,
        model.diem,
        model.value_capture,
        model.value_capture.buyback,
    )
    return DeployConfig(
        source=source,
        roles=dict(model.roles.root),
        genesis=list(model.genesis),
        max_annual=emissions.max_annual,
        annual_rate=emissions.annual_rate,
        schedule=sorted((entry.start, entry.annual) for entry in emissions.schedule),
        split_curve=list(emissions.split_curve),
        max_report_age=emissions.max_report_age,
        stale_staker_bps=emissions.stale_staker_bps,
        cooldown=model.staking.cooldown,
        locked_treasury_bps=model.staking.locked_treasury_bps,
        pro_threshold=model.staking.pro_threshold,
        diem_cooldown=diem.cooldown,
        curve_rates=diem.curve.rates,
        launch_mode=diem.launch_mode,
        punitive_multiplier=diem.punitive_multiplier,
        usdc=value.usdc,
        router=value.router,
        pool_seed_vvv=value.pool_seed.vvv,
        pool_seed_usdc=value.pool_seed.usdc,
        buyback_max_amount_in=buyback.max_amount_in,
        buyback_max_deviation_bps=buyback.max_deviation_bps,
        buyback_max_slippage_bps=buyback.max_slippage_bps,
        buyback_min_twap_window=buyback.min_twap_window,
        buyback_max_twap_age=buyback.max_twap_age,
        tiers=list(value.tiers),
        airdrop_window=model.airdrop.window,
        airdrop_csv=(source.parent / model.airdrop.csv) if model.airdrop.csv else None,
        governance=model.governance,
        raw=raw,
    )
