"""The deploy config's rules, one case each: what `load_config` accepts from `config/default.yaml`
and the `ConfigError` it raises for each mistake (naming the file, the field and the problem).
Pure Python: no chain."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from venice_ops.deploy.config import DEFAULT_CONFIG, MAX_TIERS, ConfigError, load_config

VVV = 10**18
USDC = 10**6
DAY = 86_400
DELETE = object()
ADDRESS = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
DEFAULTS: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG.read_text())


def _write(tmp_path: Path, changes: dict[str, Any]) -> Path:
    """The default config with each dotted path set (or removed with DELETE), as a whole file."""
    data = copy.deepcopy(DEFAULTS)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def _entry(start: Any, annual: Any) -> dict[str, Any]:
    return {"start": start, "annual": annual}


def _tier(price: Any, burn: Any) -> dict[str, Any]:
    return {"name": "T", "price": price, "burn": burn}


GIVE = {"to": "deployer", "amount": 1}
CURVE_END = [10_000, 0]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # roles
        ({"roles": "deployer"}, "roles: expected a mapping of role -> account"),
        ({"roles.owner": DELETE}, "roles.owner: missing"),
        ({"roles.oracle": DELETE}, "roles.oracle: missing"),
        # genesis
        ({"genesis": []}, "genesis: expected a non-empty list of {name, to, amount}"),
        ({"genesis": "all"}, "genesis: expected a non-empty list of {name, to, amount}"),
        ({"genesis": [GIVE] * 17}, "genesis: at most 16 allocations"),
        ({"genesis": [{"to": "deployer"}]}, "genesis[0]: expected {name, to, amount}"),
        ({"genesis": [GIVE, "deployer"]}, "genesis[1]: expected {name, to, amount}"),
        ({"genesis": [{**GIVE, "amount": 0}]}, "genesis[0].amount: must be positive"),
        (
            {"genesis": [{**GIVE, "amount": "lots"}]},
            "genesis[0].amount: 'lots' is not a number (write amounts like 100 or 100.5)",
        ),
        (
            {"genesis": [{**GIVE, "amount": "1e-19"}]},
            "genesis[0].amount: '1e-19' has more than 18 decimal places",
        ),
        # emissions
        ({"emissions.max_annual": DELETE}, "emissions.max_annual: missing"),
        ({"emissions.max_annual": 0}, "emissions.max_annual: must be positive"),
        (
            {"emissions.max_annual": -1},
            "emissions.max_annual: '-1' is negative: amounts must be positive",
        ),
        (
            {"emissions.max_annual": 600_000_000},
            "emissions.max_annual: is above 581,736,521 VVV a year, the most whose per-second "
            "rate the staking contract holds",
        ),
        ({"emissions.annual_rate": 14_000_001}, "emissions.annual_rate: is above emissions.max"),
        ({"emissions.annual_rate": None}, "emissions.annual_rate: 'None' is not a number"),
        ({"emissions.schedule": DELETE}, "emissions.schedule: missing"),
        ({"emissions.schedule": [{"start": 1}]}, "emissions.schedule[0]: expected {start, annual}"),
        ({"emissions.schedule": {"start": 1}}, "emissions.schedule: expected a list of {start, a"),
        (
            {"emissions.schedule": [_entry(1, 1), _entry(2, 14_000_001)]},
            "emissions.schedule[1].annual: is above emissions.max_annual",
        ),
        (
            {"emissions.schedule": [_entry("soon", 1)]},
            "emissions.schedule[0].start: 'soon' is neither a unix time nor an ISO date",
        ),
        (
            {"emissions.schedule": [_entry(True, 1)]},
            "emissions.schedule[0].start: True is neither a unix time nor an ISO date",
        ),
        (
            {"emissions.schedule": [_entry(i, 1) for i in range(17)]},
            "emissions.schedule: at most 16 entries",
        ),
        (
            {"emissions.schedule": [_entry(100, 1), _entry("1970-01-01T00:01:40", 2)]},
            "emissions.schedule: two entries start at the same time",
        ),
        (
            {"emissions.split_curve": [[0, 8000]]},
            "emissions.split_curve: expected 2 to 8 [utilization_bps, staker_bps]",
        ),
        (
            {"emissions.split_curve": [[0, 1]] + [CURVE_END] * 8},
            "emissions.split_curve: expected 2 to 8 [utilization_bps, staker_bps]",
        ),
        (
            {"emissions.split_curve": [[0, 1], [10_000, 1, 3]]},
            "emissions.split_curve[1]: expected [utilization_bps, staker_bps]",
        ),
        (
            {"emissions.split_curve": [[0, 10_001], CURVE_END]},
            "emissions.split_curve[0]: 10001 is out of range (0..10000)",
        ),
        (
            {"emissions.split_curve": [[0, "half"], CURVE_END]},
            "emissions.split_curve[0]: expected a whole number, got 'half'",
        ),
        (
            {"emissions.split_curve": [[1, 0], CURVE_END]},
            "emissions.split_curve: must start at 0 and end at 10000 utilization",
        ),
        (
            {"emissions.split_curve": [[0, 0], [9_999, 0]]},
            "emissions.split_curve: must start at 0 and end at 10000 utilization",
        ),
        (
            {"emissions.split_curve": [[0, 0], [5_000, 0], [5_000, 1], CURVE_END]},
            "emissions.split_curve: utilization must strictly increase",
        ),
        (
            {"emissions.max_report_age": 60},
            "emissions.max_report_age: 60 is out of range (3600..2592000)",
        ),
        (
            {"emissions.stale_staker_bps": 10_001},
            "emissions.stale_staker_bps: 10001 is out of range (0..10000)",
        ),
        # staking
        ({"staking.cooldown": True}, "staking.cooldown: expected a whole number, got True"),
        ({"staking.cooldown": "7 days"}, "staking.cooldown: expected a whole number, got '7 days'"),
        (
            {"staking.cooldown": 365 * DAY + 1},
            "staking.cooldown: 31536001 is out of range (0..31536000)",
        ),
        (
            {"staking.locked_treasury_bps": -1},
            "staking.locked_treasury_bps: -1 is out of range (0..10000)",
        ),
        ({"staking.pro_threshold": "x"}, "staking.pro_threshold: 'x' is not a number"),
        # diem
        ({"diem.cooldown": 1.5}, "diem.cooldown: expected a whole number, got 1.5"),
        ({"diem.cooldown": 30 * DAY + 1}, "diem.cooldown: 2592001 is out of range (0..2592000)"),
        ({"diem.curve": {"base": 1}}, "diem.curve: expected {base, power, target}"),
        ({"diem.curve": [90, 2, 38_000]}, "diem.curve: expected {base, power, target}"),
        (
            {"diem.curve.base": "ninety"},
            "diem.curve: base, power and target must be numbers",
        ),
        (
            {"diem.curve.base": 0},
            "diem.curve: base and target must be positive, power not negative",
        ),
        (
            {"diem.curve.power": -1},
            "diem.curve: base and target must be positive, power not negative",
        ),
        (
            {"diem.curve.target": 0},
            "diem.curve: base and target must be positive, power not negative",
        ),
        (
            {"diem.curve.base": 1_000_000_000},
            "diem.curve: the curve passes 1e9 sVVV per DIEM within 500 DIEM",
        ),
        ({"diem.launch_mode": "shut"}, "diem.launch_mode: 'shut' is not one of closed, punitive"),
        (
            {"diem.punitive_multiplier": 1},
            "diem.punitive_multiplier: 1 is out of range (2..1000000)",
        ),
        # value capture
        (
            {"value_capture.usdc": "0x1234"},
            "value_capture.usdc: '0x1234' is neither 'local' nor a 0x address",
        ),
        (
            {"value_capture.router": "uniswap"},
            "value_capture.router: 'uniswap' is neither 'local' nor a 0x address",
        ),
        ({"value_capture.pool_seed.vvv": "x"}, "value_capture.pool_seed.vvv: 'x' is not a number"),
        (
            {"value_capture.pool_seed.usdc": "0.0000001"},
            "value_capture.pool_seed.usdc: '0.0000001' has more than 6 decimal places",
        ),
        ({"value_capture.pool_seed.usdc": DELETE}, "value_capture.pool_seed.usdc: missing"),
        (
            {"value_capture.buyback.max_amount_in": -5},
            "value_capture.buyback.max_amount_in: '-5' is negative",
        ),
        (
            {"value_capture.buyback.max_deviation_bps": 0},
            "value_capture.buyback.max_deviation_bps: 0 is out of range (1..2000)",
        ),
        (
            {"value_capture.buyback.max_slippage_bps": 2_001},
            "value_capture.buyback.max_slippage_bps: 2001 is out of range (1..2000)",
        ),
        (
            {"value_capture.buyback.min_twap_window": 59},
            "value_capture.buyback.min_twap_window: 59 is out of range (60..604800)",
        ),
        (
            {"value_capture.buyback.max_twap_age": 3_599},
            "value_capture.buyback.max_twap_age: 3599 is out of range (3600..604800)",
        ),
        (
            {"value_capture.buyback.max_twap_age": 7 * DAY + 1},
            "value_capture.buyback.max_twap_age: 604801 is out of range (3600..604800)",
        ),
        (
            {"value_capture.tiers": []},
            f"value_capture.tiers: expected 1 to {MAX_TIERS} {{name, price, burn}}",
        ),
        (
            {"value_capture.tiers": [_tier(1, 0)] * (MAX_TIERS + 1)},
            f"value_capture.tiers: expected 1 to {MAX_TIERS} {{name, price, burn}}",
        ),
        (
            {"value_capture.tiers": [{"price": 1}]},
            "value_capture.tiers[0]: expected {name, price, burn}",
        ),
        ({"value_capture.tiers": [_tier(0, 0)]}, "value_capture.tiers[0].price: must be positive"),
        (
            {"value_capture.tiers": [_tier(1, 0), _tier(2, 3)]},
            "value_capture.tiers[1].burn: is above the price",
        ),
        ({"value_capture.tiers": [_tier("$5", 0)]}, "value_capture.tiers[0].price: '$5' is not"),
        # governance (the rest in tests/test_governance.py)
        (
            {"governance.executors": ["owner"] * 17},
            "governance.executors: at most 16 accounts",
        ),
        ({"governance.min_delay": DELETE}, "governance.min_delay: missing"),
        # airdrop
        ({"airdrop.window": 60}, "airdrop.window: 60 is out of range (3600..31536000)"),
    ],
)
def test_config__each_mistake__names_file_field_and_problem(tmp_path, changes, message):
    path = _write(tmp_path, changes)
    error = _error(path)
    assert error.startswith(f"{path}: {message}"), error
    assert "\n" not in error


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"emissions": 5}, "emissions: expected a mapping"),
        ({"staking": None}, "staking: expected a mapping"),
        ({"value_capture.buyback": [1]}, "value_capture.buyback: expected a mapping"),
        ({"airdrop": DELETE}, "airdrop: missing"),
        ({"diem.curve.base": float("nan")}, "diem.curve: base, power and target must be numbers"),
        ({"diem.curve.power": "inf"}, "diem.curve: base, power and target must be numbers"),
    ],
)
def test_config__a_section_not_a_mapping_or_missing__named(tmp_path, changes, message):
    path = _write(tmp_path, changes)
    assert _error(path) == f"{path}: {message}"


def test_config__several_mistakes__the_first_one_reported(tmp_path):
    path = _write(tmp_path, {"emissions.max_annual": 0, "airdrop.window": 1})
    assert _error(path) == f"{path}: emissions.max_annual: must be positive"


def test_config__defaults__as_protocol_md_sets_them():
    config = load_config()
    assert config.source == DEFAULT_CONFIG
    assert config.roles == {r: "deployer" for r in ("owner", "treasury", "oracle", "keeper")}
    assert [(g.name, g.to, g.amount) for g in config.genesis] == [
        ("airdrop", "deployer", 50_000_000 * VVV),
        ("team", "treasury", 35_000_000 * VVV),
        ("incentives", "deployer", 10_000_000 * VVV),
        ("liquidity", "deployer", 5_000_000 * VVV),
    ]
    assert config.max_annual == config.annual_rate == 14_000_000 * VVV
    assert config.schedule == []
    assert config.split_curve == [(0, 8000), (5000, 2000), (10000, 8000)]
    assert (config.max_report_age, config.stale_staker_bps) == (2 * DAY, 8000)
    assert (config.cooldown, config.locked_treasury_bps) == (7 * DAY, 2000)
    assert config.pro_threshold == 100 * VVV
    assert config.diem_cooldown == DAY
    assert config.curve_rates[0] == 90 * VVV and len(config.curve_rates) >= 2
    assert (config.launch_mode, config.punitive_multiplier) == (2, 100)
    assert (config.usdc, config.router) == ("local", "local")
    assert (config.pool_seed_vvv, config.pool_seed_usdc) == (1_000_000 * VVV, 2_000_000 * USDC)
    assert config.buyback_max_amount_in == 50_000 * USDC
    assert (config.buyback_max_deviation_bps, config.buyback_max_slippage_bps) == (300, 500)
    assert (config.buyback_min_twap_window, config.buyback_max_twap_age) == (1_800, DAY)
    assert [(t.name, t.price, t.burn) for t in config.tiers] == [
        ("Pro", 18 * USDC, 2 * USDC),
        ("Pro+", 68 * USDC, 5 * USDC),
        ("Max", 200 * USDC, 10 * USDC),
    ]
    assert (config.airdrop_window, config.airdrop_csv) == (45 * DAY, None)
    governance = config.governance
    assert (governance.timelock, governance.min_delay) == (False, 8 * DAY)
    assert (governance.proposers, governance.executors) == (["owner"], ["owner"])
    assert config.raw["diem"]["launch_mode"] == "open"


def test_config__numbers_as_yaml_writes_them__exact_integers(tmp_path):
    path = tmp_path / "numbers.yaml"
    path.write_text(
        f"extends: {DEFAULT_CONFIG}\n"
        "genesis:\n"
        "  - {to: deployer, amount: 1e6}\n"  # a string to YAML 1.1
        "  - {to: deployer, amount: 1.5e+3}\n"  # a float
        "  - {to: deployer, amount: '2_500.000000000000000001'}\n"
        "  - {to: deployer, amount: 0.1}\n"
        "emissions: {max_annual: 14_000_000, annual_rate: '1,000,000'}\n"
        "value_capture: {tiers: [{price: 17.99, burn: 0.000001}]}\n"
    )
    config = load_config(path)
    assert [g.amount for g in config.genesis] == [
        10**6 * VVV,
        1_500 * VVV,
        2_500 * VVV + 1,
        VVV // 10,
    ]
    assert [g.name for g in config.genesis] == ["0", "1", "2", "3"]  # unnamed: the index
    assert (config.max_annual, config.annual_rate) == (14_000_000 * VVV, 1_000_000 * VVV)
    assert [(t.name, t.price, t.burn) for t in config.tiers] == [("0", 17_990_000, 1)]
    assert all(type(v) is int for v in (config.max_annual, config.tiers[0].price))


def test_config__schedule__dates_or_unix_times_sorted(tmp_path):
    path = tmp_path / "schedule.yaml"
    path.write_text(
        f"extends: {DEFAULT_CONFIG}\n"
        "emissions:\n"
        "  schedule:\n"
        "    - {start: 2026-02-10, annual: 6_000_000}\n"  # a YAML date
        "    - {start: '2025-08-20', annual: 10_000_000}\n"
        "    - {start: '2026-03-01T12:00:00+02:00', annual: 1}\n"
        "    - {start: 1700000000, annual: 0}\n"
    )
    config = load_config(path)

    def utc(*args: int) -> int:
        return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp())

    assert config.schedule == [
        (1_700_000_000, 0),
        (utc(2025, 8, 20), 10_000_000 * VVV),
        (utc(2026, 2, 10), 6_000_000 * VVV),
        (utc(2026, 3, 1, 10), VVV),
    ]
    history = load_config(DEFAULT_CONFIG.parent / "history.yaml")
    assert len(history.schedule) == 7 and history.schedule[0] == (utc(2025, 8, 20), 10**25)


def test_config__schedule_null__no_changes(tmp_path):
    assert load_config(_write(tmp_path, {"emissions.schedule": None})).schedule == []


def test_config__extends__merges_sections_and_resolves_relative_paths(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(f"extends: {DEFAULT_CONFIG}\nstaking: {{cooldown: 60}}\n")
    (tmp_path / "drop.csv").write_text("address,amount\n")
    top = tmp_path / "top.yaml"
    top.write_text(
        "extends: base.yaml\n"
        "staking: {locked_treasury_bps: 0}\n"
        "airdrop: {csv: drop.csv}\n"
        f"roles: {{keeper: test:5, treasury: '{ADDRESS}'}}\n"  # quoted: YAML reads 0x.. as a number
    )
    config = load_config(str(top))
    assert config.source == top
    assert (config.cooldown, config.locked_treasury_bps, config.pro_threshold) == (60, 0, 100 * VVV)
    assert config.airdrop_csv == tmp_path / "drop.csv"
    assert config.airdrop_window == 45 * DAY  # the default's, merged in
    assert config.roles["keeper"] == "test:5" and config.roles["treasury"] == ADDRESS


def test_config__live_market_with_timelock__addresses_kept(tmp_path):
    changes = {
        "value_capture.usdc": f" {ADDRESS} ",
        "value_capture.router": ADDRESS.lower(),
        "governance.timelock": True,
        "governance.proposers": ["owner", "deployer", ADDRESS, "test:3"],
        "governance.executors": ["anyone"],
    }
    config = load_config(_write(tmp_path, changes))
    assert (config.usdc, config.router) == (ADDRESS, ADDRESS.lower())
    assert config.governance.proposers == ["owner", "deployer", ADDRESS, "test:3"]


def test_config__file_mistakes(tmp_path):
    missing = tmp_path / "missing.yaml"
    assert _error(missing) == f"config file {missing} does not exist"

    broken = tmp_path / "broken.yaml"
    broken.write_text("roles: [owner\n")
    assert _error(broken).startswith(f"{broken}: not valid YAML: ")

    listed = tmp_path / "listed.yaml"
    listed.write_text("- roles\n- genesis\n")
    assert _error(listed) == f"{listed}: the top level must be a mapping of sections"

    loop = tmp_path / "loop.yaml"
    loop.write_text("extends: loop.yaml\n")
    assert _error(loop).endswith("loop.yaml: 'extends' nests too deep")

    orphan = tmp_path / "orphan.yaml"
    orphan.write_text("extends: nowhere.yaml\n")
    assert _error(orphan) == f"config file {tmp_path / 'nowhere.yaml'} does not exist"

    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    assert _error(empty) == f"{empty}: roles: missing"
