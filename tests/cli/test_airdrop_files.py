"""The airdrop files `ape run airdrop deploy` takes (issue 15, items 6 and 7): OpenZeppelin's
own `standard-v1` dump, checked first; a tree listing the same (account, amount) leaf twice
refused in both formats; and `--force` replacing a stale manifest entry after a chain reset.
Every refusal sends nothing."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest
from ape import chain
from eth_utils import to_checksum_address

from scripts import airdrop as airdrop_cmd
from tests.support.cli import command_fixture, one_error_line
from tests.support.constants import VVV
from venice_ops.deploy.airdrop_tree import AirdropFormatError, AirdropTree
from venice_ops.deploy.suite import load_suite

FILLER = [f"0x{i:040x}" for i in range(0xB1, 0xB6)]


drop = command_fixture(airdrop_cmd.cli)


@pytest.fixture
def tree(alice, bob) -> AirdropTree:
    return AirdropTree(
        [(alice.address, 100 * VVV), (bob.address, 50 * VVV)]
        + [(address, (i + 1) * VVV) for i, address in enumerate(FILLER)]
    )


def write(path: Path, data) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.fixture
def sent(owner, vvv):
    """The deployer's nonce and VVV: unchanged when a deploy is refused."""
    return lambda: (owner.nonce, int(vvv.balanceOf(owner)))


################################################################
#                 6. OPENZEPPELIN'S standard-v1                #
################################################################


def test_oz_dump__deployed_and_claimed(drop, manifests, tree, tmp_path, vvv, alice):
    dump = write(tmp_path / "oz.json", tree.oz_dump())

    deployed = drop(manifests, "deploy", str(dump))

    assert deployed.exit_code == 0, deployed.stderr
    airdrop = load_suite(manifests).airdrop
    assert "0x" + bytes(airdrop.MERKLE_ROOT()).hex() == tree.root
    assert vvv.balanceOf(airdrop) == tree.total
    claimed = drop(manifests, "claim", str(dump), "--account", "TEST::3")
    assert claimed.exit_code == 0, claimed.stderr
    assert vvv.balanceOf(alice) == 100 * VVV


def test_oz_dump__lowercase_addresses_and_number_amounts(tree, alice):
    dump = tree.oz_dump()
    for item in dump["values"]:
        item["value"] = [item["value"][0].lower(), int(item["value"][1])]
    assert AirdropTree.from_oz_dump(dump).root == tree.root


def _edited(tree: AirdropTree, edit) -> dict:
    dump = json.loads(json.dumps(tree.oz_dump()))
    edit(dump)
    return dump


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(format="standard-v2"), "unknown format 'standard-v2'"),
        (lambda d: d.update(leafEncoding=["address", "uint128"]), "leafEncoding"),
        (lambda d: d.update(values=[]), "'values' must be a non-empty list"),
        (lambda d: d["tree"].pop(), "'tree' must list 2n-1 = 13 nodes for 7 values"),
        (lambda d: d["values"][0].update(value=["0x1234", "5"]), "values[0]: '0x1234' is not"),
        (
            lambda d: d["values"][1]["value"].__setitem__(
                0, "0x70997970c51812dc3a010c7D01B50E0D17dc79c9"
            ),
            "values[1]: '0x70997970c51812dc3a010c7D01B50E0D17dc79c9' has an invalid EIP-55",
        ),
        (lambda d: d["values"][0]["value"].__setitem__(1, "-5"), "values[0]: amount '-5'"),
        (lambda d: d["values"][0]["value"].__setitem__(1, "0"), "must be positive"),
        (lambda d: d["tree"].__setitem__(0, "0x" + "11" * 32), "is not the root of its values"),
        (lambda d: d["tree"].__setitem__(3, "0x" + "11" * 32), "tree nodes do not match"),
        (lambda d: d["values"][0]["value"].__setitem__(1, "101"), "is not the root"),
        (lambda d: d["values"][0].update(treeIndex=99), "values[0]: treeIndex 99"),
    ],
)
def test_oz_dump__validated_before_anything_is_sent(
    drop, manifests, tree, tmp_path, sent, edit, message
):
    with pytest.raises(AirdropFormatError):
        AirdropTree.from_oz_dump(_edited(tree, edit))
    before = sent()
    path = write(tmp_path / "bad.json", _edited(tree, edit))
    one_error_line(drop(manifests, "deploy", str(path)), message)
    assert sent() == before


def test_repeated_leaf__refused_in_an_oz_dump(drop, manifests, tree, tmp_path, sent, alice):
    """Two equal sibling leaves share one claimed bit: alice could claim 100 VVV once, and
    the second 100 would be burned."""
    dump = tree.oz_dump()
    dump["values"].append({"value": [alice.address, str(100 * VVV)], "treeIndex": 13})
    dump["tree"] += ["0x" + "00" * 32] * 2
    before = sent()

    one_error_line(
        drop(manifests, "deploy", str(write(tmp_path / "twice.json", dump))),
        f"values[7] repeats the leaf of values[0] ({alice.address}, {100 * VVV} wei): equal "
        "leaves share one claimed bit",
    )
    assert sent() == before


def test_repeated_leaf__refused_in_our_format(drop, manifests, tree, tmp_path, sent, alice):
    data = tree.to_json()
    text = json.dumps(data, indent=1)
    # The same claim written twice: JSON would keep only the last one silently.
    entry = json.dumps({"amount": str(100 * VVV), "proof": tree.proof(alice.address)})
    twice = text.replace('"claims": {', f'"claims": {{"{alice.address}": {entry},', 1)
    assert twice != text
    # The embedded OZ dump listing the leaf twice.
    dumped = json.loads(text)
    dumped["tree"]["values"].append({"value": [alice.address, str(100 * VVV)], "treeIndex": 13})
    before = sent()

    one_error_line(
        drop(manifests, "deploy", str(write(tmp_path / "a.json", twice))),
        f"the airdrop file names '{alice.address}' twice in one object: equal leaves share one "
        "claimed bit",
    )
    one_error_line(
        drop(manifests, "deploy", str(write(tmp_path / "b.json", dumped))),
        "values[7] repeats the leaf of values[0]",
    )
    assert sent() == before


################################################################
#                 7. --force AFTER A CHAIN RESET               #
################################################################


def test_force__replaces_a_stale_airdrop_entry_alone(drop, manifests, suite, tree, tmp_path, sent):
    path = write(tmp_path / "tree.json", tree.to_json())
    stale = to_checksum_address("0x" + "ab" * 20)
    manifest = manifests / f"{chain.chain_id}.json"
    data = json.loads(manifest.read_text())
    # The distributor recorded before a reset: no code at its address on this chain.
    data["contracts"]["AirdropDistributor"] = {
        "address": stale,
        "abi": data["contracts"]["VVV"]["abi"],
    }
    manifest.write_text(json.dumps(data))
    before = sent()

    # (a node the user runs, reset: not the throwaway node ape starts without --network)
    with mock.patch("venice_ops.deploy.suite.node_started_here", return_value=False):
        refused = drop(manifests, "deploy", str(path))

    one_error_line(refused, f"says AirdropDistributor is at {stale}")
    assert "deploy a new distributor in its place with `ape run airdrop deploy FILE --force`" in (
        refused.stderr
    )
    assert sent() == before

    forced = drop(manifests, "deploy", str(path), "--force")

    assert forced.exit_code == 0, forced.stderr
    airdrop = load_suite(manifests).airdrop
    assert airdrop.address != stale
    assert "0x" + bytes(airdrop.MERKLE_ROOT()).hex() == tree.root
    assert load_suite(manifests).vvv.address == suite.vvv.address
