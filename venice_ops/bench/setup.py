"""Chain state shared by the SDK benchmarks (bench_authorize, bench_sidecar), and the machine's load
they report beside their figures."""

from __future__ import annotations

import os

from ape import accounts
from ape.api import AccountAPI
from eth_utils import to_checksum_address

from venice_ops.deploy.suite import Suite
from venice_ops.rpc import bind, impersonate, send

VVV = 10**18


def credit_wallets(suite: Suite, deployer: AccountAPI) -> list[str]:
    """64 wallets with 100 DIEM staked each ($100 of credit a day): the 8 first test accounts
    and 56 impersonated addresses. The deployer stakes VVV, mints the DIEM and sends it."""
    vvv, staking, diem = bind(suite.vvv), bind(suite.staking), bind(suite.diem)
    d = deployer.address
    send(vvv.functions.approve(staking.address, 2**256 - 1), d)
    send(staking.functions.stake(d, 2_000_000 * VVV), d)
    send(staking.functions.mintExactDiem(6_400 * VVV, 2_000_000 * VVV), d)
    wallets = [str(a.address) for a in accounts.test_accounts[:8]]
    wallets += [to_checksum_address(f"0x{(0xB000 + i):040x}") for i in range(56)]
    for w in wallets[8:]:
        send(diem.functions.transfer(w, 100 * VVV), d)
    for account in accounts.test_accounts[1:8]:
        send(diem.functions.transfer(account.address, 100 * VVV), d)
    for account in accounts.test_accounts[:8]:
        send(diem.functions.stake(100 * VVV), account.address)
    # The impersonated wallets stake through Anvil.
    for w in wallets[8:]:
        impersonate(w)
        send(diem.functions.stake(100 * VVV), w)
    return wallets


def machine_load(before: tuple[float, float, float], after: tuple[float, float, float]) -> str:
    """The machine a benchmark ran on: its CPUs and load averages before and after the run."""
    return (
        f"{os.cpu_count()} CPUs; load average (1, 5, 15 min) before "
        + ", ".join(f"{x:.2f}" for x in before)
        + "; after "
        + ", ".join(f"{x:.2f}" for x in after)
    )
