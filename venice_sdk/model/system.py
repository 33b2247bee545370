"""The token economy as one model: VVV balances and supply, emissions and staking.

Addresses are plain strings; the staking contract's own VVV balance is held under `STAKING`.
Controller changes checkpoint the staking model first, as the contracts do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from venice_sdk.model.airdrop import AirdropModel
from venice_sdk.model.curve import OPEN, MintCurveModel, default_rates
from venice_sdk.model.diem import DIEM, STAKING, DiemModel
from venice_sdk.model.emissions import EmissionsModel, check_curve, check_stale, curve_at, require
from venice_sdk.model.staking import StakingModel
from venice_sdk.model.value import ValueModel

__all__ = [
    "STAKING",
    "SystemModel",
]


@dataclass
class SystemModel:
    emissions: EmissionsModel
    staking: StakingModel
    treasury: str
    curve: MintCurveModel | None = None
    diem: DiemModel = field(default_factory=lambda: DiemModel(cooldown=86_400))
    balances: dict[str, int] = field(default_factory=dict)
    genesis: int = 0
    minted: int = 0  # emissions minted after genesis
    burned: int = 0
    claimed: int = 0  # rewards paid to stakers (claim and claimAndStake)
    value: ValueModel | None = None  # USDC, the VVV/USDC pair, buyback-burner, subscriptions
    airdrop: AirdropModel | None = None

    @classmethod
    def create(
        cls,
        *,
        now: int,
        genesis: dict[str, int],
        treasury: str,
        max_annual: int,
        annual_rate: int,
        curve: list[tuple[int, int]],
        max_report_age: int,
        stale_staker_bps: int,
        cooldown: int,
        locked_treasury_bps: int,
        pro_threshold: int,
        schedule: list[tuple[int, int]] | None = None,
        curve_rates: list[int] | None = None,
        launch_mode: int = OPEN,
        punitive_multiplier: int = 100,
        diem_cooldown: int = 86_400,
    ) -> SystemModel:
        emissions = EmissionsModel(
            max_annual=max_annual,
            annual_rate=annual_rate,
            curve=list(curve),
            max_report_age=max_report_age,
            stale_staker_bps=stale_staker_bps,
            last_checkpoint=now,
        )
        staking = StakingModel(
            emissions=emissions,
            cooldown=cooldown,
            locked_treasury_bps=locked_treasury_bps,
            pro_threshold=pro_threshold,
            last_update=now,
        )
        mint_curve = None
        if curve_rates is not None:
            mint_curve = MintCurveModel(curve_rates, launch_mode, punitive_multiplier)
        model = cls(
            emissions=emissions,
            staking=staking,
            treasury=treasury,
            curve=mint_curve,
            diem=DiemModel(cooldown=diem_cooldown),
        )
        for holder, amount in genesis.items():
            model.balances[holder] = model.balances.get(holder, 0) + amount
            model.genesis += amount
        for start, annual in schedule or []:
            model.schedule_rate(now, start, annual)
        return model

    @classmethod
    def with_defaults(cls, *, now: int, genesis: dict[str, int], treasury: str) -> SystemModel:
        """A model with PROTOCOL.md's defaults (those of `config/default.yaml`)."""
        unit = 10**18
        return cls.create(
            now=now,
            genesis=genesis,
            treasury=treasury,
            max_annual=14_000_000 * unit,
            annual_rate=14_000_000 * unit,
            curve=[(0, 8_000), (5_000, 2_000), (10_000, 8_000)],
            max_report_age=2 * 86_400,
            stale_staker_bps=8_000,
            cooldown=7 * 86_400,
            locked_treasury_bps=2_000,
            pro_threshold=100 * unit,
            curve_rates=default_rates(),
        )

    # --- VVV -----------------------------------------------------------------------------

    @property
    def total_supply(self) -> int:
        return self.genesis + self.minted - self.burned

    def balance(self, holder: str) -> int:
        return self.balances.get(holder, 0)

    def _move(self, sender: str, receiver: str, amount: int) -> None:
        require(self.balance(sender) >= amount, "erc20: transfer amount exceeds balance")
        self.balances[sender] = self.balance(sender) - amount
        self.balances[receiver] = self.balance(receiver) + amount

    def _mint(self, receiver: str, amount: int) -> None:
        self.balances[receiver] = self.balance(receiver) + amount
        self.minted += amount

    def transfer(self, sender: str, receiver: str, amount: int) -> None:
        self._move(sender, receiver, amount)

    def burn(self, holder: str, amount: int) -> None:
        require(self.balance(holder) >= amount, "erc20: burn amount exceeds balance")
        self.balances[holder] = self.balance(holder) - amount
        self.burned += amount

    # --- staking -------------------------------------------------------------------------

    def stake(self, now: int, sender: str, recipient: str, amount: int) -> None:
        require(amount > 0, "sVVV: zero amount")
        require(recipient not in (STAKING, DIEM), "sVVV: bad recipient")
        require(self.balance(sender) >= amount, "erc20: transfer amount exceeds balance")
        self.staking.stake(now, recipient, amount)
        self._move(sender, STAKING, amount)

    def initiate_unstake(self, now: int, account: str, amount: int) -> None:
        self.staking.initiate_unstake(now, account, amount)

    def finalize_unstake(self, now: int, account: str) -> int:
        amount = self.staking.finalize_unstake(now, account)
        self._move(STAKING, account, amount)
        return amount

    def claim(self, now: int, account: str) -> int:
        amount = self.staking.claim(now, account)
        self._mint(account, amount)
        self.claimed += amount
        return amount

    def claim_and_stake(self, now: int, account: str) -> int:
        amount = self.staking.claim_and_stake(now, account)
        self._mint(STAKING, amount)
        self.claimed += amount
        return amount

    def release_treasury(self, now: int) -> int:
        amount = self.staking.release_treasury(now)
        self._mint(self.treasury, amount)
        return amount

    # --- DIEM ----------------------------------------------------------------------------

    def _curve(self) -> MintCurveModel:
        require(self.curve is not None, "sVVV: DIEM not set")
        assert self.curve is not None
        return self.curve

    def quote_mint(self, svvv: int) -> int:
        return self._curve().quote_mint(self.staking.total_diem_outstanding, svvv)

    def quote_cost(self, diem_amount: int) -> int:
        return self._curve().quote_cost(self.staking.total_diem_outstanding, diem_amount)

    def mint_diem(self, now: int, account: str, svvv: int, min_out: int) -> int:
        require(svvv > 0, "sVVV: zero amount")
        out = self.quote_mint(svvv)
        require(out > 0, "sVVV: mints no DIEM")
        require(out >= min_out, "sVVV: slippage")
        self.staking.lock(now, account, svvv, out)
        self.diem.mint(account, out)
        return out

    def mint_exact_diem(self, now: int, account: str, diem_amount: int, max_in: int) -> int:
        require(diem_amount > 0, "sVVV: zero amount")
        cost = self.quote_cost(diem_amount)
        require(cost > 0, "sVVV: locks no sVVV")
        require(cost <= max_in, "sVVV: slippage")
        self.staking.lock(now, account, cost, diem_amount)
        self.diem.mint(account, diem_amount)
        return cost

    def burn_diem(self, now: int, account: str, diem_amount: int) -> int:
        released = self.staking.unlock(now, account, diem_amount)
        self.diem.burn(account, diem_amount)
        return released

    # --- value capture -------------------------------------------------------------------

    def _value(self) -> ValueModel:
        require(self.value is not None, "model: no value capture")
        assert self.value is not None
        return self.value

    def subscribe(self, now: int, payer: str, tier: int, periods: int, recipient: str) -> int:
        return self._value().subscribe(now, payer, tier, periods, recipient)

    def buyback(self, now: int, keeper: str, amount_in: int, min_out: int, deadline: int) -> int:
        """A keeper's buyback: the pair pays out VVV to the burner, which burns all the VVV it
        holds (what it bought and anything sent to it). Returns the VVV burned."""
        v = self._value()
        bought = v.buyback(now, keeper, amount_in, min_out, deadline)
        self._move(v.pool, v.burner_holder, bought)
        burned = self.balance(v.burner_holder)
        self.burn(v.burner_holder, burned)
        v.burner.total_burned += burned
        return burned

    def sell_vvv(self, now: int, seller: str, amount: int, min_out: int) -> int:
        """Router `swapExactTokensForTokens` of VVV for USDC; returns the USDC out."""
        return self._swap(now, seller, amount, min_out, vvv_in=True)

    def buy_vvv(self, now: int, buyer: str, amount: int, min_out: int) -> int:
        """Router `swapExactTokensForTokens` of USDC for VVV; returns the VVV out."""
        return self._swap(now, buyer, amount, min_out, vvv_in=False)

    def _swap(self, now: int, trader: str, amount: int, min_out: int, vvv_in: bool) -> int:
        v = self._value()
        out = v.pair.usdc_out(amount) if vvv_in else v.pair.amount_out(amount)
        require(out >= min_out, "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT")
        held = self.balance(trader) if vvv_in else v.usdc_balance(trader)
        require(held >= amount, "erc20: transfer amount exceeds balance")
        if vvv_in:
            v.pair.swap_vvv_for_usdc(now, amount)
            self._move(trader, v.pool, amount)
            v.transfer_usdc(v.pool, trader, out)
        else:
            v.pair.swap_usdc_for_vvv(now, amount)
            v.transfer_usdc(trader, v.pool, amount)
            self._move(v.pool, trader, out)
        return out

    def burn_vvv(self) -> int:
        """`BuybackBurner.burnVvv`: burns VVV sent to the burner directly."""
        v = self._value()
        amount = self.balance(v.burner_holder)
        require(amount > 0, "buyback: nothing to burn")
        self.burn(v.burner_holder, amount)
        v.burner.total_burned += amount
        return amount

    # --- airdrop -------------------------------------------------------------------------

    def _airdrop(self) -> AirdropModel:
        require(self.airdrop is not None, "model: no airdrop")
        assert self.airdrop is not None
        return self.airdrop

    def claim_airdrop(self, now: int, account: str, amount: int, stake: bool) -> None:
        """A claim to the wallet, or staked for the claimer (the distributor pays the stake)."""
        a = self._airdrop()
        a.check_claim(now, account, amount)
        if stake:
            self.stake(now, a.holder, account, amount)
        else:
            self._move(a.holder, account, amount)
        a.claim(now, account, amount)

    def burn_unclaimed(self, now: int) -> int:
        a = self._airdrop()
        amount = self.balance(a.holder)
        a.check_burn(now, amount)
        self.burn(a.holder, amount)
        a.total_burned += amount
        return amount

    # --- governance and oracle -----------------------------------------------------------

    def set_annual_rate(self, now: int, annual: int) -> None:
        self.emissions.check_annual_rate(annual)
        self.staking.checkpoint(now)
        self.emissions.set_annual_rate(now, annual)

    def schedule_rate(self, now: int, start: int, annual: int) -> None:
        self.emissions.check_schedule(now, start, annual)
        self.staking.checkpoint(now)
        self.emissions.schedule_rate(now, start, annual)

    def cancel_scheduled_rate(self, now: int, start: int) -> None:
        # The contract checkpoints, then looks for the entry among those not yet started.
        require(
            any(s == start and s > now for s, _ in self.emissions.schedule),
            "emissions: not scheduled",
        )
        self.staking.checkpoint(now)
        self.emissions.cancel_scheduled_rate(now, start)

    def set_split_curve(self, now: int, curve: list[tuple[int, int]]) -> None:
        check_curve(curve)
        self.staking.checkpoint(now)
        self.emissions.set_split_curve(now, curve)

    def set_stale_fallback(self, now: int, max_report_age: int, stale_staker_bps: int) -> None:
        check_stale(max_report_age, stale_staker_bps)
        self.staking.checkpoint(now)
        self.emissions.set_stale_fallback(now, max_report_age, stale_staker_bps)

    def report_utilization(self, now: int, utilization_bps: int) -> None:
        self.emissions.check_report(utilization_bps)
        self.staking.checkpoint(now)
        self.emissions.report_utilization(now, utilization_bps)

    def staker_bps_for(self, utilization_bps: int) -> int:
        return curve_at(self.emissions.curve, utilization_bps)
