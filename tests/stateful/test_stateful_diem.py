"""Stateful test: the staking machine extended with DIEM.

Hypothesis drives the DIEM machine (tests/support/machines.py, `DiemMachine`): on top of every
staking, emissions and governance step, it mints DIEM (by sVVV in, with a slippage bound, and
by exact DIEM out), burns it (partially and all, including with DIEM bought from someone
else), stakes, unstakes and finalizes DIEM, transfers it, and moves the launch mode. After
every step, besides the staking invariants:
- total locked == sum of locks; each account's lock <= its stake;
- DIEM totalSupply == minted - burned == sum of outstanding; outstanding never negative;
- the DIEM contract holds exactly the staked and cooling DIEM (solvency), per account too;
- the treasury's 20% of locked yield is within 1 wei per accrual of its exact share.

CI profile: 20 examples x 40 steps; deep profile (VENICE_DEEP=1): 300 x 200.
"""

from __future__ import annotations

from tests.support.machines import DiemMachine
from tests.support.profiles import run_machine


def test_diem_machine(diem_context):
    run_machine(DiemMachine, diem_context, 20, 40)
