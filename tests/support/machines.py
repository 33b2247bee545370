"""The state machines' shared parts: what they start from (`MachineContext`, built by the
`machine_context` fixture in tests/conftest.py, and `SystemContext`), and the two machine
bases: `StakingMachine` (staking and emissions) and `DiemMachine` (the staking machine with
DIEM), which tests/stateful/test_stateful_staking.py and test_stateful_diem.py run and the
whole-system machine (test_stateful_system.py) extends. One module, over 500 lines, so that
the chain of subclasses reads in order: its length is the two machines' rules and invariants.

What each machine drives and checks after every step: the docstrings of those tests.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from tests.support.chain import invalidate
from tests.support.constants import DAY, VVV
from venice_ops.rpc import Reverted, mine, send
from venice_sdk.model import ModelRevert, SystemModel
from venice_sdk.model.diem import DIEM
from venice_sdk.model.system import STAKING

CAP = 14_000_000 * VVV


@dataclass
class MachineContext:
    """What the state machines start from: the suite's contracts bound for web3 (fast enough
    for thousands of steps), the named accounts, four funded stakers, and a model of the suite
    as deployed."""

    chain: Any  # ape's chain manager (snapshots, blocks)
    vvv: Any
    controller: Any
    staking: Any
    diem: Any
    curve: Any
    owner: Any  # ape accounts
    oracle: Any
    treasury: Any
    stakers: list[Any]
    pool: str  # the VVV/USDC pair's address
    model: SystemModel


@dataclass
class SystemContext(MachineContext):
    """`MachineContext` with value capture (web3-bound) and a small airdrop, for the
    whole-system machine."""

    usdc: Any
    subs: Any
    burner: Any
    pair: Any
    airdrop: Any
    tree: Any  # the airdrop's Merkle tree
    usdc_is_token0: bool


amounts = st.one_of(
    st.integers(1, 10),  # dust
    st.integers(1, 50_000 * VVV),
    st.sampled_from([0, 100 * VVV, 10**9 * VVV]),  # zero and far more than anyone holds
)


class StakingMachine(RuleBasedStateMachine):
    """Holds the model beside the deployed suite; one chain snapshot per example."""

    ctx: ClassVar[MachineContext]

    @initialize()
    def setup(self):
        c = self.ctx
        self.chain = c.chain
        # Plain web3 bindings of the deployed contracts: fast enough for thousands of steps.
        self.vvv, self.controller, self.staking = (
            c.vvv.functions,
            c.controller.functions,
            c.staking.functions,
        )
        self.staking_address = c.staking.address
        self.diem, self.curve = c.diem.functions, c.curve.functions
        self.diem_address = c.diem.address
        self.owner, self.oracle, self.treasury = c.owner, c.oracle, c.treasury
        self.stakers = c.stakers
        self.pool_address = c.pool
        self.snapshot = self.chain.snapshot()
        invalidate()  # the fixtures changed the chain through ape
        self.model: SystemModel = copy.deepcopy(c.model)
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

    def _take_rewards(self, a, step, call):
        """Claim (or restake) ``a``'s rewards on both sides; count what was paid out."""
        paid = self._send(step, call, a, (a.address,))
        self.paid_out[a.address] += paid or 0

    @rule(who=st.integers(0, 3))
    def claim(self, who):
        a = self.stakers[who]
        self._take_rewards(a, lambda now: self.model.claim(now, a.address), self.staking.claim())

    @rule(who=st.integers(0, 3))
    def compound(self, who):
        a = self.stakers[who]
        step = lambda now: self.model.claim_and_stake(now, a.address)  # noqa: E731
        self._take_rewards(a, step, self.staking.claimAndStake())

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


diem_amounts = st.one_of(
    st.integers(1, 10),
    st.integers(1, 200 * VVV),
    st.sampled_from([0, 10**9 * VVV]),
)


class DiemMachine(StakingMachine):
    def bootstrap(self):
        super().bootstrap()
        for i, a in enumerate(self.stakers[:2]):
            svvv = (i + 1) * 20_000 * VVV
            self._send(
                lambda now, a=a, svvv=svvv: self.model.mint_diem(now, a.address, svvv, 0),
                self.staking.mintDiem(svvv, 0),
                a,
                (a.address,),
            )

    @rule(who=st.integers(0, 3), fraction=st.sampled_from([1, 2, 5, 50]), slack=st.integers(-1, 1))
    def mint_diem(self, who, fraction, slack):
        a = self.stakers[who]
        acct = self.model.staking.account(a.address)
        svvv = (acct.staked - acct.locked) // fraction
        # A same-block quote equals the result exactly; ask for quote + slack as the minimum.
        try:
            quote = self.model.quote_mint(svvv) if svvv else 0
        except Exception:  # the model reverts (closed, past the end): the chain must too
            quote = 0
        min_out = max(0, quote + slack)
        if svvv:
            try:
                assert self.staking.getDiemAmountOut(svvv).call() == quote
            except Exception as exc:  # a reverting quote is fine when the model says so
                assert quote == 0, exc
        minted = self._send(
            lambda now: self.model.mint_diem(now, a.address, svvv, min_out),
            self.staking.mintDiem(svvv, min_out),
            a,
            (a.address,),
        )
        if minted is not None:
            assert minted == quote

    @rule(who=st.integers(0, 3), diem=st.integers(1, 2_000 * VVV), slack=st.integers(-1, 1))
    def mint_exact_diem(self, who, diem, slack):
        a = self.stakers[who]
        try:
            cost = self.model.quote_cost(diem)
        except Exception:
            cost = 0
        max_in = max(0, cost + slack)
        self._send(
            lambda now: self.model.mint_exact_diem(now, a.address, diem, max_in),
            self.staking.mintExactDiem(diem, max_in),
            a,
            (a.address,),
        )

    @rule(who=st.integers(0, 3), fraction=st.sampled_from([1, 1, 2, 3, 7]), extra=st.integers(0, 1))
    def burn_diem(self, who, fraction, extra):
        a = self.stakers[who]
        outstanding = self.model.staking.account(a.address).outstanding_diem
        amount = outstanding // fraction + extra
        self._send(
            lambda now: self.model.burn_diem(now, a.address, amount),
            self.staking.burnDiem(amount),
            a,
            (a.address,),
        )

    @rule(sender=st.integers(0, 3), receiver=st.integers(0, 3), amount=diem_amounts)
    def diem_transfer(self, sender, receiver, amount):
        s, r = self.stakers[sender], self.stakers[receiver]
        self._send(
            lambda now: self.model.diem.transfer(s.address, r.address, amount),
            self.diem.transfer(r.address, amount),
            s,
        )

    @rule(who=st.integers(0, 3), amount=diem_amounts)
    def diem_stake(self, who, amount):
        a = self.stakers[who]
        self._send(
            lambda now: self.model.diem.stake(now, a.address, amount),
            self.diem.stake(amount),
            a,
        )

    @rule(who=st.integers(0, 3), fraction=st.sampled_from([1, 2, 3]), extra=st.integers(0, 1))
    def diem_initiate_unstake(self, who, fraction, extra):
        a = self.stakers[who]
        amount = self.model.diem.stake_of(a.address).staked // fraction + extra
        self._send(
            lambda now: self.model.diem.initiate_unstake(now, a.address, amount),
            self.diem.initiateUnstake(amount),
            a,
        )

    @rule(who=st.integers(0, 3))
    def diem_unstake(self, who):
        a = self.stakers[who]
        self._send(
            lambda now: self.model.diem.unstake(now, a.address),
            self.diem.unstake(),
            a,
        )

    @rule(mode=st.sampled_from([0, 1, 2, 2]), multiplier=st.sampled_from([2, 100, 1]))
    def set_launch_mode(self, mode, multiplier):
        def model_op(now):
            assert self.model.curve is not None
            self.model.curve.set_launch_mode(mode, multiplier)

        self._send(model_op, self.curve.setLaunchMode(mode, multiplier), self.owner)

    @invariant()
    def locks_and_diem_match_model(self):
        if not hasattr(self, "model"):
            return
        s, d = self.model.staking, self.model.diem
        total_locked = 0
        total_outstanding = 0
        for a in self.stakers:
            acct = s.account(a.address)
            locked, outstanding = self.staking.lockedStakes(a.address).call()
            assert (locked, outstanding) == (acct.locked, acct.outstanding_diem)
            assert 0 <= locked <= acct.staked
            assert outstanding >= 0
            total_locked += locked
            total_outstanding += outstanding
            assert self.diem.balanceOf(a.address).call() == d.balance(a.address)
            assert tuple(self.diem.stakedInfos(a.address).call()) == d.staked_infos(a.address)
        assert total_locked == s.total_locked == self.staking.totalLocked().call()
        supply = self.diem.totalSupply().call()
        assert supply == d.total_supply == d.minted - d.burned == total_outstanding
        # Every DIEM sits with a holder the machine knows: stakers and the token itself.
        held_by_stakers = sum(d.balance(a.address) for a in self.stakers)
        assert held_by_stakers + d.balance(DIEM) == supply
        assert self.staking.totalDiemOutstanding().call() == total_outstanding
        held = self.diem.balanceOf(self.diem_address).call()
        assert held == d.balance(DIEM) == d.total_staked + d.total_cooling
        assert self.diem.totalStaked().call() == d.total_staked
        assert self.diem.totalCoolingDown().call() == d.total_cooling
