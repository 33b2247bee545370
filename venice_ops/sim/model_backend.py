"""The `model` backend: the pure-Python mirror of the contracts (`venice_sdk.model`), stepped
through the same actions at the same timestamps as the chain backend.

Every action takes the next second, as a transaction mined in its own block would, and raises
`ActionFailed` with the contract's revert reason when the model refuses it. Each action checks
everything before it changes anything, so a refused action leaves the state as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from venice_ops.bridge import Roles, fresh_model
from venice_ops.deploy.config import DeployConfig
from venice_sdk.model import ModelRevert, SystemModel
from venice_sdk.model.airdrop import AirdropModel
from venice_sdk.model.curve import OPEN

DEADLINE_DELAY = 600


class ActionFailed(Exception):
    """An agent's action that the contracts refuse; `reason` is the revert reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ModelBackend:
    name = "model"

    def __init__(self, system: SystemModel, roles: Roles, keeper: str, clock: int):
        assert system.value is not None, "the model needs its value capture"
        self.system, self.value = system, system.value
        self.roles, self.keeper = roles, keeper
        self.clock = clock
        self.transactions = 0

    # --- construction --------------------------------------------------------------------

    @classmethod
    def fresh(cls, config: DeployConfig, start: int) -> ModelBackend:
        """The suite as `deploy_suite` leaves it on a local network, every deploy transaction
        at `start`: genesis as configured, the pool seeded by the deployer, both observations
        of the burner at `start`."""
        roles = Roles(
            deployer="deployer",
            treasury="treasury",
            oracle="oracle",
            pair="pair",
            burner="burner",
            subscriptions="subscriptions",
            airdrop="airdrop",
            diem="diem",
        )
        system = fresh_model(config, start, roles)
        return cls(system, roles, roles.deployer, start)

    # --- the clock -----------------------------------------------------------------------

    def warp(self, timestamp: int) -> None:
        """The next action happens at `timestamp` (or the next second, if that has passed)."""
        self.clock = max(self.clock, timestamp - 1)

    def mark(self, timestamp: int) -> None:
        """Close the day at `timestamp`: reads from now on are as of then."""
        self.clock = max(self.clock + 1, timestamp)

    def _run(self, action: Callable[[int], Any]) -> Any:
        """One transaction at the next second; a refusal still takes its second."""
        self.clock += 1
        self.transactions += 1
        try:
            return action(self.clock)
        except ModelRevert as exc:
            raise ActionFailed(exc.reason) from None

    # --- setup (before day 0) ------------------------------------------------------------

    def add_agent(self, agent: str, vvv: int, usdc: int, kind: str) -> None:
        """Fund an agent (approvals are implicit in the model)."""
        if vvv:
            self.system.transfer(self.roles.deployer, agent, vvv)
        if usdc:
            self.value.mint_usdc(agent, usdc)

    def open_airdrop(self, allocations: dict[str, int], window: int) -> int:
        """Fund the airdrop from the deployer; claims close `window` seconds from now."""
        self.system.transfer(self.roles.deployer, self.roles.airdrop, sum(allocations.values()))
        deadline = self.clock + window
        self.system.airdrop = AirdropModel(dict(allocations), deadline, self.roles.airdrop)
        return deadline

    # --- actions: each one transaction ---------------------------------------------------

    def stake(self, agent: str, amount: int) -> None:
        self._run(lambda now: self.system.stake(now, agent, agent, amount))

    def initiate_unstake(self, agent: str, amount: int) -> None:
        self._run(lambda now: self.system.initiate_unstake(now, agent, amount))

    def finalize_unstake(self, agent: str) -> int:
        return int(self._run(lambda now: self.system.finalize_unstake(now, agent)))

    def claim(self, agent: str) -> int:
        return int(self._run(lambda now: self.system.claim(now, agent)))

    def claim_and_stake(self, agent: str) -> int:
        return int(self._run(lambda now: self.system.claim_and_stake(now, agent)))

    def release_treasury(self) -> int:
        return int(self._run(lambda now: self.system.release_treasury(now)))

    def mint_diem(self, agent: str, svvv: int, min_out: int) -> int:
        return int(self._run(lambda now: self.system.mint_diem(now, agent, svvv, min_out)))

    def burn_diem(self, agent: str, amount: int) -> int:
        return int(self._run(lambda now: self.system.burn_diem(now, agent, amount)))

    def diem_stake(self, agent: str, amount: int) -> None:
        self._run(lambda now: self.system.diem.stake(now, agent, amount))

    def diem_transfer(self, sender: str, receiver: str, amount: int) -> None:
        self._run(lambda now: self.system.diem.transfer(sender, receiver, amount))

    def usdc_transfer(self, sender: str, receiver: str, amount: int) -> None:
        self._run(lambda now: self.value.transfer_usdc(sender, receiver, amount))

    def sell_vvv(self, agent: str, amount: int, min_out: int) -> int:
        return int(self._run(lambda now: self.system.sell_vvv(now, agent, amount, min_out)))

    def buy_vvv(self, agent: str, usdc: int, min_out: int) -> int:
        return int(self._run(lambda now: self.system.buy_vvv(now, agent, usdc, min_out)))

    def subscribe(self, payer: str, tier: int, periods: int, recipient: str) -> int:
        return int(
            self._run(lambda now: self.system.subscribe(now, payer, tier, periods, recipient))
        )

    def deposit_revenue(self, amount: int) -> None:
        self._run(lambda now: self.value.mint_usdc(self.roles.burner, amount))

    def keeper_update(self) -> bool:
        return bool(self._run(self.value.update))

    def buyback(self, amount_in: int, min_out: int) -> int:
        return int(
            self._run(
                lambda now: self.system.buyback(
                    now, self.keeper, amount_in, min_out, now + DEADLINE_DELAY
                )
            )
        )

    def airdrop_claim(self, agent: str, amount: int, stake: bool) -> None:
        self._run(lambda now: self.system.claim_airdrop(now, agent, amount, stake))

    def airdrop_burn(self) -> int:
        return int(self._run(self.system.burn_unclaimed))

    def report_utilization(self, bps: int) -> None:
        self._run(lambda now: self.system.report_utilization(now, bps))

    def set_annual_rate(self, annual: int) -> None:
        self._run(lambda now: self.system.set_annual_rate(now, annual))

    def set_split_curve(self, curve: list[tuple[int, int]]) -> None:
        self._run(lambda now: self.system.set_split_curve(now, curve))

    def set_mint_curve(self, rates: list[int]) -> None:
        self._run(lambda now: self.system._curve().set_curve(rates))

    def set_launch_mode(self, mode: int) -> None:
        curve = self.system._curve()
        self._run(lambda now: curve.set_launch_mode(mode, curve.punitive_multiplier))

    def set_tier(self, tier: int, price: int, burn: int) -> None:
        self._run(lambda now: self.value.subscriptions.set_tier(tier, price, burn))

    # --- reads (as of the last action) ---------------------------------------------------

    def vvv_balance(self, holder: str) -> int:
        return self.system.balance(holder)

    def usdc_balance(self, holder: str) -> int:
        return self.value.usdc_balance(holder)

    def stake_of(self, agent: str) -> tuple[int, int, int]:
        """(staked, locked, cooling)."""
        a = self.system.staking.account(agent)
        return a.staked, a.locked, a.cooling

    def pending(self, agent: str) -> int:
        return self.system.staking.pending_rewards(agent, self.clock)

    def quote_mint(self, svvv: int) -> int:
        """DIEM that locking `svvv` mints now; 0 when the curve refuses."""
        try:
            return self.system.quote_mint(svvv)
        except ModelRevert:
            return 0

    def launch_open(self) -> bool:
        curve = self.system.curve
        return curve is not None and curve.mode == OPEN

    def pool_usdc_for_vvv(self, vvv: int) -> int:
        return self.value.pair.usdc_out(vvv)

    def pool_vvv_for_usdc(self, usdc: int) -> int:
        return self.value.pair.amount_out(usdc)

    def buyback_floor(self, amount_in: int) -> int | None:
        """What `ValueModel.guard` says of a buyback at the next second."""
        return self.value.guard(self.clock + 1, amount_in)

    def metrics(self) -> dict[str, int]:
        """The day's aggregate state, as of the clock."""
        s, v, now = self.system, self.value, self.clock
        e = s.emissions
        return {
            "supply": s.total_supply,
            "burned": s.burned,
            "emitted": e.emitted(now),
            "staked": s.staking.total_staked,
            "locked": s.staking.total_locked,
            "cooling": s.staking.total_cooling,
            "annual_rate": e.annual_at(now),
            "staker_bps": e.staker_bps_at(now),
            "diem_supply": s.diem.total_supply,
            "diem_staked": s.diem.total_staked,
            "mint_rate": s.curve.rate_at(s.staking.total_diem_outstanding) if s.curve else 0,
            "treasury_vvv": s.balance(self.roles.treasury),
            "treasury_usdc": v.usdc_balance(self.roles.treasury),
            "pool_vvv": v.pair.reserve_vvv,
            "pool_usdc": v.pair.reserve_usdc,
            "burner_usdc": v.usdc_balance(self.roles.burner),
            "buyback_burned": v.burner.total_burned,
            "subs_paid": v.subscriptions.total_paid,
            "airdrop_vvv": s.balance(self.roles.airdrop),
        }

    def supply_reads(self, agents: list[str]) -> dict[str, int]:
        """What circulating supply and yield need, as of the clock: the `agents`' pending
        rewards summed, the treasury's releasable VVV, the stakers' emissions so far."""
        staking, now = self.system.staking, self.clock
        rpt = staking._accrued_view(now)[0]
        accounts = staking.accounts
        pending = 0
        for agent in agents:
            a = accounts.get(agent)
            if a is not None and (a.staked or a.rewards):
                pending += a.rewards + staking._earned(a, rpt)
        return {
            "pending_rewards": pending,
            "treasury_releasable": staking.treasury_releasable(now),
            "staker_emitted": self.system.emissions.staker_emitted(now),
        }

    def account_states(self, agents: list[str]) -> dict[str, tuple[int, ...]]:
        return {a: self.account_state(a) for a in agents}

    def account_state(self, agent: str) -> tuple[int, ...]:
        """Everything one agent holds, for the daily equivalence check."""
        s = self.system
        a = s.staking.account(agent)
        d = s.diem.stake_of(agent)
        return (
            s.balance(agent),
            self.value.usdc_balance(agent),
            s.diem.balance(agent),
            a.staked,
            a.locked,
            a.outstanding_diem,
            a.cooling,
            s.staking.pending_rewards(agent, self.clock),
            d.staked,
            d.cooling,
        )
