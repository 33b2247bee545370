"""Stateful test: staking and emissions on Anvil against the Python model.

Hypothesis drives stakes, unstakes, finalizes, claims, compounds, treasury releases, time
jumps, rate changes, scheduled changes, cancellations, utilization reports, split-curve and
stale-fallback changes. After every step the contracts must equal the model to the wei, and:
- VVV totalSupply == genesis + emitted (minted) - burned == sum of all balances;
- the staking contract holds every stake and every amount in cooldown (solvency), and the
  rewards it owes (claimed + pending) never exceed what the controller emitted to stakers;
- each pendingRewards is within 1 wei per accrual step of the exact (rational) share of
  emissions, and never above it.
"""

from __future__ import annotations

import copy
import os
from fractions import Fraction
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from scripts._lib.fast import Reverted, invalidate, mine, send
from venice_sdk.model import ModelRevert, SystemModel
from venice_sdk.model.system import STAKING

VVV = 10**18
DAY = 86_400
CAP = 14_000_000 * VVV

# CI profile by default; VENICE_DEEP=1 runs the deep profile.
EXAMPLES, STEPS = (300, 200) if os.environ.get("VENICE_DEEP") else (20, 40)
EXAMPLES = int(os.environ.get("VENICE_EXAMPLES", EXAMPLES))

amounts = st.one_of(
    st.integers(1, 10),  # dust
    st.integers(1, 50_000 * VVV),
    st.sampled_from([0, 100 * VVV, 10**9 * VVV]),  # zero and far more than anyone holds
)


class StakingMachine(RuleBasedStateMachine):
    """Holds the model beside the deployed suite; one chain snapshot per example."""

    ctx: ClassVar[dict] = {}

    @initialize()
    def setup(self):
        c = self.ctx
        self.chain = c["chain"]
        # Plain web3 bindings of the deployed contracts: fast enough for thousands of steps.
        self.vvv, self.controller, self.staking = (
            c["vvv"].functions,
            c["controller"].functions,
            c["staking"].functions,
        )
        self.staking_address = c["staking"].address
        self.diem, self.curve = c["diem"].functions, c["curve"].functions
        self.diem_address = c["diem"].address
        self.owner, self.oracle, self.treasury = c["owner"], c["oracle"], c["treasury"]
        self.stakers = c["stakers"]
        self.pool_address = c["pool"]
        self.snapshot = self.chain.snapshot()
        invalidate()  # the fixtures changed the chain through ape
        self.model: SystemModel = copy.deepcopy(c["model"])
        self.now = self.chain.blocks.head.timestamp
        self.ideal: dict[str, Fraction] = {a.address: Fraction(0) for a in self.stakers}
        self.touches: dict[str, int] = {a.address: 0 for a in self.stakers}
        self.paid_out: dict[str, int] = {a.address: 0 for a in self.stakers}
        self.ideal_cut = Fraction(0)
        self.accruals = 0
        self.ideal_mark = self.model.emissions.staker_emitted(self.now)
        self.bootstrap()

    def bootstrap(self):
        """Start every example from a live pool, so each step has something to act on."""
        for i, a in enumerate(self.stakers[:3]):
            amount = (i + 1) * 100_000 * VVV
            self._send(
                lambda now, a=a, amount=amount: self.model.stake(now, a.address, a.address, amount),
                self.staking.stake(a.address, amount),
                a,
                (a.address,),
            )

    def teardown(self):
        if hasattr(self, "snapshot"):
            self.chain.restore(self.snapshot)
            invalidate()

    # --- helpers -------------------------------------------------------------------------

    def _advance_ideal(self, now: int) -> None:
        """Share the stakers' emissions since the last mark exactly, by current stakes."""
        emitted = self.model.emissions.staker_emitted(now)
        amount = emitted - self.ideal_mark
        self.ideal_mark = emitted
        s = self.model.staking
        total = s.total_staked
        if total == 0 or amount == 0:
            return
        cut = Fraction(s.locked_treasury_bps, 10_000)
        for address in self.ideal:
            a = s.account(address)
            if a.staked:
                # Locked stake earns (1 - cut) of the normal rate; the treasury the rest.
                self.ideal[address] += Fraction(amount) * (a.staked - a.locked * cut) / total
        self.ideal_cut += Fraction(amount) * s.total_locked * cut / total

    def _send(self, model_op, call, sender, touched: tuple[str, ...] = ()):
        """Run one transaction at `now + 1` on the model and the chain; they must agree,
        on the result or on the revert reason."""
        self.now += 1
        self._advance_ideal(self.now)
        saved = copy.deepcopy(self.model)
        self.last_revert = None
        try:
            expected = model_op(self.now)
        except ModelRevert as exc:
            self.last_revert = exc.reason
            self.model = saved
            with pytest.raises(Reverted) as reverted:
                send(call, sender.address, self.now)
            assert reverted.value.reason == exc.reason
            return None
        send(call, sender.address, self.now)
        self.accruals += 1
        for address in touched:
            self.touches[address] += 1
        return expected

    # --- staker actions ------------------------------------------------------------------

    @rule(who=st.integers(0, 3), amount=amounts)
    def stake(self, who, amount):
        a = self.stakers[who]
        self._send(
            lambda now: self.model.stake(now, a.address, a.address, amount),
            self.staking.stake(a.address, amount),
            a,
            (a.address,),
        )

    @rule(sender=st.integers(0, 3), recipient=st.integers(0, 3), amount=amounts)
    def stake_for(self, sender, recipient, amount):
        s, r = self.stakers[sender], self.stakers[recipient]
        self._send(
            lambda now: self.model.stake(now, s.address, r.address, amount),
            self.staking.stake(r.address, amount),
            s,
            (r.address,),
        )

    @rule(who=st.integers(0, 3), fraction=st.sampled_from([1, 2, 3, 10]), extra=st.integers(0, 2))
    def initiate_unstake(self, who, fraction, extra):
        a = self.stakers[who]
        amount = self.model.staking.account(a.address).staked // fraction + extra
        self._send(
            lambda now: self.model.initiate_unstake(now, a.address, amount),
            self.staking.initiateUnstake(amount),
            a,
            (a.address,),
        )

    @rule(who=st.integers(0, 3))
    def finalize_unstake(self, who):
        a = self.stakers[who]
        self._send(
            lambda now: self.model.finalize_unstake(now, a.address),
            self.staking.finalizeUnstake(),
            a,
        )

    @rule(who=st.integers(0, 3))
    def claim(self, who):
        a = self.stakers[who]
        paid = self._send(
            lambda now: self.model.claim(now, a.address),
            self.staking.claim(),
            a,
            (a.address,),
        )
        self.paid_out[a.address] += paid or 0

    @rule(who=st.integers(0, 3))
    def compound(self, who):
        a = self.stakers[who]
        paid = self._send(
            lambda now: self.model.claim_and_stake(now, a.address),
            self.staking.claimAndStake(),
            a,
            (a.address,),
        )
        self.paid_out[a.address] += paid or 0

    @rule()
    def release_treasury(self):
        self._send(
            lambda now: self.model.release_treasury(now),
            self.staking.releaseTreasury(),
            self.stakers[0],
        )

    @rule(seconds=st.one_of(st.integers(1, 3_600), st.integers(DAY, 90 * DAY)))
    def warp(self, seconds):
        self.now += seconds
        self._advance_ideal(self.now)
        mine(self.now)

    # --- governance and oracle -----------------------------------------------------------

    @rule(annual=st.one_of(st.integers(0, CAP), st.just(CAP + 1)))
    def set_annual_rate(self, annual):
        self._send(
            lambda now: self.model.set_annual_rate(now, annual),
            self.controller.setAnnualRate(annual),
            self.owner,
        )

    @rule(offset=st.integers(0, 60 * DAY), annual=st.integers(0, CAP))
    def schedule_rate(self, offset, annual):
        start = self.now + 1 + offset
        self._send(
            lambda now: self.model.schedule_rate(now, start, annual),
            self.controller.scheduleRate(start, annual),
            self.owner,
        )

    @precondition(lambda self: bool(self.model.emissions.schedule))
    @rule(index=st.integers(0, 15))
    def cancel_scheduled_rate(self, index):
        schedule = self.model.emissions.schedule
        start = schedule[index % len(schedule)][0]
        self._send(
            lambda now: self.model.cancel_scheduled_rate(now, start),
            self.controller.cancelScheduledRate(start),
            self.owner,
        )

    @rule(utilization=st.one_of(st.integers(0, 10_000), st.just(10_001)))
    def report_utilization(self, utilization):
        self._send(
            lambda now: self.model.report_utilization(now, utilization),
            self.controller.reportUtilization(utilization),
            self.oracle,
        )

    @rule(
        middle=st.lists(
            st.tuples(st.integers(1, 9_999), st.integers(0, 10_000)), min_size=0, max_size=5
        ),
        ends=st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)),
    )
    def set_split_curve(self, middle, ends):
        # Sorted interior points: usually valid, invalid when two share a utilization.
        curve = [(0, ends[0]), *sorted(middle), (10_000, ends[1])]
        points = [{"utilizationBps": u, "stakerBps": s} for u, s in curve]
        self._send(
            lambda now: self.model.set_split_curve(now, curve),
            self.controller.setSplitCurve(points),
            self.owner,
        )

    @rule(age=st.integers(1_800, 40 * DAY), bps=st.integers(0, 10_000))
    def set_stale_fallback(self, age, bps):
        self._send(
            lambda now: self.model.set_stale_fallback(now, age, bps),
            self.controller.setStaleFallback(age, bps),
            self.owner,
        )

    # --- invariants ----------------------------------------------------------------------

    def vvv_holders(self) -> dict[str, str]:
        """Every account and contract that may hold VVV: chain address -> the model's name."""
        return {self.staking_address: STAKING, self.pool_address: self.pool_address} | {
            a.address: a.address for a in (self.owner, self.oracle, self.treasury, *self.stakers)
        }

    @invariant()
    def vvv_supply_is_conserved(self):
        if not hasattr(self, "model"):
            return
        supply = self.vvv.totalSupply().call()
        m = self.model
        assert supply == m.total_supply == m.genesis + m.minted - m.burned
        total = 0
        for chain_address, model_address in self.vvv_holders().items():
            balance = self.vvv.balanceOf(chain_address).call()
            assert balance == m.balance(model_address)
            total += balance
        assert total == supply

    @invariant()
    def staking_matches_model_and_is_solvent(self):
        if not hasattr(self, "model"):
            return
        s = self.model.staking
        assert self.staking.totalStaked().call() == s.total_staked
        assert self.staking.totalCoolingDown().call() == s.total_cooling
        assert self.staking.totalLocked().call() == s.total_locked
        held = self.vvv.balanceOf(self.staking_address).call()
        assert held >= s.total_staked + s.total_cooling
        pending_total = 0
        for a in self.stakers:
            acct = s.account(a.address)
            assert self.staking.balanceOf(a.address).call() == acct.staked
            pending = self.staking.pendingRewards(a.address).call()
            assert pending == s.pending_rewards(a.address, self.now)
            pending_total += pending
            cooling, unlock = self.staking.cooldowns(a.address).call()
            assert cooling == acct.cooling
            assert unlock == (acct.unlock_time if acct.cooling else 0)
            # Exact share of emissions, less at most 1 wei per part (unlocked, locked) per
            # update of this account.
            received = self.paid_out[a.address] + pending
            ideal = self.ideal[a.address]
            assert received <= ideal
            assert received >= ideal - 2 * self.touches[a.address] - 1
        emitted_to_stakers = self.controller.stakerEmitted().call()
        assert emitted_to_stakers == self.model.emissions.staker_emitted(self.now)
        assert self.model.claimed + pending_total <= emitted_to_stakers
        assert self.staking.treasuryReleasable().call() == s.treasury_releasable(self.now)
        # The treasury's 20% of locked yield: exact share, less at most 1 wei per accrual.
        cut = self.staking.lockedCutAccrued().call()
        assert self.ideal_cut - self.accruals - 1 <= cut <= self.ideal_cut
        assert self.controller.emitted().call() == self.model.emissions.emitted(self.now)


def test_staking_machine(machine_context):
    StakingMachine.ctx = machine_context
    run_state_machine_as_test(
        StakingMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
