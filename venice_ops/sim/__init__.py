"""The tokenomics simulator: `from venice_ops.sim import Scenario, simulate` (see `api`)."""

from venice_ops.sim.api import simulate
from venice_ops.sim.scenario import Scenario, ScenarioError

__all__ = ["Scenario", "ScenarioError", "simulate"]
