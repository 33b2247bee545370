"""The deploy config: PROTOCOL.md's defaults in `config/default.yaml`, validated.

Every mistake is reported as a `ConfigError` naming the file and the field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from eth_utils import is_address

from venice_ops.paths import DEFAULT_CONFIG
from venice_sdk.model import MAX_CAP
from venice_sdk.model.curve import MAX_PUNITIVE, MODES, default_rates
from venice_sdk.units import AmountError, parse_units

BPS = 10_000
USDC_DECIMALS = 6
MAX_TIERS = 4
# The timelock's delay: long enough for holders to see a proposal and react, short enough
# that governance can still fix a parameter within the month.
MIN_TIMELOCK_DELAY = 3_600
MAX_TIMELOCK_DELAY = 30 * 86_400
# An executor spec that opens execution of ready operations to everyone (the zero address).
ANYONE = "anyone"


class ConfigError(ValueError):
    """A deploy config that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Tier:
    name: str
    price: int  # USDC base units per 30 days
    burn: int  # USDC base units of it that buy VVV to burn


@dataclass(frozen=True)
class GenesisAllocation:
    name: str
    to: str  # a role spec: "deployer", "treasury", "test:N" or an address
    amount: int  # wei


@dataclass(frozen=True)
class Governance:
    timelock: bool  # hand every owned contract to a Timelock
    min_delay: int  # seconds from schedule to execute
    proposers: list[str]  # role specs (also cancellers)
    executors: list[str]  # role specs, or ANYONE


@dataclass(frozen=True)
class DeployConfig:
    source: Path
    roles: dict[str, str]
    genesis: list[GenesisAllocation]
    max_annual: int
    annual_rate: int
    schedule: list[tuple[int, int]]  # (start timestamp, annual wei)
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


class _Reader:
    def __init__(self, path: Path, data: dict[str, Any]):
        self.path = path
        self.data = data

    def fail(self, where: str, why: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {why}")

    def get(self, dotted: str) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise self.fail(dotted, "missing")
            node = node[part]
        return node

    def tokens(self, where: str, value: Any) -> int:
        try:
            return parse_units(str(value))
        except AmountError as exc:
            raise self.fail(where, str(exc)) from None

    def usdc(self, where: str, value: Any) -> int:
        try:
            return parse_units(str(value), USDC_DECIMALS)
        except AmountError as exc:
            raise self.fail(where, str(exc)) from None

    def integer(self, where: str, value: Any, lo: int = 0, hi: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"expected a whole number, got {value!r}")
        if value < lo or (hi is not None and value > hi):
            bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise self.fail(where, f"{value} is out of range ({bound})")
        return value

    def address_or_local(self, where: str, value: Any) -> str:
        text = str(value).strip()
        if text == "local" or is_address(text):
            return text
        raise self.fail(where, f"{text!r} is neither 'local' nor a 0x address")

    def role_specs(self, where: str, roles: dict[str, Any], anyone: bool) -> list[str]:
        """A non-empty list of accounts: role names, "deployer", "test:N", 0x addresses (and
        "anyone" where `anyone`); resolved to addresses at deploy."""
        value = self.get(where)
        accepted = "role names, 'deployer', 'test:N' or 0x addresses"
        if anyone:
            accepted += f", or '{ANYONE}'"
        if not isinstance(value, list) or not value:
            raise self.fail(where, f"expected a non-empty list of {accepted}")
        if len(value) > 16:
            raise self.fail(where, "at most 16 accounts")
        specs = []
        for i, item in enumerate(value):
            spec = str(item).strip()
            known = (
                spec in roles
                or spec == "deployer"
                or is_address(spec)
                or (spec.startswith("test:") and spec[5:].isdigit())
                or (anyone and spec == ANYONE)
            )
            if not known:
                raise self.fail(f"{where}[{i}]", f"{spec!r} is not one of {accepted}")
            specs.append(spec)
        return specs

    def timestamp(self, where: str, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, dt.date):
            value = value.isoformat()
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise self.fail(where, f"{value!r} is neither a unix time nor an ISO date") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return int(parsed.timestamp())


def load_config(path: Path | str | None = None) -> DeployConfig:
    """Load and validate a deploy config (default: `config/default.yaml`)."""
    source = Path(path) if path is not None else DEFAULT_CONFIG
    r = _Reader(source, _read(source))

    roles = r.get("roles")
    if not isinstance(roles, dict):
        raise r.fail("roles", "expected a mapping of role -> account")
    for role in ("owner", "treasury", "oracle"):
        if role not in roles:
            raise r.fail(f"roles.{role}", "missing")

    genesis_raw = r.get("genesis")
    if not isinstance(genesis_raw, list) or not genesis_raw:
        raise r.fail("genesis", "expected a non-empty list of {name, to, amount}")
    if len(genesis_raw) > 16:
        raise r.fail("genesis", "at most 16 allocations")
    genesis = []
    for i, item in enumerate(genesis_raw):
        where = f"genesis[{i}]"
        if not isinstance(item, dict) or not {"to", "amount"} <= item.keys():
            raise r.fail(where, "expected {name, to, amount}")
        amount = r.tokens(f"{where}.amount", item["amount"])
        if amount == 0:
            raise r.fail(f"{where}.amount", "must be positive")
        genesis.append(GenesisAllocation(str(item.get("name", i)), str(item["to"]), amount))

    max_annual = r.tokens("emissions.max_annual", r.get("emissions.max_annual"))
    if max_annual == 0:
        raise r.fail("emissions.max_annual", "must be positive")
    if max_annual > MAX_CAP:
        raise r.fail(
            "emissions.max_annual",
            f"is above {MAX_CAP // 10**18:,} VVV a year, the most whose per-second rate the "
            "staking contract holds",
        )
    annual_rate = r.tokens("emissions.annual_rate", r.get("emissions.annual_rate"))
    if annual_rate > max_annual:
        raise r.fail("emissions.annual_rate", "is above emissions.max_annual")

    schedule = []
    for i, item in enumerate(r.get("emissions.schedule") or []):
        where = f"emissions.schedule[{i}]"
        if not isinstance(item, dict) or not {"start", "annual"} <= item.keys():
            raise r.fail(where, "expected {start, annual}")
        annual = r.tokens(f"{where}.annual", item["annual"])
        if annual > max_annual:
            raise r.fail(f"{where}.annual", "is above emissions.max_annual")
        schedule.append((r.timestamp(f"{where}.start", item["start"]), annual))
    if len(schedule) > 16:
        raise r.fail("emissions.schedule", "at most 16 entries")
    starts = [s for s, _ in schedule]
    if len(set(starts)) != len(starts):
        raise r.fail("emissions.schedule", "two entries start at the same time")

    curve_raw = r.get("emissions.split_curve")
    if not isinstance(curve_raw, list) or not 2 <= len(curve_raw) <= 8:
        raise r.fail("emissions.split_curve", "expected 2 to 8 [utilization_bps, staker_bps]")
    curve = []
    for i, point in enumerate(curve_raw):
        where = f"emissions.split_curve[{i}]"
        if not isinstance(point, list | tuple) or len(point) != 2:
            raise r.fail(where, "expected [utilization_bps, staker_bps]")
        curve.append((r.integer(where, point[0], 0, BPS), r.integer(where, point[1], 0, BPS)))
    if curve[0][0] != 0 or curve[-1][0] != BPS:
        raise r.fail("emissions.split_curve", "must start at 0 and end at 10000 utilization")
    if any(b[0] <= a[0] for a, b in pairwise(curve)):
        raise r.fail("emissions.split_curve", "utilization must strictly increase")

    curve_raw = r.get("diem.curve")
    if not isinstance(curve_raw, dict) or not {"base", "power", "target"} <= curve_raw.keys():
        raise r.fail("diem.curve", "expected {base, power, target}")
    try:
        base, power, target = (Decimal(str(curve_raw[k])) for k in ("base", "power", "target"))
    except InvalidOperation:
        raise r.fail("diem.curve", "base, power and target must be numbers") from None
    if base <= 0 or power < 0 or target <= 0:
        raise r.fail("diem.curve", "base and target must be positive, power not negative")
    rates = default_rates(base, power, target)
    if len(rates) < 2:
        raise r.fail("diem.curve", "the curve passes 1e9 sVVV per DIEM within 500 DIEM")
    mode = str(r.get("diem.launch_mode"))
    if mode not in MODES:
        raise r.fail("diem.launch_mode", f"'{mode}' is not one of {', '.join(MODES)}")

    tiers_raw = r.get("value_capture.tiers")
    if not isinstance(tiers_raw, list) or not 1 <= len(tiers_raw) <= MAX_TIERS:
        raise r.fail("value_capture.tiers", f"expected 1 to {MAX_TIERS} {{name, price, burn}}")
    tiers = []
    for i, item in enumerate(tiers_raw):
        where = f"value_capture.tiers[{i}]"
        if not isinstance(item, dict) or not {"price", "burn"} <= item.keys():
            raise r.fail(where, "expected {name, price, burn}")
        price = r.usdc(f"{where}.price", item["price"])
        burn = r.usdc(f"{where}.burn", item["burn"])
        if price == 0:
            raise r.fail(f"{where}.price", "must be positive")
        if burn > price:
            raise r.fail(f"{where}.burn", "is above the price")
        tiers.append(Tier(str(item.get("name", i)), price, burn))
    min_window = r.integer(
        "value_capture.buyback.min_twap_window",
        r.get("value_capture.buyback.min_twap_window"),
        60,
        7 * 86_400,
    )
    csv = (r.data.get("airdrop") or {}).get("csv")

    timelock = r.get("governance.timelock")
    if not isinstance(timelock, bool):
        raise r.fail("governance.timelock", f"expected true or false, got {timelock!r}")
    governance = Governance(
        timelock=timelock,
        min_delay=r.integer(
            "governance.min_delay",
            r.get("governance.min_delay"),
            MIN_TIMELOCK_DELAY,
            MAX_TIMELOCK_DELAY,
        ),
        proposers=r.role_specs("governance.proposers", roles, anyone=False),
        executors=r.role_specs("governance.executors", roles, anyone=True),
    )
    usdc = r.address_or_local("value_capture.usdc", r.get("value_capture.usdc"))
    router = r.address_or_local("value_capture.router", r.get("value_capture.router"))
    if not timelock and router != "local":
        raise r.fail(
            "governance.timelock",
            "must be true in a config for a live market (value_capture.router is an address): "
            "a live deploy hands every owned contract to the timelock",
        )

    return DeployConfig(
        source=source,
        roles={k: str(v) for k, v in roles.items()},
        genesis=genesis,
        max_annual=max_annual,
        annual_rate=annual_rate,
        schedule=sorted(schedule),
        split_curve=curve,
        max_report_age=r.integer(
            "emissions.max_report_age", r.get("emissions.max_report_age"), 3_600, 30 * 86_400
        ),
        stale_staker_bps=r.integer(
            "emissions.stale_staker_bps", r.get("emissions.stale_staker_bps"), 0, BPS
        ),
        cooldown=r.integer("staking.cooldown", r.get("staking.cooldown"), 0, 365 * 86_400),
        locked_treasury_bps=r.integer(
            "staking.locked_treasury_bps", r.get("staking.locked_treasury_bps"), 0, BPS
        ),
        pro_threshold=r.tokens("staking.pro_threshold", r.get("staking.pro_threshold")),
        diem_cooldown=r.integer("diem.cooldown", r.get("diem.cooldown"), 0, 30 * 86_400),
        curve_rates=rates,
        launch_mode=MODES[mode],
        punitive_multiplier=r.integer(
            "diem.punitive_multiplier", r.get("diem.punitive_multiplier"), 2, MAX_PUNITIVE
        ),
        usdc=usdc,
        router=router,
        pool_seed_vvv=r.tokens("value_capture.pool_seed.vvv", r.get("value_capture.pool_seed.vvv")),
        pool_seed_usdc=r.usdc(
            "value_capture.pool_seed.usdc", r.get("value_capture.pool_seed.usdc")
        ),
        buyback_max_amount_in=r.usdc(
            "value_capture.buyback.max_amount_in", r.get("value_capture.buyback.max_amount_in")
        ),
        buyback_max_deviation_bps=r.integer(
            "value_capture.buyback.max_deviation_bps",
            r.get("value_capture.buyback.max_deviation_bps"),
            1,
            2_000,
        ),
        buyback_max_slippage_bps=r.integer(
            "value_capture.buyback.max_slippage_bps",
            r.get("value_capture.buyback.max_slippage_bps"),
            1,
            2_000,
        ),
        buyback_min_twap_window=min_window,
        buyback_max_twap_age=r.integer(
            "value_capture.buyback.max_twap_age",
            r.get("value_capture.buyback.max_twap_age"),
            2 * min_window,
            7 * 86_400,
        ),
        tiers=tiers,
        airdrop_window=r.integer("airdrop.window", r.get("airdrop.window"), 3_600, 365 * 86_400),
        airdrop_csv=(source.parent / str(csv)) if csv else None,
        governance=governance,
        raw=r.data,
    )
