# pragma version ~=0.4.3
"""
@title AirdropDistributor
@custom:contract-name AirdropDistributor
@license GNU Affero General Public License v3.0 only
@notice The VVV airdrop: claims by Merkle proof within a claim window, each
        leaf once, and after the deadline anyone burns what is left.
        - Leaves are OpenZeppelin StandardMerkleTree leaves for
          (address, uint256): keccak256(keccak256(abi.encode(account,
          amount))), nodes hash their children as a sorted pair. Being 32
          bytes long, a hashed leaf can never pass for a 64-byte internal
          node, and the leaf is built from the caller's own address.
        - A claim may go straight into sVVV in the same call.
        - Claimed leaves are marked in a bitmap keyed by the leaf's place in
          the tree, which the proof fixes: at each level the smaller hash is
          the left child (bit 0), so the bits of the path and its length
          name one leaf. Neighbouring leaves share a storage word, as in
          Uniswap's MerkleDistributor, without putting an index in the leaf.
@custom:security No owner: the root, token, staking contract and deadline
                 are fixed at deploy.
"""

from interfaces import IAirdropDistributor
from interfaces import IStakedVVV
from interfaces import IVVV

implements: IAirdropDistributor


# @dev Deep enough for 2**32 leaves.
MAX_PROOF_LENGTH: public(constant(uint256)) = 32

VVV: public(immutable(IVVV))
STAKING: public(immutable(IStakedVVV))
MERKLE_ROOT: public(immutable(bytes32))
# @dev Claims are accepted up to and including this second.
DEADLINE: public(immutable(uint256))

# @dev Claimed leaves: word index -> 256 bits.
_claimed: HashMap[uint256, uint256]


event Claimed:
    account: indexed(address)
    amount: uint256
    staked: bool


event UnclaimedBurned:
    caller: indexed(address)
    amount: uint256


@deploy
def __init__(vvv: address, staking: address, merkle_root: bytes32, deadline: uint256):
    """
    @notice Deploys the airdrop of one Merkle tree of (account, amount) leaves; claims are open
            until the deadline.
    @param vvv The airdropped token; fund this contract with the tree total.
    @param staking The sVVV contract, for claims straight into stake.
    @param merkle_root Root of the (address, amount) tree.
    @param deadline Last second of the claim window (unix time).
    """
    assert vvv != empty(address) and staking != empty(address), "airdrop: zero address"
    assert merkle_root != empty(bytes32), "airdrop: zero root"
    assert deadline > block.timestamp, "airdrop: deadline passed"
    VVV = IVVV(vvv)
    STAKING = IStakedVVV(staking)
    MERKLE_ROOT = merkle_root
    DEADLINE = deadline
    # Claims into stake: the staking contract pulls the claimed VVV from here.
    extcall VVV.approve(staking, max_value(uint256))


@external
@nonreentrant
def claim(amount: uint256, proof: DynArray[bytes32, MAX_PROOF_LENGTH], stake: bool):
    """
    @notice Claims the caller's airdrop.
    @param amount The amount in the caller's leaf, wei.
    @param proof The leaf's Merkle proof, leaf to root.
    @param stake True to receive sVVV (staked for the caller) instead of VVV.
    """
    assert block.timestamp <= DEADLINE, "airdrop: claim window closed"
    assert amount > 0, "airdrop: zero amount"
    key: uint256 = self._verify(msg.sender, amount, proof)
    word: uint256 = self._claimed[key >> 8]
    bit: uint256 = 1 << (key & 255)
    assert word & bit == 0, "airdrop: already claimed"
    self._claimed[key >> 8] = word | bit
    if stake:
        extcall STAKING.stake(msg.sender, amount)
    else:
        extcall VVV.transfer(msg.sender, amount)
    log Claimed(account=msg.sender, amount=amount, staked=stake)


@external
@nonreentrant
def burnUnclaimed() -> uint256:
    """
    @notice After the deadline, burns every VVV this contract holds. Anyone may
            call (again, if more VVV arrives).
    @return The VVV burned.
    """
    assert block.timestamp > DEADLINE, "airdrop: claim window open"
    amount: uint256 = staticcall VVV.balanceOf(self)
    assert amount > 0, "airdrop: nothing to burn"
    extcall VVV.burn(amount)
    log UnclaimedBurned(caller=msg.sender, amount=amount)
    return amount


@view
@external
def isClaimed(account: address, amount: uint256, proof: DynArray[bytes32, MAX_PROOF_LENGTH]) -> bool:
    """
    @notice Whether the leaf (account, amount) has been claimed; reverts on a
            proof that does not lead to the root.
    @param account The leaf's account.
    @param amount The leaf's amount (wei).
    @param proof The leaf's Merkle proof.
    @return True once the leaf has been claimed.
    """
    key: uint256 = self._verify(account, amount, proof)
    return self._claimed[key >> 8] & (1 << (key & 255)) != 0


@view
@internal
def _verify(
    account: address, amount: uint256, proof: DynArray[bytes32, MAX_PROOF_LENGTH]
) -> uint256:
    """
    @dev Walks the proof from the leaf of (account, amount) to the root and
         returns the leaf's key: one bit per level (1 when the node is the
         larger of the pair) above a leading 1 that marks the depth.
    """
    node: bytes32 = keccak256(keccak256(abi_encode(account, amount)))
    key: uint256 = 1 << len(proof)
    for i: uint256 in range(len(proof), bound=MAX_PROOF_LENGTH):
        sibling: bytes32 = proof[i]
        if convert(node, uint256) < convert(sibling, uint256):
            node = keccak256(concat(node, sibling))
        else:
            key |= 1 << i
            node = keccak256(concat(sibling, node))
    assert node == MERKLE_ROOT, "airdrop: invalid proof"
    return key
