"""Hypothesis settings, registered once (tests/conftest.py loads this module as a plugin, so the
profile is active before any test module is imported).

Profiles:
- "ci", the default: no per-example deadline (each example sends transactions to Anvil), and
  function-scoped fixtures allowed (an example that changes the chain rewinds it,
  `tests.support.chain.rewound`); each test sets its own number of examples;
- "deep", selected by VENICE_DEEP=1 (`make deep`): the same, and the state machines run
  300 examples x 200 steps instead of their own CI budget.

A test's own `@settings(...)` holds only what is specific to it (its number of examples,
derandomize, further health checks); it inherits the rest from the active profile.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

CI = "ci"
DEEP = "deep"

settings.register_profile(
    CI,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    DEEP, parent=settings.get_profile(CI), max_examples=300, stateful_step_count=200
)
settings.load_profile(DEEP if os.environ.get("VENICE_DEEP") else CI)

# The attack and conformance tests' budget: a modest number of examples (they fit the test
# command's time budget).
MODEST = settings(max_examples=20)


def machine_settings(examples: int, steps: int, **specific: Any) -> settings:
    """A state machine's settings: its own CI budget (`examples` x `steps`) under "ci", the
    active profile's under any other; VENICE_EXAMPLES / VENICE_STEPS override either.
    `specific` holds the machine's other settings (for instance its health checks)."""
    if settings.get_current_profile_name() != CI:
        examples, steps = settings.default.max_examples, settings.default.stateful_step_count
    return settings(
        max_examples=int(os.environ.get("VENICE_EXAMPLES", examples)),
        stateful_step_count=int(os.environ.get("VENICE_STEPS", steps)),
        **specific,
    )


def run_machine(machine: Any, ctx: Any, examples: int, steps: int) -> None:
    """Run a state machine on ``ctx`` (its context fixture) under `machine_settings`, with
    every health check off (the chain makes each step slow)."""
    machine.ctx = ctx
    run_state_machine_as_test(
        machine,
        settings=machine_settings(examples, steps, suppress_health_check=list(HealthCheck)),
    )
