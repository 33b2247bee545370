"""EmissionsController.accrual refuses an interval that ends past the last time it can
integrate (2**40 - 1, its "no further breakpoint" marker) with a reason: the integration loop
would otherwise stop short and revert bare. The model refuses it alike."""

from __future__ import annotations

import ape
import pytest

from venice_sdk.model import ModelRevert
from venice_sdk.model.emissions import NO_BREAK

MAX_UINT = 2**256 - 1


@pytest.mark.parametrize("t1", [NO_BREAK + 1, 2**41, MAX_UINT])
def test_accrual__past_the_last_time__time_out_of_range(controller, t1):
    with ape.reverts("emissions: time out of range"):
        controller.accrual(0, t1)


def test_accrual__up_to_the_last_time__integrates(controller, config):
    start = controller.lastCheckpoint()
    amount, rate, next_break = controller.accrual(start, NO_BREAK)
    assert rate == config.annual_rate // 31_536_000 * config.stale_staker_bps // 10_000
    assert amount == (NO_BREAK - start) * rate
    assert next_break == NO_BREAK


def test_accrual__bad_interval_first(controller):
    with ape.reverts("emissions: bad interval"):
        controller.accrual(MAX_UINT, NO_BREAK + 1)


def test_model__past_the_last_time__same_reason(machine_context):
    emissions = machine_context.model.emissions
    with pytest.raises(ModelRevert) as info:
        emissions.accrual(0, NO_BREAK + 1)
    assert info.value.reason == "emissions: time out of range"
