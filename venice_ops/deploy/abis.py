"""The contracts' ABIs as `venice_sdk` ships them (`venice_sdk/abi/<Name>.json`).

`ape run export_abis` writes them from the compiled contracts; a test proves the shipped files
equal what the contracts compile to, so the SDK never reads a stale ABI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ape import project

from venice_ops.paths import PROJECT_ROOT

ABI_DIR = PROJECT_ROOT / "venice_sdk" / "abi"
SHIPPED = (
    "VVV",
    "StakedVVV",
    "DIEM",
    "Subscriptions",
    "BuybackBurner",
    "AirdropDistributor",
    "EntitlementsLens",
)


def compiled_abi(name: str) -> list[dict[str, Any]]:
    container = getattr(project, name)
    return [abi.model_dump(mode="json", by_alias=True) for abi in container.contract_type.abi]


def render(abi: list[dict[str, Any]]) -> str:
    return json.dumps(abi, indent=1, sort_keys=True) + "\n"


def export(directory: Path = ABI_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SHIPPED:
        path = directory / f"{name}.json"
        path.write_text(render(compiled_abi(name)))
        written.append(path)
    return written
