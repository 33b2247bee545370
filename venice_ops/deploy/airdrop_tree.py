"""The airdrop's Merkle tree, byte-for-byte OpenZeppelin's `StandardMerkleTree`.

Pure Python (eth_hash/eth_utils, no ape), so that a CSV of `address,amount` becomes a root for
the distributor contract and one proof per claimant, and so that OpenZeppelin's own JavaScript
library (`@openzeppelin/merkle-tree`, pinned in package.json and compared against in
`tests/unit/test_airdrop_tree.py`) accepts the same tree with `StandardMerkleTree.load`.

The scheme, for the leaf encoding `["address", "uint256"]`:

* leaf = keccak256(keccak256(abi.encode(address, amount))): hashed twice, so that a leaf can
  never be confused with an internal node (whose preimage is 64 bytes hashed once);
* node = keccak256(min(a, b) ++ max(a, b)): pairs are sorted, so a proof is a plain list of
  sibling hashes with no left/right flags, checked as OpenZeppelin's `MerkleProof.verify`
  does (`verify` below);
* the tree is an array of 2n-1 nodes with the children of node i at 2i+1 and 2i+2 and the
  root at 0. The leaves are sorted by hash (ascending) and placed at the end of the array in
  reverse: the k-th smallest leaf is at index 2n-2-k. A leaf at index i has a proof of
  floor(log2(i+1)) hashes, so proofs are floor(log2(n)) or ceil(log2(n)) long (0 for one leaf).

Amounts are integer wei; `read_csv` turns whole-VVV amounts (up to 18 decimals) into wei.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from venice_sdk.addresses import parse_address
from venice_sdk.units import AmountError, parse_units


def _pick_keccak() -> Callable[[bytes], bytes]:
    """eth_hash's safe-pysha3 backend (C, ~5x faster per call than the pycryptodome one,
    which matters for 40,000 leaves) when installed, else whichever backend eth_hash finds."""
    try:
        from eth_hash.backends.pysha3 import keccak256
    except ImportError:  # pragma: no cover
        from eth_hash.auto import keccak as auto

        return auto
    return keccak256


keccak = _pick_keccak()

__all__ = [
    "FORMAT",
    "LEAF_ENCODING",
    "AirdropFormatError",
    "AirdropInputError",
    "AirdropTree",
    "leaf_hash",
    "read_csv",
    "verify",
]

FORMAT = "venice-airdrop-v1"
OZ_FORMAT = "standard-v1"
LEAF_ENCODING = ["address", "uint256"]
DECIMALS = 18
UINT256_MAX = 2**256 - 1
ZERO_ADDRESS = "0x" + "0" * 40

_HEADER = ["address", "amount"]


class AirdropInputError(ValueError):
    """A bad row in the airdrop CSV; the message starts with its line number ("line 7: ...")."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.reason = message


class AirdropFormatError(ValueError):
    """A tree JSON that is not a valid, self-consistent `venice-airdrop-v1` document."""


# ---------------------------------------------------------------------------------------------
# Addresses and hashes
# ---------------------------------------------------------------------------------------------


def _checksum(address: object) -> str:
    """The EIP-55 form of an address, by the SDK's one parser (`parse_address`: mixed case
    must be the correct checksum; all-lowercase and all-uppercase carry none); not zero."""
    checksummed = parse_address(address)
    if int(checksummed, 16) == 0:
        raise ValueError("the zero address cannot claim")
    return checksummed


def _check_amount(amount: int) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise ValueError(f"amount {amount!r} is not an integer number of wei")
    if amount <= 0:
        raise ValueError(f"amount {amount} must be positive")
    if amount > UINT256_MAX:
        raise ValueError(f"amount {amount} does not fit in a uint256")
    return amount


def _to_bytes32(value: str | bytes) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


def _encode(address: str, amount: int) -> bytes:
    """abi.encode(address, uint256): both static, so two left-padded 32-byte words."""
    return bytes(12) + bytes.fromhex(address[2:]) + amount.to_bytes(32, "big")


def _leaf(address: str, amount: int) -> bytes:
    return keccak(keccak(_encode(address, amount)))


def _node(a: bytes, b: bytes) -> bytes:
    return keccak(a + b if a <= b else b + a)


def leaf_hash(address: str, amount: int) -> str:
    """keccak256(keccak256(abi.encode(address, amount))) as 0x hex (OpenZeppelin's leaf)."""
    return _hex(_leaf(_checksum(address), _check_amount(amount)))


def verify(root: str | bytes, leaf: str | bytes, proof: Sequence[str | bytes]) -> bool:
    """OpenZeppelin's `MerkleProof.verify`: fold the proof into the leaf with sorted-pair
    hashing and compare with the root. `leaf` is the leaf *hash* (see `leaf_hash`)."""
    try:
        computed = _to_bytes32(leaf)
        for sibling in proof:
            computed = _node(computed, _to_bytes32(sibling))
        return computed == _to_bytes32(root)
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


def claim_key(address: str, amount: int, proof: Sequence[str | bytes]) -> int:
    """The AirdropDistributor's claimed-bitmap key for a leaf: one bit per level (1 when the
    node is the larger of its pair) above a leading 1 at the proof's length. Neighbouring
    leaves share the key's upper bits, so the contract's 256-bit word `key >> 8`."""
    node = _leaf(address, amount)
    key = 1 << len(proof)
    for level, sibling in enumerate(proof):
        other = _to_bytes32(sibling)
        if node < other:
            node = _node(node, other)
        else:
            key |= 1 << level
            node = _node(other, node)
    return key


def read_csv(path: str | Path) -> list[tuple[str, int]]:
    """Read `address,amount` rows (amounts in whole VVV, up to 18 decimals) into
    [(checksum address, wei)], in file order.

    Skipped: blank lines, lines starting with `#`, and a first row `address,amount`. Every
    problem raises `AirdropInputError` naming its line: a row without exactly two columns, an
    address that is not 0x + 40 hex digits or is mixed-case with a wrong EIP-55 checksum, the
    zero address, an amount that is not a number, has more than 18 decimals, or is zero or
    negative, an address already listed on an earlier line, and a file with no entries.
    """
    text = Path(path).read_text(encoding="utf-8-sig")
    entries: list[tuple[str, int]] = []
    first_line: dict[str, int] = {}
    seen_row = False
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = [field.strip() for field in next(csv.reader([stripped]))]
        if not seen_row:
            seen_row = True
            if [field.lower() for field in fields] == _HEADER:
                continue
        if len(fields) != 2:
            raise AirdropInputError(
                number, f"expected 2 columns (address,amount), got {len(fields)}: {stripped!r}"
            )
        address_text, amount_text = fields
        try:
            address = _checksum(address_text)
        except ValueError as exc:
            raise AirdropInputError(number, str(exc)) from None
        try:
            amount = parse_units(amount_text, DECIMALS)
        except AmountError as exc:
            raise AirdropInputError(number, f"amount {exc}") from None
        if amount == 0:
            raise AirdropInputError(number, f"amount '{amount_text}' is zero: amounts must be > 0")
        if amount > UINT256_MAX:
            raise AirdropInputError(number, f"amount '{amount_text}' does not fit in a uint256")
        key = address.lower()
        if key in first_line:
            raise AirdropInputError(
                number, f"duplicate address {address} (already on line {first_line[key]})"
            )
        first_line[key] = number
        entries.append((address, amount))
    if not entries:
        raise AirdropInputError(
            max(len(lines), 1),
            "no entries: the file is empty or has only a header, comments and blank lines",
        )
    return entries


# ---------------------------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------------------------


class AirdropTree:
    """OpenZeppelin's `StandardMerkleTree.of(values, ["address", "uint256"])` for
    values [[checksum address, decimal wei string], ...] in the order given.

    The tree does not depend on the order of the entries (leaves are sorted by hash); only
    the order of `values` in the OpenZeppelin dump does.
    """

    def __init__(self, entries: Iterable[tuple[str, int]]):
        checked: list[tuple[str, int]] = []
        index_of: dict[str, int] = {}
        for position, (raw_address, raw_amount) in enumerate(entries):
            try:
                address = _checksum(raw_address)
                amount = _check_amount(raw_amount)
            except ValueError as exc:
                raise ValueError(f"entry {position}: {exc}") from None
            key = address.lower()
            if key in index_of:
                raise ValueError(
                    f"entry {position}: duplicate address {address} (entry {index_of[key]})"
                )
            index_of[key] = position
            checked.append((address, amount))
        if not checked:
            raise ValueError("an airdrop needs at least one entry")

        n = len(checked)
        hashes = [_leaf(address, amount) for address, amount in checked]
        # Sorted by hash, the k-th leaf goes to the k-th slot from the end.
        order = sorted(range(n), key=hashes.__getitem__)
        size = 2 * n - 1
        tree: list[bytes] = [b""] * size
        tree_index = [0] * n
        for k, value_index in enumerate(order):
            tree[size - 1 - k] = hashes[value_index]
            tree_index[value_index] = size - 1 - k
        for i in range(size - 1 - n, -1, -1):
            tree[i] = _node(tree[2 * i + 1], tree[2 * i + 2])

        self._entries = checked
        self._index_of = index_of
        self._tree = tree
        self._tree_index = tree_index
        self._hex_tree: list[str] | None = None
        self.total: int = sum(amount for _, amount in checked)
        self.root: str = _hex(tree[0])

    # -- reading ---------------------------------------------------------------------------

    @property
    def entries(self) -> list[tuple[str, int]]:
        """[(checksum address, wei)] in the order the tree was built from."""
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and address.lower() in self._index_of

    def amount(self, address: str) -> int:
        return self._entries[self._value_index(address)][1]

    def leaf_hash(self, address: str, amount: int) -> str:
        """The leaf for (address, amount), whether or not it is in this tree."""
        return leaf_hash(address, amount)

    def proof(self, address: str) -> list[str]:
        """Sibling hashes from the claimant's leaf up to (not including) the root."""
        return self._proof_at(self._tree_index[self._value_index(address)])

    def verify(self, address: str, amount: int, proof: Sequence[str | bytes]) -> bool:
        return verify(self.root, leaf_hash(address, amount), proof)

    def _value_index(self, address: str) -> int:
        try:
            return self._index_of[address.lower()]
        except KeyError:
            raise KeyError(f"{address} is not in the airdrop") from None

    def _hex_nodes(self) -> list[str]:
        if self._hex_tree is None:
            self._hex_tree = [_hex(node) for node in self._tree]
        return self._hex_tree

    def _proof_at(self, index: int) -> list[str]:
        nodes = self._hex_nodes()
        proof = []
        while index > 0:
            proof.append(nodes[index + 1 if index % 2 else index - 1])
            index = (index - 1) // 2
        return proof

    # -- JSON ------------------------------------------------------------------------------

    def oz_dump(self) -> dict[str, Any]:
        """Exactly `StandardMerkleTree.dump()` of the same tree."""
        return {
            "format": OZ_FORMAT,
            "leafEncoding": list(LEAF_ENCODING),
            "tree": list(self._hex_nodes()),
            "values": [
                {"value": [address, str(amount)], "treeIndex": self._tree_index[i]}
                for i, (address, amount) in enumerate(self._entries)
            ],
        }

    def to_json(self) -> dict[str, Any]:
        """The document the distributor and the claim front end read (see module docs)."""
        return {
            "format": FORMAT,
            "root": self.root,
            "total": str(self.total),
            "leafEncoding": list(LEAF_ENCODING),
            "claims": {
                address: {"amount": str(amount), "proof": self._proof_at(self._tree_index[i])}
                for i, (address, amount) in enumerate(self._entries)
            },
            "tree": self.oz_dump(),
        }

    @classmethod
    def from_oz_dump(cls, data: Any) -> AirdropTree:
        """Rebuild from OpenZeppelin's `StandardMerkleTree.dump()` ("standard-v1"), checked
        first: the format, the leaf encoding, each value (a valid address, a positive uint256
        amount, a tree index), no leaf listed twice, and the whole tree (so the root)
        recomputed from the values. Built with OZ's default sorted leaves, the dump is
        `oz_dump()` of the same tree."""
        if not isinstance(data, dict):
            raise AirdropFormatError("an OpenZeppelin tree dump is a JSON object")
        if data.get("format") != OZ_FORMAT:
            raise AirdropFormatError(f"unknown format {data.get('format')!r} (want {OZ_FORMAT!r})")
        if data.get("leafEncoding") != LEAF_ENCODING:
            raise AirdropFormatError(
                f"leafEncoding {data.get('leafEncoding')!r} is not {LEAF_ENCODING}: the "
                "distributor's leaves are (address, uint256)"
            )
        values, nodes = data.get("values"), data.get("tree")
        if not isinstance(values, list) or not values:
            raise AirdropFormatError("'values' must be a non-empty list")
        if not isinstance(nodes, list) or len(nodes) != 2 * len(values) - 1:
            raise AirdropFormatError(
                f"'tree' must list 2n-1 = {2 * len(values) - 1} nodes for {len(values)} values"
            )
        entries = [_oz_entry(position, item) for position, item in enumerate(values)]
        _refuse_repeated_leaves(entries)
        try:
            tree = cls(entries)
        except ValueError as exc:
            raise AirdropFormatError(f"values: {exc}") from None
        if [node.lower() if isinstance(node, str) else node for node in nodes] != tree._hex_nodes():
            if not isinstance(nodes[0], str) or nodes[0].lower() != tree.root:
                raise AirdropFormatError(
                    f"the dump's root {nodes[0]!r} is not the root of its values, {tree.root} "
                    "(an edited dump, or one built with sortLeaves: false, which is not supported)"
                )
            raise AirdropFormatError("the dump's tree nodes do not match its values")
        for position, item in enumerate(values):
            if item.get("treeIndex") != tree._tree_index[position]:
                raise AirdropFormatError(
                    f"values[{position}]: treeIndex {item.get('treeIndex')!r} is not its leaf's "
                    f"place in the tree ({tree._tree_index[position]})"
                )
        return tree

    @classmethod
    def from_json(cls, data: Any) -> AirdropTree:
        """Rebuild from `to_json()` output, checking that root, total, every proof and (if
        present: it may be stripped to save space) the OpenZeppelin dump agree with the
        claims."""
        if not isinstance(data, dict):
            raise AirdropFormatError("an airdrop document is a JSON object")
        if data.get("format") != FORMAT:
            raise AirdropFormatError(f"unknown format {data.get('format')!r} (want {FORMAT!r})")
        if data.get("leafEncoding") != LEAF_ENCODING:
            raise AirdropFormatError(f"leafEncoding must be {LEAF_ENCODING}")
        claims = data.get("claims")
        if not isinstance(claims, dict) or not claims:
            raise AirdropFormatError("'claims' must be a non-empty object")
        entries = []
        for address, claim in claims.items():
            amount = claim.get("amount") if isinstance(claim, dict) else None
            if not isinstance(amount, str) or not re.fullmatch(r"[0-9]+", amount):
                raise AirdropFormatError(f"claim {address}: amount must be a decimal wei string")
            entries.append((address, int(amount)))
        try:
            tree = cls(entries)
        except ValueError as exc:
            raise AirdropFormatError(f"claims: {exc}") from None
        if data.get("root") != tree.root:
            raise AirdropFormatError(f"root {data.get('root')!r} does not match the claims")
        if data.get("total") != str(tree.total):
            raise AirdropFormatError(f"total {data.get('total')!r} does not match the claims")
        for address, claim in claims.items():
            if claim.get("proof") != tree.proof(address):
                raise AirdropFormatError(f"claim {address}: proof does not match the tree")
        if "tree" in data:
            dump = data["tree"]
            if isinstance(dump, dict) and isinstance(dump.get("values"), list):
                entries = [_oz_entry(i, item) for i, item in enumerate(dump["values"])]
                _refuse_repeated_leaves(entries)
            if dump != tree.oz_dump():
                raise AirdropFormatError("'tree' (the OpenZeppelin dump) does not match the claims")
        return tree


def _oz_entry(position: int, item: Any) -> tuple[str, int]:
    """One `values[i]` of an OpenZeppelin dump: {"value": [address, amount], "treeIndex": k},
    the amount a decimal string (or an integer)."""
    value = item.get("value") if isinstance(item, dict) else None
    if not isinstance(value, list) or len(value) != 2:
        raise AirdropFormatError(f"values[{position}]: expected {{'value': [address, amount]}}")
    address, amount = value
    if isinstance(amount, str) and re.fullmatch(r"[0-9]+", amount):
        amount = int(amount)
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise AirdropFormatError(f"values[{position}]: amount {amount!r} is not a wei integer")
    try:
        return _checksum(address), _check_amount(amount)
    except ValueError as exc:
        raise AirdropFormatError(f"values[{position}]: {exc}") from None


def _refuse_repeated_leaves(entries: Sequence[tuple[str, int]]) -> None:
    """Refuse the same (account, amount) leaf listed twice: the two equal sibling leaves share
    one claimed bit, so the account could claim one copy and the rest would be burned."""
    first: dict[tuple[str, int], int] = {}
    for position, (address, amount) in enumerate(entries):
        earlier = first.setdefault((address, amount), position)
        if earlier != position:
            raise AirdropFormatError(
                f"values[{position}] repeats the leaf of values[{earlier}] ({address}, {amount} "
                "wei): equal leaves share one claimed bit, so only one copy could ever be "
                "claimed and the rest would be burned; list each account once with its total"
            )
