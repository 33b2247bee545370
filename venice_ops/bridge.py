"""From a deployment, or from a deploy config, to `venice_sdk.model`: the one place the
tooling and the tests turn contracts or settings into the pure-Python model.

- `system_model`: the model of a suite deployed with a config (genesis as given, the rate and
  the launch mode as configured unless the chain says otherwise).
- `fresh_model`: the whole suite as `deploy_suite` leaves it on a local network (the simulator's
  model backend starts from it).
- `value_model_of`: the pair, burner and subscriptions of a deployed suite as they stand.

The simulator (`venice_ops.sim`) and the tests' fixtures (`tests/conftest.py`) both use these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from venice_ops.deploy.config import DeployConfig
from venice_sdk.model import SystemModel
from venice_sdk.model.value import (
    MAX_TIERS,
    BurnerModel,
    PairModel,
    SubscriptionsModel,
    ValueModel,
)

if TYPE_CHECKING:  # ape only for the type: the model backend runs without a node
    from venice_ops.deploy.suite import Suite

__all__ = ["Roles", "fresh_model", "system_model", "value_model_of"]


@dataclass
class Roles:
    """Who is who: addresses on the chain, the same strings in the model."""

    deployer: str  # owner, keeper and USDC minter
    treasury: str
    oracle: str
    pair: str
    burner: str
    subscriptions: str
    airdrop: str
    diem: str


def system_model(
    config: DeployConfig,
    *,
    now: int,
    genesis: dict[str, int],
    treasury: str,
    annual_rate: int | None = None,
    launch_mode: int | None = None,
) -> SystemModel:
    """The model of a suite deployed with `config`: genesis balances as given, the rate and
    launch mode as configured unless the chain says otherwise."""
    return SystemModel.create(
        now=now,
        genesis=genesis,
        treasury=treasury,
        max_annual=config.max_annual,
        annual_rate=config.annual_rate if annual_rate is None else annual_rate,
        curve=config.split_curve,
        max_report_age=config.max_report_age,
        stale_staker_bps=config.stale_staker_bps,
        cooldown=config.cooldown,
        locked_treasury_bps=config.locked_treasury_bps,
        pro_threshold=config.pro_threshold,
        curve_rates=config.curve_rates,
        launch_mode=config.launch_mode if launch_mode is None else launch_mode,
        punitive_multiplier=config.punitive_multiplier,
        diem_cooldown=config.diem_cooldown,
    )


def fresh_model(config: DeployConfig, start: int, roles: Roles) -> SystemModel:
    """The suite as `deploy_suite` leaves it on a local network, every deploy transaction
    at `start`: genesis as configured, the pool seeded by the deployer, both observations of
    the burner at `start`."""
    genesis: dict[str, int] = {}
    for allocation in config.genesis:
        holder = roles.treasury if allocation.to == "treasury" else roles.deployer
        genesis[holder] = genesis.get(holder, 0) + allocation.amount
    system = system_model(config, now=start, genesis=genesis, treasury=roles.treasury)
    system.transfer(roles.deployer, roles.pair, config.pool_seed_vvv)
    system.value = ValueModel(
        pair=PairModel(config.pool_seed_usdc, config.pool_seed_vvv, 0, start & 0xFFFFFFFF),
        burner=BurnerModel(
            max_amount_in=config.buyback_max_amount_in,
            max_deviation_bps=config.buyback_max_deviation_bps,
            max_slippage_bps=config.buyback_max_slippage_bps,
            min_twap_window=config.buyback_min_twap_window,
            max_twap_age=config.buyback_max_twap_age,
            older=(start, 0),
            newer=(start, 0),
            keepers={roles.deployer},
        ),
        subscriptions=SubscriptionsModel([(t.price, t.burn) for t in config.tiers]),
        pool=roles.pair,
        burner_holder=roles.burner,
        treasury=roles.treasury,
    )
    system.value.mint_usdc(roles.pair, config.pool_seed_usdc)
    return system


def value_model_of(suite: Suite, keeper: str, holders: list[str]) -> ValueModel:
    """The pair, the burner and the subscriptions of a deployed suite as they stand, in the
    model's terms, with the USDC of `holders` (and of the pair, burner and subscriptions)."""
    pair, burner, subs, usdc = suite.pair, suite.burner, suite.subscriptions, suite.usdc
    usdc_is_token0 = pair.token0() == usdc.address
    r0, r1, last = pair.getReserves()
    cumulative = pair.price0CumulativeLast() if usdc_is_token0 else pair.price1CumulativeLast()
    older_t, older_c, newer_t, newer_c = burner.observations()
    value = ValueModel(
        pair=PairModel(
            reserve_usdc=r0 if usdc_is_token0 else r1,
            reserve_vvv=r1 if usdc_is_token0 else r0,
            cumulative=cumulative,
            last=last,
        ),
        burner=BurnerModel(
            max_amount_in=burner.maxAmountIn(),
            max_deviation_bps=burner.maxDeviationBps(),
            max_slippage_bps=burner.maxSlippageBps(),
            min_twap_window=burner.minTwapWindow(),
            max_twap_age=burner.maxTwapAge(),
            older=(older_t, older_c),
            newer=(newer_t, newer_c),
            keepers={keeper},
            total_spent=burner.totalSpent(),
            total_bought=burner.totalBought(),
            total_burned=burner.totalBurned(),
        ),
        subscriptions=SubscriptionsModel(
            tiers=[tuple(subs.tiers(i)) for i in range(MAX_TIERS)],
            total_paid=subs.totalPaid(),
            total_burn_part=subs.totalBurnPart(),
        ),
        pool=str(pair.address),
        burner_holder=str(burner.address),
        treasury=str(subs.treasury()),
    )
    for holder in [*holders, pair.address, burner.address, subs.address]:
        value.usdc[str(holder)] = usdc.balanceOf(holder)
    value.usdc_minted = usdc.totalSupply()
    return value
