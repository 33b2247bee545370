"""Every external function our contracts define carries NatSpec in the compiled output: a
`@notice` for users, a `@param` for each parameter and a `@return` when it returns a value.
Vyper leaves constructors out of the compiled NatSpec, so their docstrings are read from the
source. Functions exported from snekmate and `public()` getters are snekmate's and the
compiler's; they are not counted here."""

from __future__ import annotations

import re

import pytest
from ape import project

from venice_ops.paths import PROJECT_ROOT

CONTRACTS = [
    "AirdropDistributor",
    "BuybackBurner",
    "DIEM",
    "EmissionsController",
    "EntitlementsLens",
    "MintCurve",
    "StakedVVV",
    "Subscriptions",
    "VVV",
    "Timelock",
]
SOURCES = {"Timelock": "governance/Timelock.vy"}
_DEFINED = re.compile(r"^@(?:external|deploy)\n(?:@\w+\n)*def (\w+)\(", re.MULTILINE)


_INIT_DOC = re.compile(r"^def __init__\(.*?\):\n\s*\"\"\"(.*?)\"\"\"", re.MULTILINE | re.DOTALL)


def _source(name: str) -> str:
    return (PROJECT_ROOT / "contracts" / SOURCES.get(name, f"{name}.vy")).read_text()


def _defined_here(name: str) -> set[str]:
    return set(_DEFINED.findall(_source(name)))


def _constructor_doc(name: str) -> str:
    found = _INIT_DOC.search(_source(name))
    return found.group(1) if found else ""


@pytest.mark.parametrize("name", CONTRACTS)
def test_natspec__every_external_function_documented(name):
    contract_type = getattr(project, name).contract_type
    ours = _defined_here(name)
    assert ours, name
    userdoc = (contract_type.userdoc or {}).get("methods", {})
    devdoc = (contract_type.devdoc or {}).get("methods", {})
    missing = []
    entries = [*contract_type.abi]
    for abi in entries:
        if abi.type == "constructor":
            doc = _constructor_doc(name)
            missing += [] if "@notice" in doc else ["constructor: @notice"]
            missing += [
                f"constructor: @param {p.name}"
                for p in abi.inputs
                if not re.search(rf"@param {p.name}\b", doc)
            ]
            continue
        if abi.type == "function":
            selector, fn_name, outputs = abi.selector, abi.name, abi.outputs
        else:
            continue
        if fn_name not in ours:
            continue
        notice = userdoc.get(selector, {})
        notice = notice.get("notice") if isinstance(notice, dict) else notice
        dev = devdoc.get(selector, {})
        if not notice:
            missing.append(f"{selector}: @notice")
        for param in abi.inputs:
            if param.name not in dev.get("params", {}):
                missing.append(f"{selector}: @param {param.name}")
        if outputs and not dev.get("returns"):
            missing.append(f"{selector}: @return")
    assert not missing, "\n".join(missing)
