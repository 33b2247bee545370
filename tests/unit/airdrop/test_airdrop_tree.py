"""The airdrop Merkle tree (`venice_ops.deploy.airdrop_tree`): byte-for-byte OpenZeppelin's
`StandardMerkleTree` (checked against the pinned npm package run under node), CSV input
validation, proof verification and a 40,000-leaf build. Pure Python: no chain."""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from tests.support.constants import VVV
from venice_ops.deploy.airdrop_tree import (
    FORMAT,
    LEAF_ENCODING,
    AirdropFormatError,
    AirdropInputError,
    AirdropTree,
    leaf_hash,
    read_csv,
    verify,
)

UINT256_MAX = 2**256 - 1
REPO = Path(__file__).resolve().parents[3]
OZ_PACKAGE = REPO / "node_modules" / "@openzeppelin" / "merkle-tree"

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
CAROL = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def random_entries(count: int, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    entries = []
    for i in range(count):
        address = to_checksum_address(rng.randbytes(20))
        if i % 10 == 3:
            amount = UINT256_MAX - rng.randrange(1000)  # the encoding's edge
        elif i % 10 == 7:
            amount = 1
        else:
            amount = rng.randrange(1, 10**6) * VVV + rng.randrange(VVV)
        entries.append((address, amount))
    return entries


# The trees compared with OpenZeppelin's library: sizes 1, 2, 3, 7 (incomplete bottom
# level) and 100.
CASES: dict[str, list[tuple[str, int]]] = {
    "one": [(ALICE, 5 * VVV)],
    "two": [(ALICE, 5 * VVV), (BOB, 2_500_000_000_000_000_000)],
    "three": [(ALICE, 5 * VVV), (BOB, 1), (CAROL, UINT256_MAX)],
    "seven": random_entries(7, seed=7),
    "hundred": random_entries(100, seed=2024),
}

OZ_SCRIPT = r"""
const fs = require("fs");
const [lib, inPath, outPath] = process.argv.slice(2);
const { StandardMerkleTree } = require(lib);
const ENC = ["address", "uint256"];
const input = JSON.parse(fs.readFileSync(inPath, "utf8"));
const out = {};
for (const c of input.cases) {
  const tree = StandardMerkleTree.of(c.values, ENC);
  const loaded = StandardMerkleTree.load(c.ours.tree);
  const claims = Object.entries(c.ours.claims);
  out[c.name] = {
    root: tree.root,
    dump: tree.dump(),
    proofs: c.values.map((_, i) => tree.getProof(i)),
    leafHashes: c.values.map((v) => tree.leafHash(v)),
    loadedRoot: loaded.root,
    loadedProofs: c.values.map((v) => loaded.getProof(v)),
    oursVerify: claims.map(([a, cl]) =>
      StandardMerkleTree.verify(c.ours.root, ENC, [a, cl.amount], cl.proof) &&
      loaded.verify([a, cl.amount], cl.proof)),
    wrongAmountVerifies: claims.some(([a, cl]) =>
      StandardMerkleTree.verify(c.ours.root, ENC, [a, (BigInt(cl.amount) - 1n).toString()],
                                cl.proof)),
  };
}
fs.writeFileSync(outPath, JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def oz(tmp_path_factory) -> dict[str, Any]:
    """OpenZeppelin's results for every case, from one node run."""
    if not (OZ_PACKAGE / "package.json").exists():
        pytest.skip(f"{OZ_PACKAGE} is missing: run `npm install` (it is a pinned devDependency)")
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    work = tmp_path_factory.mktemp("oz")
    script, data, result = work / "oz.js", work / "in.json", work / "out.json"
    script.write_text(OZ_SCRIPT)
    cases = [
        {
            "name": name,
            "values": [[address, str(amount)] for address, amount in entries],
            "ours": AirdropTree(entries).to_json(),
        }
        for name, entries in CASES.items()
    ]
    data.write_text(json.dumps({"cases": cases}))
    subprocess.run(
        [node, str(script), str(OZ_PACKAGE), str(data), str(result)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(result.read_text())


# ------------------------------------------------------------------ OpenZeppelin compatibility


@pytest.mark.parametrize("name", list(CASES))
def test_oz__root_proofs_and_dump_identical(oz, name):
    entries = CASES[name]
    tree = AirdropTree(entries)
    theirs = oz[name]
    assert tree.root == theirs["root"]
    assert [tree.proof(address) for address, _ in entries] == theirs["proofs"]
    assert [tree.leaf_hash(a, v) for a, v in entries] == theirs["leafHashes"]
    # The dump, through JSON as it would be written to disk.
    assert json.loads(json.dumps(tree.to_json()["tree"])) == theirs["dump"]
    assert tree.oz_dump() == theirs["dump"]


@pytest.mark.parametrize("name", list(CASES))
def test_oz__loads_our_json_and_verifies_our_proofs(oz, name):
    entries = CASES[name]
    theirs = oz[name]
    assert theirs["loadedRoot"] == AirdropTree(entries).root
    assert theirs["loadedProofs"] == theirs["proofs"]
    assert theirs["oursVerify"] == [True] * len(entries)
    assert theirs["wrongAmountVerifies"] is False


def test_leaf__is_double_keccak_of_abi_encode():
    for address, amount in CASES["hundred"]:
        expected = keccak(keccak(encode(["address", "uint256"], [address, amount])))
        assert leaf_hash(address, amount) == "0x" + expected.hex()
        assert leaf_hash(address.lower(), amount) == "0x" + expected.hex()


def test_tree__layout_is_oz_array_with_sorted_leaves_reversed_at_the_end():
    entries = CASES["hundred"]
    tree = AirdropTree(entries)
    nodes = tree.oz_dump()["tree"]
    n = len(entries)
    assert len(nodes) == 2 * n - 1
    leaves = sorted(tree.leaf_hash(a, v) for a, v in entries)
    assert nodes[n - 1 :] == leaves[::-1]
    for value in tree.oz_dump()["values"]:
        address, amount = value["value"]
        assert nodes[value["treeIndex"]] == tree.leaf_hash(address, int(amount))
    for i in range(n - 1):
        a, b = sorted(bytes.fromhex(nodes[c][2:]) for c in (2 * i + 1, 2 * i + 2))
        assert nodes[i] == "0x" + keccak(a + b).hex()
    # Proof length is the leaf's depth: floor(log2(n)) or ceil(log2(n)).
    lengths = {len(tree.proof(a)) for a, _ in entries}
    assert lengths <= {math.floor(math.log2(n)), math.ceil(math.log2(n))}


def test_tree__addresses_checksummed_as_eth_utils_does():
    rng = random.Random(55)
    raw = [rng.randbytes(20).hex() for _ in range(300)]
    entries = [("0x" + (body.upper() if i % 2 else body), 1) for i, body in enumerate(raw)]
    assert [a for a, _ in AirdropTree(entries).entries] == [
        to_checksum_address("0x" + body) for body in raw
    ]


def test_tree__root_does_not_depend_on_entry_order():
    entries = CASES["hundred"]
    shuffled = list(entries)
    random.Random(1).shuffle(shuffled)
    assert AirdropTree(shuffled).root == AirdropTree(entries).root


def test_tree__single_leaf_root_is_the_leaf_with_empty_proof():
    tree = AirdropTree([(ALICE, 5 * VVV)])
    assert tree.root == leaf_hash(ALICE, 5 * VVV)
    assert tree.proof(ALICE) == []
    assert tree.verify(ALICE, 5 * VVV, [])


def test_tree__accessors():
    tree = AirdropTree([(ALICE.lower(), 5 * VVV), (BOB, 7)])
    assert tree.entries == [(ALICE, 5 * VVV), (BOB, 7)]
    assert tree.total == 5 * VVV + 7
    assert len(tree) == 2
    assert ALICE.lower() in tree and CAROL not in tree
    assert tree.amount(ALICE.upper().replace("0X", "0x")) == 5 * VVV
    assert tree.proof(ALICE.lower()) == tree.proof(ALICE)
    with pytest.raises(KeyError, match="not in the airdrop"):
        tree.proof(CAROL)


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ([], "at least one entry"),
        ([(ALICE, 1), (ALICE.lower(), 2)], "entry 1: duplicate address"),
        ([(ALICE, 0)], "must be positive"),
        ([(ALICE, -1)], "must be positive"),
        ([(ALICE, 2**256)], "uint256"),
        ([(ALICE, 1.5)], "not an integer"),
        ([("0x1234", 1)], "not an address"),
        ([("0x" + "0" * 40, 1)], "zero address"),
        ([(ALICE.replace("C8", "c8"), 1)], "checksum"),
    ],
)
def test_tree__rejects_bad_entries(entries, match):
    with pytest.raises(ValueError, match=match):
        AirdropTree(entries)


# ------------------------------------------------------------------ verification


def test_verify__every_claim_and_rejects_wrong_amount_proof_or_claimant():
    tree = AirdropTree(CASES["hundred"])
    (a, amount_a), (b, _) = CASES["hundred"][:2]
    proof_a = tree.proof(a)
    for address, amount in CASES["hundred"]:
        assert tree.verify(address, amount, tree.proof(address))
    assert not tree.verify(a, amount_a + 1, proof_a)
    assert not tree.verify(a, amount_a - 1, proof_a)
    assert not tree.verify(b, amount_a, proof_a)
    assert not tree.verify(a, amount_a, tree.proof(b))
    assert not tree.verify(a, amount_a, proof_a[:-1])
    assert not tree.verify(a, amount_a, [*proof_a, proof_a[0]])
    assert not tree.verify(a, amount_a, [])
    flipped = proof_a[0][:-1] + ("0" if proof_a[0][-1] != "0" else "1")
    assert not tree.verify(a, amount_a, [flipped, *proof_a[1:]])
    # The sibling order inside a proof matters; the left/right order of each pair does not.
    assert not tree.verify(a, amount_a, proof_a[::-1])
    # Bytes work as well as hex; malformed input is "no", not an exception.
    leaf = leaf_hash(a, amount_a)
    assert verify(bytes.fromhex(tree.root[2:]), bytes.fromhex(leaf[2:]), proof_a)
    assert not verify(tree.root, leaf, ["0x1234"])
    assert not verify(tree.root, "0xzz", proof_a)


def test_verify__intermediate_node_is_not_a_leaf():
    entries = CASES["seven"]
    tree = AirdropTree(entries)
    nodes = tree.oz_dump()["tree"]
    # Node 1 is internal (children 3 and 4); its "proof" is its sibling, node 2.
    node, node_proof = nodes[1], [nodes[2]]
    assert verify(tree.root, node, node_proof)  # as a raw node it folds to the root...
    left, right = sorted(bytes.fromhex(nodes[c][2:]) for c in (3, 4))
    preimage = left + right
    assert "0x" + keccak(preimage).hex() == node
    # ...but a leaf is hashed twice, so the 64-byte preimage presented as leaf data does not
    # produce the node: the second-preimage trick fails.
    as_leaf = "0x" + keccak(keccak(preimage)).hex()
    assert not verify(tree.root, as_leaf, node_proof)
    # Nor does any (address, amount) read out of those 64 bytes.
    address = to_checksum_address(preimage[12:32])
    amount = int.from_bytes(preimage[32:], "big")
    assert not verify(tree.root, leaf_hash(address, amount), node_proof)


# ------------------------------------------------------------------ JSON


def test_json__format_and_round_trip():
    entries = CASES["three"]
    tree = AirdropTree(entries)
    doc = json.loads(json.dumps(tree.to_json()))
    assert doc["format"] == FORMAT
    assert doc["root"] == tree.root
    assert doc["total"] == str(sum(v for _, v in entries))
    assert doc["leafEncoding"] == LEAF_ENCODING
    assert list(doc["claims"]) == [a for a, _ in entries]
    for address, amount in entries:
        assert doc["claims"][address] == {"amount": str(amount), "proof": tree.proof(address)}
    assert doc["tree"]["format"] == "standard-v1"
    assert doc["tree"]["leafEncoding"] == LEAF_ENCODING
    loaded = AirdropTree.from_json(doc)
    assert loaded.root == tree.root
    assert loaded.entries == tree.entries
    assert loaded.to_json() == tree.to_json()


def _tamper(doc: dict[str, Any], what: str) -> None:
    first = next(iter(doc["claims"]))
    if what == "format":
        doc["format"] = "standard-v1"
    elif what == "encoding":
        doc["leafEncoding"] = ["address", "uint128"]
    elif what == "root":
        doc["root"] = "0x" + "11" * 32
    elif what == "total":
        doc["total"] = str(int(doc["total"]) + 1)
    elif what == "amount":
        doc["claims"][first]["amount"] = str(int(doc["claims"][first]["amount"]) + 1)
    elif what == "amount_type":
        doc["claims"][first]["amount"] = 5
    elif what == "amount_sign":
        doc["claims"][first]["amount"] = "+" + doc["claims"][first]["amount"]
    elif what == "proof":
        doc["claims"][first]["proof"] = doc["claims"][first]["proof"][::-1]
    elif what == "tree":
        doc["tree"]["values"][0]["treeIndex"] += 1
    elif what == "no_claims":
        doc["claims"] = {}


@pytest.mark.parametrize(
    "what",
    [
        "format",
        "encoding",
        "root",
        "total",
        "amount",
        "amount_type",
        "amount_sign",
        "proof",
        "tree",
        "no_claims",
    ],
)
def test_json__from_json_rejects_tampering(what):
    doc = json.loads(json.dumps(AirdropTree(CASES["seven"]).to_json()))
    _tamper(doc, what)
    with pytest.raises(AirdropFormatError):
        AirdropTree.from_json(doc)


def test_json__oz_dump_is_optional_on_load():
    doc = AirdropTree(CASES["seven"]).to_json()
    del doc["tree"]
    assert AirdropTree.from_json(doc).root == doc["root"]


def test_json__from_json_rejects_non_object():
    with pytest.raises(AirdropFormatError):
        AirdropTree.from_json([])


# ------------------------------------------------------------------ CSV


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "airdrop.csv"
    path.write_text(text)
    return path


def test_csv__header_comments_blanks_and_decimals(tmp_path):
    text = (
        "# Venice airdrop, round 1\n"
        "address,amount\n"
        "\n"
        f"{ALICE},100\n"
        "   # indented comment\n"
        f"{BOB.lower()}, 2.5\n"
        f"  {CAROL} ,0.000000000000000001\n"
        "0x" + "AB" * 20 + ",1_000.000000000000000123\n"
    )
    entries = read_csv(_csv(tmp_path, text))
    assert entries == [
        (ALICE, 100 * VVV),
        (BOB, 5 * VVV // 2),
        (CAROL, 1),
        (to_checksum_address("0x" + "ab" * 20), 1000 * VVV + 123),
    ]


def test_csv__header_only_allowed_first_and_case_insensitive(tmp_path):
    assert read_csv(_csv(tmp_path, f"Address, Amount\n{ALICE},1\n")) == [(ALICE, VVV)]
    with pytest.raises(AirdropInputError, match=r"^line 2: 'address' is not an address"):
        read_csv(_csv(tmp_path, f"{ALICE},1\naddress,amount\n"))


def test_csv__windows_line_endings_and_bom(tmp_path):
    path = tmp_path / "airdrop.csv"
    path.write_bytes(f"\ufeffaddress,amount\r\n{ALICE},3\r\n".encode())
    assert read_csv(path) == [(ALICE, 3 * VVV)]


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        # Column count
        (f"address,amount\n{ALICE}\n", 2, "expected 2 columns .* got 1"),
        (f"{ALICE},1\n\n{BOB},2,3\n", 3, "expected 2 columns .* got 3"),
        (f"{ALICE},1,\n", 1, "expected 2 columns .* got 3"),
        # Addresses
        (f"{ALICE},1\n0x1234,5\n", 2, "'0x1234' is not an address"),
        (f"{ALICE[2:]},1\n", 1, "is not an address"),
        ("0x" + "g" * 40 + ",1\n", 1, "is not an address"),
        (f"{ALICE},1\n# x\n{BOB[:-1] + 'c'},1\n", 3, "invalid EIP-55 checksum"),
        ("0x" + "0" * 40 + ",1\n", 1, "zero address"),
        # Amounts
        (f"{ALICE},0\n", 1, "amount '0' is zero"),
        (f"{ALICE},0.000\n", 1, "is zero"),
        (f"{ALICE},-3\n", 1, "negative"),
        (f"{ALICE},abc\n", 1, "'abc' is not a number"),
        (f"{ALICE},\n", 1, "is not a number"),
        (f"{ALICE},1.0000000000000000001\n", 1, "more than 18 decimal places"),
        (f"{ALICE},1e80\n", 1, "does not fit in a uint256"),
        # Duplicates, in any case
        (f"{ALICE},1\n{BOB},2\n{ALICE.lower()},3\n", 3, f"duplicate address {ALICE}.*line 1"),
        (
            f"# header\naddress,amount\n{ALICE},1\n{ALICE.upper().replace('0X', '0x')},1\n",
            4,
            "already on line 3",
        ),
        # Nothing to airdrop
        ("", 1, "no entries"),
        ("address,amount\n", 1, "no entries"),
        ("# just a comment\n\naddress,amount\n\n", 4, "no entries"),
    ],
)
def test_csv__errors_name_the_line(tmp_path, text, line, match):
    with pytest.raises(AirdropInputError, match=rf"^line {line}: .*{match}") as info:
        read_csv(_csv(tmp_path, text))
    assert info.value.line == line
    assert isinstance(info.value, ValueError)


def test_csv__feeds_the_tree(tmp_path):
    path = _csv(tmp_path, f"address,amount\n{ALICE},1.5\n{BOB},2\n")
    tree = AirdropTree(read_csv(path))
    assert tree.total == 3_500_000_000_000_000_000
    assert tree.verify(BOB, 2 * VVV, tree.proof(BOB))


# ------------------------------------------------------------------ size


def test_large__forty_thousand_leaves():
    n = 40_000
    rng = random.Random(40_000)
    # Lowercase input (the tree checksums it): eth_utils' checksum would dominate the run.
    entries = [("0x" + rng.randbytes(20).hex(), rng.randrange(1, 10**24)) for _ in range(n)]
    tree = AirdropTree(entries)
    doc = tree.to_json()
    assert len(doc["claims"]) == n
    assert len(doc["tree"]["tree"]) == 2 * n - 1
    assert tree.total == sum(amount for _, amount in entries)
    for address, amount in (tree.entries[0], tree.entries[n // 2], tree.entries[-1]):
        proof = doc["claims"][address]["proof"]
        assert proof == tree.proof(address)
        assert len(proof) in (15, 16)  # floor/ceil(log2(40,000))
        assert verify(tree.root, leaf_hash(address, amount), proof)
        assert not verify(tree.root, leaf_hash(address, amount + 1), proof)
