# pragma version ~=0.4.3
"""
@title EntitlementsLens
@custom:contract-name EntitlementsLens
@license GNU Affero General Public License v3.0 only
@notice A read-only view for inference servers: everything that decides what
        a batch of wallets may use, in one `eth_call` (up to 1,000 wallets),
        at one block. It holds no state and no funds, and nothing calls it
        on-chain.
"""

from interfaces import IDIEM
from interfaces import IStakedVVV
from interfaces import ISubscriptions


MAX_BATCH: public(constant(uint256)) = 1_000


STAKING: public(immutable(IStakedVVV))
DIEM: public(immutable(IDIEM))
SUBSCRIPTIONS: public(immutable(ISubscriptions))


struct Account:
    staked: uint256
    locked: uint256
    cooling: uint256
    unlockTime: uint256
    pendingRewards: uint256
    proByStake: bool
    proUntil: uint256
    diemStaked: uint256
    diemCooling: uint256
    diemCooldownEnd: uint256


struct Totals:
    blockNumber: uint256
    blockTimestamp: uint256
    totalStaked: uint256
    proThreshold: uint256
    diemTotalStaked: uint256


@deploy
def __init__(staking: address, diem: address, subscriptions: address):
    """
    @notice Deploys the read-only lens over staking, DIEM and subscriptions.
    @param staking The StakedVVV contract.
    @param diem The DIEM token.
    @param subscriptions The Subscriptions contract.
    """
    assert staking != empty(address) and diem != empty(address), "lens: zero address"
    assert subscriptions != empty(address), "lens: zero address"
    STAKING = IStakedVVV(staking)
    DIEM = IDIEM(diem)
    SUBSCRIPTIONS = ISubscriptions(subscriptions)


@view
@external
def entitlements(
    accounts: DynArray[address, MAX_BATCH]
) -> (Totals, DynArray[Account, MAX_BATCH]):
    """
    @notice The totals and each account's entitlement inputs, at this block.
    @param accounts Up to MAX_BATCH accounts.
    @return (the totals, one record per account in order).
    """
    out: DynArray[Account, MAX_BATCH] = []
    for account: address in accounts:
        locked: uint256 = 0
        outstanding: uint256 = 0
        locked, outstanding = staticcall STAKING.lockedStakes(account)
        cooling: uint256 = 0
        unlock: uint256 = 0
        cooling, unlock = staticcall STAKING.cooldowns(account)
        diem_staked: uint256 = 0
        diem_end: uint256 = 0
        diem_cooling: uint256 = 0
        diem_staked, diem_end, diem_cooling = staticcall DIEM.stakedInfos(account)
        out.append(
            Account(
                staked=staticcall STAKING.balanceOf(account),
                locked=locked,
                cooling=cooling,
                unlockTime=unlock,
                pendingRewards=staticcall STAKING.pendingRewards(account),
                proByStake=staticcall STAKING.isPro(account),
                proUntil=staticcall SUBSCRIPTIONS.proUntil(account),
                diemStaked=diem_staked,
                diemCooling=diem_cooling,
                diemCooldownEnd=diem_end,
            )
        )
    totals: Totals = Totals(
        blockNumber=block.number,
        blockTimestamp=block.timestamp,
        totalStaked=staticcall STAKING.totalStaked(),
        proThreshold=staticcall STAKING.proThreshold(),
        diemTotalStaked=staticcall DIEM.totalStaked(),
    )
    return totals, out
