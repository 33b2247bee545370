"""Hypothesis settings shared by the attack and conformance tests: a modest number of examples
(they fit the test command's time budget), no per-example deadline (each example sends
transactions to Anvil), and function-scoped fixtures allowed (an example that changes the chain
rewinds it, `tests.support.chain.rewound`)."""

from hypothesis import HealthCheck, settings

MODEST = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
