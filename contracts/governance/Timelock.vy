# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Timelock: the governance of a live deployment
@custom:contract-name Timelock
@license GNU Affero General Public License v3.0 only
@notice snekmate's `timelock_controller`, unchanged: it owns every owned
        contract of the suite (EmissionsController, StakedVVV, MintCurve,
        BuybackBurner, Subscriptions), so each parameter change is a public
        proposal (`schedule`) that only a proposer makes and that can run
        (`execute`, by an executor) no sooner than `get_minimum_delay`
        seconds later. Proposers are also cancellers. The timelock
        administers itself: roles and the delay change only through its own
        timelocked operations.
@custom:security The deploy script passes itself as the optional admin and
                 the first proposer and executor with a zero delay only to
                 accept the two-step ownership handovers in one executed
                 batch that also sets the configured delay; it then revokes
                 its own roles and renounces the admin role in the same run
                 (`venice_ops/deploy/suite.py`, `hand_over_to_timelock`).
"""

from snekmate.auth import access_control
from snekmate.governance import timelock_controller

initializes: access_control
initializes: timelock_controller[access_control := access_control]

exports: timelock_controller.__interface__


@deploy
@payable
def __init__(
    minimum_delay: uint256,
    proposers: DynArray[address, timelock_controller._DYNARRAY_BOUND],
    executors: DynArray[address, timelock_controller._DYNARRAY_BOUND],
    admin: address,
):
    """
    @notice Deploys the timelock that owns the suite: every owner call waits `minimum_delay`.
    @param minimum_delay Seconds between `schedule` and `execute`.
    @param proposers Accounts granted the proposer and canceller roles.
    @param executors Accounts granted the executor role (the zero address:
           anyone may execute a ready operation).
    @param admin An optional admin that can grant roles without delay
           (zero: none); the deploy script renounces it.
    """
    # Grants the deployer the admin role; the timelock's own init revokes it.
    access_control.__init__()
    timelock_controller.__init__(minimum_delay, proposers, executors, admin)
