# pragma version ~=0.4.3
"""
@title ReentrancyAttacker
@custom:contract-name ReentrancyAttacker
@license GNU Affero General Public License v3.0 only
@notice Test-only attacker for the reentrancy tests. It is the hook of the
        hook tokens and holds every role a fresh instance under attack can
        give it (owner, oracle, keeper), so that what stops a reentry is the
        contract's own guard, not an access check. `attack` makes one outer
        call and, by mode:
        - OUTER_ONLY: nothing more;
        - REENTER: at the `fire_at`-th hook call during the outer call, makes
          the inner call (from inside the token call of the contract under
          attack);
        - SEQUENTIAL: the inner call after the outer call returns, in the
          same transaction.
        The inner call's outcome (success and return or revert data) is
        recorded either way, so a test can compare a reentry with the same
        call made afterwards.
"""

OUTER_ONLY: constant(uint256) = 0
REENTER: constant(uint256) = 1
SEQUENTIAL: constant(uint256) = 2
MAX_DATA: constant(uint256) = 1_024
MAX_OUT: constant(uint256) = 256


_inner_target: address
_inner_data: Bytes[MAX_DATA]
_fire_at: uint256
_armed: bool

# @dev Hook calls seen during the last `attack`.
hookCalls: public(uint256)
# @dev Whether the inner call was made, whether it succeeded, and what it
#      returned (or its revert data).
attempted: public(bool)
succeeded: public(bool)
returned: public(Bytes[MAX_OUT])


@external
def call(target: address, data: Bytes[MAX_DATA]):
    """
    @dev Calls `target` as this contract (setup: approvals, stakes, claims);
         bubbles a revert up.
    """
    raw_call(target, data)


@external
def attack(
    outer_target: address,
    outer_data: Bytes[MAX_DATA],
    inner_target: address,
    inner_data: Bytes[MAX_DATA],
    mode: uint256,
    fire_at: uint256,
):
    """
    @dev The outer call (a revert bubbles up), with the inner call made
         during it (REENTER) or after it (SEQUENTIAL), or not at all.
    """
    self.hookCalls = 0
    self.attempted = False
    self.succeeded = False
    self.returned = b""
    self._inner_target = inner_target
    self._inner_data = inner_data
    self._fire_at = fire_at
    self._armed = mode == REENTER
    raw_call(outer_target, outer_data)
    self._armed = False
    if mode == SEQUENTIAL:
        self._inner()


@external
def onTokenTransfer(sender: address, receiver: address, amount: uint256):
    """
    @dev The hook tokens call this after every balance movement.
    """
    self.hookCalls += 1
    if self._armed and self.hookCalls == self._fire_at:
        self._armed = False
        self._inner()


@internal
def _inner():
    ok: bool = False
    out: Bytes[MAX_OUT] = b""
    ok, out = raw_call(
        self._inner_target, self._inner_data, max_outsize=MAX_OUT, revert_on_failure=False
    )
    self.attempted = True
    self.succeeded = ok
    self.returned = out
