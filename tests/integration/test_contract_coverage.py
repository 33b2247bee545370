"""The contract coverage collector (tests/support/coverage.py) attributes what runs to the right
statements: a transaction's own function and the nested call into another contract, a call
that reverts midway, a constructor; and it refuses a trace whose depths do not fit its call
tree (crediting none of it). A collector of its own, not installed, so these tests read the
same under `--contract-coverage` and without it."""

from __future__ import annotations

from pathlib import Path

import pytest
from ape import chain, project
from vyper.ast import nodes, parse_to_ast

from tests.support import coverage
from tests.support.constants import VVV, ZERO


@pytest.fixture(scope="module")
def maps(request):
    """The session's maps under --contract-coverage (same compilation), else a fresh build."""
    from tests.support.coverage import CONTRACT_COVERAGE

    session = request.config.stash.get(CONTRACT_COVERAGE, None)
    return session[0].maps if session else coverage.build_maps()


@pytest.fixture
def collector(maps):
    return coverage.Collector(maps, str(chain.provider.http_uri))


def body(path: str, function: str) -> set[coverage.Statement]:
    """The statements of one function of a contract source, as the collector names them."""
    module = parse_to_ast((coverage.ROOT / path).read_text(), resolved_path=path)
    [fn] = [f for f in module.get_children(nodes.FunctionDef) if f.name == function]
    return {
        coverage.Statement(path, s.lineno, s.col_offset, s.end_lineno, s.end_col_offset)
        for s in fn.get_descendants(nodes.Stmt)
    }


def files(statements: set[coverage.Statement]) -> set[str]:
    return {Path(s.path).name for s in statements}


def test_a_stake_covers_its_own_body_and_the_controller_it_reads_nothing_else(
    collector, maps, staking, controller, vvv, owner
):
    vvv.approve(staking, 5 * VVV, sender=owner)
    # Staking reads the controller only once its cached rate has expired, which depends on
    # what ran before; a governance change at the same rate checkpoints and expires it.
    controller.setAnnualRate(controller.annualRate(), sender=owner)
    chain.pending_timestamp = chain.blocks.head.timestamp + 10  # not the checkpoint's second
    # A first stake for someone other than the signer runs every statement of `stake`
    # (the recipient check is skipped for the signer's own stake).
    receipt = staking.stake("0x" + "77" * 20, 5 * VVV, sender=owner)
    collector.pending.append(receipt.txn_hash)
    collector.flush(final=True)

    covered = collector.covered()
    stake = body("contracts/StakedVVV.vy", "stake") & maps.with_code()
    assert stake and stake <= covered
    assert not covered & body("contracts/StakedVVV.vy", "initiateUnstake")
    # _accrue reads the emissions controller in a nested frame: attributed to its file.
    assert "EmissionsController.vy" in files(covered)
    assert not {"Subscriptions.vy", "DIEM.vy", "MintCurve.vy"} & files(covered)
    assert collector.stats["transactions"] == 1 and collector.stats["misaligned"] == 0


def test_a_reverting_call_covers_up_to_the_failed_assert(collector, staking, owner):
    data = "0x" + bytes(staking.stake.encode_input(ZERO, 1)).hex()
    collector.trace_call([{"from": owner.address, "to": staking.address, "data": data}])

    lines = {s.line for s in collector.covered() if s.path == "contracts/StakedVVV.vy"}
    source = (coverage.ROOT / "contracts/StakedVVV.vy").read_text().splitlines()
    zero_amount = next(i for i, t in enumerate(source, 1) if '"sVVV: zero amount"' in t)
    assert zero_amount in lines and zero_amount + 1 in lines  # the recipient check fails
    assert zero_amount + 2 not in lines
    assert collector.stats["calls"] == 1


def test_a_deployment_covers_the_constructor(collector, maps, owner, config):
    curve = project.MintCurve.deploy(
        config.curve_rates, config.launch_mode, config.punitive_multiplier, sender=owner
    )
    collector.pending.append(curve.creation_metadata.txn_hash)
    collector.flush(final=True)

    constructor = body("contracts/MintCurve.vy", "__init__") & maps.with_code()
    assert constructor and constructor <= collector.covered()


def test_a_trace_deeper_than_its_call_tree_is_refused(collector, staking):
    code = bytes(chain.provider.web3.eth.get_code(staking.address))
    collector.codes[staking.address.lower()] = code
    tree = {"type": "CALL", "to": staking.address, "input": "0x", "calls": []}
    logs = {"structLogs": [{"pc": 0, "depth": 1}, {"pc": 0, "depth": 2}]}
    with pytest.raises(coverage.Misaligned):
        collector._record(logs, tree)
    assert not collector.covered()  # nothing of a trace that does not fit is credited


def test_the_report_counts_only_statements_with_code():
    maps = coverage.Maps(artifacts=[], statements={}, sources={})
    a = coverage.Statement("contracts/X.vy", 3, 4, 3, 9)
    b = coverage.Statement("contracts/X.vy", 5, 4, 5, 9)
    maps.statements["contracts/X.vy"] = [a, b]
    maps.sources["contracts/X.vy"] = ["", "", "    x = 1", "", "    y = 2"]
    maps.artifacts.append(coverage.Artifact("X", b"", b"", {0: a, 1: b}, {}))
    [report] = coverage.report(maps, {a})
    assert (report.statements, [s.line for s in report.missed], report.rate) == (2, [5], 50.0)
    assert coverage.total_rate([report]) == 50.0
    assert coverage._ranges([1, 2, 3, 5, 7, 8]) == "1-3, 5, 7-8"
