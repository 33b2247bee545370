"""Bad inputs: each reverts with its reason and leaves the stored state of the whole suite
unchanged (storage roots of the five contracts, via eth_getProof)."""

from __future__ import annotations

import ape
import pytest

from tests.support.chain import refused_changing_nothing
from tests.support.constants import MAX_UINT, VVV, ZERO
from venice_ops.rpc import Reverted, bind, send


def _points(pairs):
    return [{"utilizationBps": u, "stakerBps": s} for u, s in pairs]


@pytest.fixture
def staked(fund, staking, alice):
    """alice: 100 VVV staked, 900 VVV in her wallet, staking approved."""
    fund(alice, 1_000 * VVV)
    staking.stake(alice, 100 * VVV, sender=alice)


# ------------------------------------------------------------------ stake


def test_stake__zero_amount__reverts(staking, staked, alice, storage_roots):
    refused_changing_nothing(
        storage_roots, "sVVV: zero amount", lambda: staking.stake(alice, 0, sender=alice)
    )


def test_stake__zero_recipient__reverts(staking, staked, alice, storage_roots):
    refused_changing_nothing(
        storage_roots, "sVVV: zero recipient", lambda: staking.stake(ZERO, VVV, sender=alice)
    )


def test_stake__no_allowance__reverts(staking, vvv, owner, bob, storage_roots):
    vvv.transfer(bob, 10 * VVV, sender=owner)  # a balance, but no approval
    refused_changing_nothing(
        storage_roots, "erc20: insufficient allowance", lambda: staking.stake(bob, VVV, sender=bob)
    )
    assert staking.balanceOf(bob) == 0


def test_stake__no_balance__reverts(staking, vvv, bob, storage_roots):
    vvv.approve(staking, MAX_UINT, sender=bob)  # an approval, but no VVV
    refused_changing_nothing(
        storage_roots,
        "erc20: transfer amount exceeds balance",
        lambda: staking.stake(bob, VVV, sender=bob),
    )
    assert staking.totalStaked() == 0


def test_stake__more_than_balance__reverts(staking, staked, alice, storage_roots):
    refused_changing_nothing(
        storage_roots,
        "erc20: transfer amount exceeds balance",
        lambda: staking.stake(alice, 900 * VVV + 1, sender=alice),
    )


def test_stake__more_than_allowance__reverts(staking, vvv, owner, bob, storage_roots):
    vvv.transfer(bob, 10 * VVV, sender=owner)
    vvv.approve(staking, 5 * VVV, sender=bob)
    refused_changing_nothing(
        storage_roots,
        "erc20: insufficient allowance",
        lambda: staking.stake(bob, 5 * VVV + 1, sender=bob),
    )


# ------------------------------------------------------------------ unstake


def test_initiateUnstake__zero_amount__reverts(staking, staked, alice, storage_roots):
    refused_changing_nothing(
        storage_roots, "sVVV: zero amount", lambda: staking.initiateUnstake(0, sender=alice)
    )


def test_initiateUnstake__more_than_stake__reverts(staking, staked, alice, storage_roots):
    refused_changing_nothing(
        storage_roots,
        "sVVV: amount exceeds stake",
        lambda: staking.initiateUnstake(100 * VVV + 1, sender=alice),
    )
    assert staking.balanceOf(alice) == 100 * VVV
    assert staking.cooldowns(alice) == (0, 0)


def test_initiateUnstake__without_stake__reverts(staking, staked, bob, storage_roots):
    refused_changing_nothing(
        storage_roots, "sVVV: amount exceeds stake", lambda: staking.initiateUnstake(1, sender=bob)
    )


def test_initiateUnstake__amount_already_cooling__reverts(staking, staked, alice, storage_roots):
    staking.initiateUnstake(60 * VVV, sender=alice)
    refused_changing_nothing(
        storage_roots,
        "sVVV: amount exceeds stake",
        lambda: staking.initiateUnstake(40 * VVV + 1, sender=alice),
    )


def test_finalizeUnstake__nothing_cooling__reverts(staking, staked, alice, storage_roots):
    refused_changing_nothing(
        storage_roots, "sVVV: nothing to finalize", lambda: staking.finalizeUnstake(sender=alice)
    )


def test_finalizeUnstake__never_staked__reverts(staking, bob, storage_roots):
    refused_changing_nothing(
        storage_roots, "sVVV: nothing to finalize", lambda: staking.finalizeUnstake(sender=bob)
    )


# ------------------------------------------------------------------ claim


def test_claim__nothing__reverts(staking, staked, bob, storage_roots):
    refused_changing_nothing(
        storage_roots, "sVVV: nothing to claim", lambda: staking.claim(sender=bob)
    )


def test_claimAndStake__nothing__reverts(staking, staked, bob, storage_roots):
    refused_changing_nothing(
        storage_roots, "sVVV: nothing to claim", lambda: staking.claimAndStake(sender=bob)
    )


def test_claim__twice_in_one_second__reverts(staking, staked, alice, at, t0, storage_roots):
    at(t0)
    staking.claim(sender=alice)
    at(t0)
    refused_changing_nothing(
        storage_roots, "sVVV: nothing to claim", lambda: staking.claim(sender=alice)
    )


# ------------------------------------------------------------------ VVV


def test_transfer__zero_recipient__reverts(vvv, owner, storage_roots):
    refused_changing_nothing(
        storage_roots,
        "erc20: transfer to the zero address",
        lambda: vvv.transfer(ZERO, VVV, sender=owner),
    )


def test_approve__zero_spender__reverts(vvv, owner, storage_roots):
    refused_changing_nothing(
        storage_roots,
        "erc20: approve to the zero address",
        lambda: vvv.approve(ZERO, VVV, sender=owner),
    )


# ------------------------------------------------------------------ controller


@pytest.mark.parametrize("excess", [1, MAX_UINT], ids=["cap_plus_1", "max_uint"])
def test_setAnnualRate__above_cap__reverts(controller, config, owner, excess, storage_roots):
    rate = min(config.max_annual + excess, MAX_UINT)
    refused_changing_nothing(
        storage_roots,
        "emissions: rate above cap",
        lambda: controller.setAnnualRate(rate, sender=owner),
    )


def test_scheduleRate__above_cap__reverts(controller, config, owner, t0, storage_roots):
    refused_changing_nothing(
        storage_roots,
        "emissions: rate above cap",
        lambda: controller.scheduleRate(t0 + 1_000, config.max_annual + 1, sender=owner),
    )


def test_scheduleRate__past_start__reverts(controller, owner, at, t0, storage_roots):
    at(t0)
    refused_changing_nothing(
        storage_roots,
        "emissions: start not in future",
        lambda: controller.scheduleRate(t0 - 1, VVV, sender=owner),
    )


def test_setSplitCurve__huge_share__reverts(controller, owner, storage_roots):
    # (The other malformed curves are in test_emissions_controller.py.)
    roots = storage_roots()
    with ape.reverts("emissions: share above 100%"):
        controller.setSplitCurve(
            _points([(0, 8000), (5000, MAX_UINT), (10_000, 8000)]), sender=owner
        )
    assert storage_roots() == roots


def test_setSplitCurve__more_than_8_points__reverts(controller, owner, storage_roots):
    # The DynArray bound is enforced when the calldata is decoded: no reason string.
    points = [(i * 1_250, 5_000) for i in range(9)]
    assert points[-1] == (10_000, 5_000)
    refused_changing_nothing(
        storage_roots, None, lambda: controller.setSplitCurve(_points(points), sender=owner)
    )


@pytest.mark.parametrize("utilization", [10_001, MAX_UINT])
def test_reportUtilization__above_100_percent__reverts(
    controller, oracle, utilization, storage_roots
):
    refused_changing_nothing(
        storage_roots,
        "emissions: utilization above 100%",
        lambda: controller.reportUtilization(utilization, sender=oracle),
    )


def test_setStaleFallback__huge_age__reverts(controller, owner, storage_roots):
    # (The bounds themselves are in test_emissions_controller.py.)
    refused_changing_nothing(
        storage_roots,
        "emissions: bad report age",
        lambda: controller.setStaleFallback(MAX_UINT, 0, sender=owner),
    )


def test_setTreasury__zero__reverts(controller, treasury, owner, storage_roots):
    refused_changing_nothing(
        storage_roots,
        "emissions: zero treasury",
        lambda: controller.setTreasury(ZERO, sender=owner),
    )
    assert controller.treasury() == treasury.address


def test_cancelScheduledRate__nothing_scheduled__reverts(controller, owner, t0, storage_roots):
    refused_changing_nothing(
        storage_roots,
        "emissions: not scheduled",
        lambda: controller.cancelScheduledRate(t0 + 1_000, sender=owner),
    )


def test_accrual__end_before_start__reverts(controller, now):
    with ape.reverts("emissions: bad interval"):
        controller.accrual(now(), now() - 1)


def test_stakerBpsAt__above_100_percent__reverts(controller):
    with ape.reverts("emissions: utilization above 100%"):
        controller.stakerBpsAt(10_001)


# ------------------------------------------------------------------ DIEM locks (StakedVVV)


@pytest.fixture
def minted(staked, staking, alice):
    """alice: 100 VVV staked, 1 DIEM minted against part of it."""
    staking.mintExactDiem(VVV, MAX_UINT, sender=alice)


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda s: s.mintDiem(0, 0), "sVVV: zero amount"),
        (lambda s: s.mintExactDiem(0, MAX_UINT), "sVVV: zero amount"),
        (lambda s: s.burnDiem(0), "sVVV: zero amount"),
        (lambda s: s.mintExactDiem(VVV, 0), "sVVV: slippage"),
        (lambda s: s.mintExactDiem(10**6 * VVV, MAX_UINT), "curve: past the end"),
        # The whole curve costs about 1.34e12 sVVV.
        (lambda s: s.mintDiem(2 * 10**12 * VVV, 0), "curve: past the end"),
        # Beyond any supply: refused before C(S) + X could overflow.
        (lambda s: s.mintDiem(MAX_UINT, 0), "curve: amount too large"),
        (lambda s: s.burnDiem(VVV + 1), "sVVV: burn exceeds outstanding"),
        (lambda s: s.burnDiem(MAX_UINT), "sVVV: burn exceeds outstanding"),
    ],
    ids=[
        "mint_zero",
        "mint_exact_zero",
        "burn_zero",
        "mint_exact_zero_max_in",
        "mint_exact_past_end",
        "mint_past_end",
        "mint_max_uint",
        "burn_above_outstanding",
        "burn_max_uint",
    ],
)
def test_diem_locks__bad_amounts__revert(staking, minted, alice, call, reason, storage_roots):
    refused_changing_nothing(storage_roots, reason, lambda: call(_Sender(staking, alice)))


class _Sender:
    """The contract's methods, sent from `sender` (for the parametrized calls above)."""

    def __init__(self, contract, sender):
        self.contract, self.sender = contract, sender

    def __getattr__(self, name):
        method = getattr(self.contract, name)
        return lambda *args: method(*args, sender=self.sender)


def test_mintDiem__dust_mints_nothing__reverts(staking, minted, alice, storage_roots):
    # 1 wei of sVVV at 90 sVVV per DIEM is under 1 wei of DIEM. Sent through plain web3: ape's
    # source traceback of a revert after the curve's quote loop costs seconds.
    roots = storage_roots()
    with pytest.raises(Reverted) as exc:
        send(bind(staking).functions.mintDiem(1, 0), alice.address)
    assert exc.value.reason == "sVVV: mints no DIEM"
    assert storage_roots() == roots


def test_burnDiem__nothing_outstanding__reverts(staking, staked, alice, storage_roots):
    refused_changing_nothing(
        storage_roots, "sVVV: no DIEM outstanding", lambda: staking.burnDiem(1, sender=alice)
    )


def test_setDiem__twice__reverts(staking, diem, curve, owner, attacker, storage_roots):
    refused_changing_nothing(
        storage_roots,
        "sVVV: DIEM already set",
        lambda: staking.setDiem(attacker, attacker, sender=owner),
    )
    assert (staking.diem(), staking.mintCurve()) == (diem.address, curve.address)


def test_StakedVVV_fresh__diem_not_set__reverts(vvv, controller, staking_deployer, attacker):
    fresh = ape.project.StakedVVV.deploy(
        vvv.address, controller.address, 604_800, 2_000, 0, sender=staking_deployer
    )
    with ape.reverts("sVVV: DIEM not set"):
        fresh.getDiemAmountOut(VVV)
    with ape.reverts("sVVV: DIEM not set"):
        fresh.getSVVVAmountIn(VVV)
    with ape.reverts("sVVV: zero address"):
        fresh.setDiem(ZERO, attacker, sender=staking_deployer)
    with ape.reverts("sVVV: zero address"):
        fresh.setDiem(attacker, ZERO, sender=staking_deployer)
    assert fresh.diem() == ZERO


# ------------------------------------------------------------------ DIEM token


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda d, e: d.stake(0), "DIEM: zero amount"),
        (lambda d, e: d.stake(VVV + 1), "erc20: transfer amount exceeds balance"),
        (lambda d, e: d.initiateUnstake(0), "DIEM: zero amount"),
        (lambda d, e: d.initiateUnstake(VVV // 2 + 1), "DIEM: amount exceeds stake"),
        (lambda d, e: d.initiateUnstake(MAX_UINT), "DIEM: amount exceeds stake"),
        (lambda d, e: d.unstake(), "DIEM: nothing to unstake"),
        (lambda d, e: d.transfer(e["diem"], 1), "DIEM: use stake()"),
        (lambda d, e: d.transfer(ZERO, 1), "erc20: transfer to the zero address"),
        (lambda d, e: d.transfer(e["bob"], VVV // 2 + 1), "erc20: transfer amount exceeds balance"),
        (lambda d, e: d.approve(ZERO, 1), "erc20: approve to the zero address"),
    ],
    ids=[
        "stake_zero",
        "stake_above_balance",
        "unstake_zero",
        "unstake_above_stake",
        "unstake_max_uint",
        "unstake_nothing_cooling",
        "transfer_to_diem",
        "transfer_to_zero",
        "transfer_staked_part",
        "approve_zero",
    ],
)
def test_diem_token__bad_inputs__revert(diem, minted, alice, bob, call, reason, storage_roots):
    diem.stake(VVV // 2, sender=alice)  # half staked, half free
    refused_changing_nothing(
        storage_roots,
        reason,
        lambda: call(_Sender(diem, alice), {"diem": diem.address, "bob": bob.address}),
    )
    assert diem.stakedInfos(alice) == (VVV // 2, 0, 0)


# ------------------------------------------------------------------ MintCurve


def test_setCurve__more_than_256_knots__reverts(curve, owner, storage_roots):
    # The DynArray bound is enforced when the calldata is decoded: no reason string.
    refused_changing_nothing(storage_roots, None, lambda: curve.setCurve([VVV] * 257, sender=owner))


# ------------------------------------------------------------------ constructors


def _controller_args(config, treasury_account, oracle_account, **overrides):
    args = {
        "max_annual_emission": config.max_annual,
        "annual_rate": config.annual_rate,
        "curve": _points(config.split_curve),
        "max_report_age": config.max_report_age,
        "stale_staker_bps": config.stale_staker_bps,
        "treasury": treasury_account.address,
        "oracle": oracle_account.address,
    }
    args.update(overrides)
    return list(args.values())


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"max_annual_emission": 0, "annual_rate": 0}, "emissions: zero cap"),
        ({"max_annual_emission": (2**64 - 1) * 31_536_000 + 1}, "emissions: cap too large"),
        ({"annual_rate": 14_000_000 * VVV + 1}, "emissions: rate above cap"),
        ({"treasury": ZERO}, "emissions: zero treasury"),
        ({"curve": _points([(0, 8000), (9_000, 8000)])}, "emissions: curve must end at 100%"),
        ({"max_report_age": 60}, "emissions: bad report age"),
        ({"stale_staker_bps": 10_001}, "emissions: share above 100%"),
    ],
    ids=[
        "zero_cap",
        "cap_too_large",
        "rate_above_cap",
        "zero_treasury",
        "bad_curve",
        "bad_age",
        "bad_stale",
    ],
)
def test_EmissionsController_deploy__bad_config__reverts(
    config, controller_deployer, treasury, oracle, overrides, reason
):
    with ape.reverts(reason):
        ape.project.EmissionsController.deploy(
            *_controller_args(config, treasury, oracle, **overrides), sender=controller_deployer
        )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((ZERO, "controller", 604_800, 2_000, 0), "sVVV: zero address"),
        (("vvv", ZERO, 604_800, 2_000, 0), "sVVV: zero address"),
        (("vvv", "controller", 365 * 86_400 + 1, 2_000, 0), "sVVV: cooldown too long"),
        (("vvv", "controller", 604_800, 10_001, 0), "sVVV: bps above 100%"),
    ],
    ids=["zero_vvv", "zero_controller", "cooldown_too_long", "bps_above_100"],
)
def test_StakedVVV_deploy__bad_config__reverts(vvv, controller, staking_deployer, args, reason):
    resolved = [{"vvv": vvv.address, "controller": controller.address}.get(a, a) for a in args]
    with ape.reverts(reason):
        ape.project.StakedVVV.deploy(*resolved, sender=staking_deployer)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((ZERO, 86_400), "DIEM: zero staking"),
        (("staking", 30 * 86_400 + 1), "DIEM: cooldown too long"),
    ],
    ids=["zero_staking", "cooldown_too_long"],
)
def test_DIEM_deploy__bad_config__reverts(staking, attacker, args, reason):
    resolved = [staking.address if a == "staking" else a for a in args]
    with ape.reverts(reason):
        ape.project.DIEM.deploy(*resolved, sender=attacker)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (([90 * VVV], 2, 100), "curve: needs 2 knots"),
        (([0, 90 * VVV], 2, 100), "curve: rate out of bounds"),
        (([90 * VVV, 10**27 + 1], 2, 100), "curve: rate out of bounds"),
        (([90 * VVV, 89 * VVV], 2, 100), "curve: rate decreasing"),
        (([90 * VVV, 90 * VVV], 3, 100), "curve: bad mode"),
        (([90 * VVV, 90 * VVV], 1, 1), "curve: bad multiplier"),
        (([90 * VVV, 90 * VVV], 1, 1_000_001), "curve: bad multiplier"),
    ],
    ids=[
        "one_knot",
        "zero_rate",
        "rate_above_max",
        "decreasing",
        "bad_mode",
        "multiplier_1",
        "multiplier_above_max",
    ],
)
def test_MintCurve_deploy__bad_config__reverts(attacker, args, reason):
    with ape.reverts(reason):
        ape.project.MintCurve.deploy(*args, sender=attacker)
