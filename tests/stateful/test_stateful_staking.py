"""Stateful test: staking and emissions on Anvil against the Python model.

Hypothesis drives the staking machine (tests/support/machines.py, `StakingMachine`): stakes,
unstakes, finalizes, claims, compounds, treasury releases, time jumps, rate changes, scheduled
changes, cancellations, utilization reports, split-curve and stale-fallback changes. After
every step the contracts must equal the model to the wei, and:
- VVV totalSupply == genesis + emitted (minted) - burned == sum of all balances;
- the staking contract holds every stake and every amount in cooldown (solvency), and the
  rewards it owes (claimed + pending) never exceed what the controller emitted to stakers;
- each pendingRewards is within 1 wei per accrual step of the exact (rational) share of
  emissions, and never above it.

CI profile: 20 examples x 40 steps; deep profile (VENICE_DEEP=1): 300 x 200.
"""

from __future__ import annotations

from tests.support.machines import StakingMachine
from tests.support.profiles import run_machine


def test_staking_machine(machine_context):
    run_machine(StakingMachine, machine_context, 20, 40)
