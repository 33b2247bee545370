"""Mirror of `contracts/StakedVVV.vy`."""

from __future__ import annotations

from dataclasses import dataclass, field

from venice_sdk.model.emissions import BPS, EmissionsModel, require

__all__ = [
    "PRECISION",
    "Account",
    "StakingModel",
    "burn_release",
]

PRECISION = 10**36


def burn_release(locked: int, outstanding: int, amount: int) -> int:
    """sVVV that burning `amount` DIEM releases from a lock of `locked` sVVV behind
    `outstanding` DIEM: pro rata, rounded down, and all of it for the last DIEM."""
    return locked if amount >= outstanding else amount * locked // outstanding


@dataclass
class Account:
    staked: int = 0
    rewards: int = 0  # accrued, unclaimed, as of the last update
    paid: int = 0  # reward per token at the last update
    locked: int = 0
    outstanding_diem: int = 0
    cooling: int = 0
    unlock_time: int = 0


@dataclass
class StakingModel:
    emissions: EmissionsModel
    cooldown: int
    locked_treasury_bps: int
    pro_threshold: int
    last_update: int
    rpt: int = 0
    valid_until: int = 0  # cached stakers' rate holds up to here
    rate: int = 0
    total_staked: int = 0
    total_locked: int = 0
    locked_cut_accrued: int = 0
    treasury_minted: int = 0
    total_cooling: int = 0
    total_diem_outstanding: int = 0
    accounts: dict[str, Account] = field(default_factory=dict)

    def account(self, address: str) -> Account:
        return self.accounts.setdefault(address, Account())

    # --- accrual -------------------------------------------------------------------------

    def _accrued_view(self, now: int) -> tuple[int, int, int, int]:
        """(rpt, treasury cut, valid_until, rate) as of `now`."""
        if now == self.last_update:
            return self.rpt, 0, self.valid_until, self.rate
        if now <= self.valid_until:
            amount, rate, valid_until = (
                (now - self.last_update) * self.rate,
                self.rate,
                self.valid_until,
            )
        else:
            amount, rate, valid_until = self.emissions.accrual(self.last_update, now)
        rpt, cut = self.rpt, 0
        if self.total_staked > 0 and amount > 0:
            delta = amount * PRECISION // self.total_staked
            rpt += delta
            if self.total_locked > 0:
                cut = self.total_locked * delta * self.locked_treasury_bps // (BPS * PRECISION)
        return rpt, cut, valid_until, rate

    def accrue(self, now: int) -> int:
        rpt, cut, valid_until, rate = self._accrued_view(now)
        if now == self.last_update:
            return rpt
        self.rpt = rpt
        self.locked_cut_accrued += cut
        self.valid_until, self.rate, self.last_update = valid_until, rate, now
        return rpt

    def _earned(self, a: Account, rpt: int) -> int:
        delta = rpt - a.paid
        if delta == 0 or a.staked == 0:
            return 0
        return (a.staked - a.locked) * delta // PRECISION + a.locked * delta * (
            BPS - self.locked_treasury_bps
        ) // (BPS * PRECISION)

    def _update(self, a: Account, rpt: int) -> None:
        a.rewards += self._earned(a, rpt)
        a.paid = rpt

    def checkpoint(self, now: int) -> None:
        """What the controller triggers before any change: accrue, then drop the cache."""
        self.accrue(now)
        self.valid_until = 0
        self.rate = 0

    # --- views ---------------------------------------------------------------------------

    def pending_rewards(self, address: str, now: int) -> int:
        a = self.account(address)
        rpt = self._accrued_view(now)[0]
        return a.rewards + self._earned(a, rpt)

    def treasury_releasable(self, now: int) -> int:
        cut = self._accrued_view(now)[1]
        return (
            self.emissions.treasury_emitted(now)
            + self.locked_cut_accrued
            + cut
            - self.treasury_minted
        )

    def is_pro(self, address: str) -> bool:
        return self.pro_threshold > 0 and self.account(address).staked >= self.pro_threshold

    # --- actions (each returns what moves in VVV) ----------------------------------------

    def stake(self, now: int, recipient: str, amount: int) -> None:
        require(amount > 0, "sVVV: zero amount")
        a = self.account(recipient)
        self._update(a, self.accrue(now))
        a.staked += amount
        self.total_staked += amount

    def check_initiate(self, address: str, amount: int) -> None:
        a = self.account(address)
        require(amount > 0, "sVVV: zero amount")
        require(amount <= a.staked, "sVVV: amount exceeds stake")
        require(amount <= a.staked - a.locked, "sVVV: stake is locked")

    def initiate_unstake(self, now: int, address: str, amount: int) -> None:
        self.check_initiate(address, amount)
        a = self.account(address)
        self._update(a, self.accrue(now))
        a.staked -= amount
        self.total_staked -= amount
        a.cooling += amount
        a.unlock_time = now + self.cooldown
        self.total_cooling += amount

    def finalize_unstake(self, now: int, address: str) -> int:
        """Returns the VVV paid out."""
        a = self.account(address)
        require(a.cooling > 0, "sVVV: nothing to finalize")
        require(now >= a.unlock_time, "sVVV: cooldown active")
        amount, a.cooling = a.cooling, 0
        self.total_cooling -= amount
        return amount

    def _take_rewards(self, now: int, address: str) -> int:
        a = self.account(address)
        self._update(a, self.accrue(now))
        require(a.rewards > 0, "sVVV: nothing to claim")
        amount, a.rewards = a.rewards, 0
        return amount

    def claim(self, now: int, address: str) -> int:
        """Returns the VVV minted to the claimer."""
        return self._take_rewards(now, address)

    def claim_and_stake(self, now: int, address: str) -> int:
        """Returns the VVV minted into the staking contract and staked."""
        amount = self._take_rewards(now, address)
        self.account(address).staked += amount
        self.total_staked += amount
        return amount

    def lock(self, now: int, address: str, svvv: int, diem_out: int) -> None:
        """Lock `svvv` of the account's stake behind `diem_out` newly minted DIEM."""
        a = self.account(address)
        require(svvv <= a.staked - a.locked, "sVVV: not enough unlocked stake")
        self._update(a, self.accrue(now))
        a.locked += svvv
        a.outstanding_diem += diem_out
        self.total_locked += svvv
        self.total_diem_outstanding += diem_out

    def check_burn(self, address: str, diem_amount: int) -> int:
        """The sVVV a burn of `diem_amount` releases (reverting as the contract does)."""
        a = self.account(address)
        require(diem_amount > 0, "sVVV: zero amount")
        require(a.outstanding_diem > 0, "sVVV: no DIEM outstanding")
        require(diem_amount <= a.outstanding_diem, "sVVV: burn exceeds outstanding")
        return burn_release(a.locked, a.outstanding_diem, diem_amount)

    def unlock(self, now: int, address: str, diem_amount: int) -> int:
        released = self.check_burn(address, diem_amount)
        a = self.account(address)
        self._update(a, self.accrue(now))
        a.locked -= released
        a.outstanding_diem -= diem_amount
        self.total_locked -= released
        self.total_diem_outstanding -= diem_amount
        return released

    def release_treasury(self, now: int) -> int:
        """Returns the VVV minted to the treasury."""
        self.accrue(now)
        due = self.emissions.treasury_emitted(now) + self.locked_cut_accrued - self.treasury_minted
        require(due > 0, "sVVV: nothing to release")
        self.treasury_minted += due
        return due
