"""The project's folders, found from this checkout (the package is installed editable)."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CONFIG_DIR",
    "CONTRACTS",
    "DEFAULT_CONFIG",
    "DEPLOYMENTS",
    "NODE_MODULES",
    "PROJECT_ROOT",
    "SCENARIOS",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"
CONTRACTS = PROJECT_ROOT / "contracts"
DEPLOYMENTS = PROJECT_ROOT / "deployments"
SCENARIOS = PROJECT_ROOT / "scenarios"
NODE_MODULES = PROJECT_ROOT / "node_modules"
