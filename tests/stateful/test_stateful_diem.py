"""Stateful test: the staking machine extended with DIEM.

On top of every staking, emissions and governance step, hypothesis mints DIEM (by sVVV in,
with a slippage bound, and by exact DIEM out), burns it (partially and all, including with
DIEM bought from someone else), stakes, unstakes and finalizes DIEM, transfers it, and moves
the launch mode. After every step, besides the staking invariants:
- total locked == sum of locks; each account's lock <= its stake;
- DIEM totalSupply == minted - burned == sum of outstanding; outstanding never negative;
- the DIEM contract holds exactly the staked and cooling DIEM (solvency), per account too;
- the treasury's 20% of locked yield is within 1 wei per accrual of its exact share.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

from tests.test_stateful_staking import EXAMPLES, STEPS, VVV, StakingMachine
from venice_sdk.model.diem import DIEM

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


def test_diem_machine(diem_context):
    DiemMachine.ctx = diem_context
    run_state_machine_as_test(
        DiemMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
