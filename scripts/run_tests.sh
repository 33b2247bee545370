#!/usr/bin/env bash
# `make unit`: the test suite as two ape sessions at once, each with its own Anvil on a free
# port (the machine has two cores; one session left one of them mostly idle):
#   chain     the contracts' own tests, with their statement coverage from Anvil's traces
#             (tests/support/coverage.py), failing under 95%;
#   offchain  the SDK and its gateway, the commands, the simulator and the integrations.
# Tests marked `timing` (a rate against a rate, a latency budget: another session's load would
# move them) run after both, alone. All three measure venice_sdk's lines (the state machines
# run its model of the protocol), combined at the end, failing under 90%. Each line of output
# is prefixed with its session's name; the exit code fails if a session or a gate does.
set -euo pipefail
cd "$(dirname "$0")/.."

chain=(tests/unit tests/attacks tests/stateful tests/conformance)
offchain=(tests/sdk tests/cli tests/sim tests/integration)

# Every folder of tests runs in one of the two sessions (a new one is not skipped silently).
for dir in tests/*/; do
    dir=${dir%/}
    [[ $dir == tests/support ]] && continue
    case " ${chain[*]} ${offchain[*]} " in
        *" $dir "*) ;;
        *) echo "error: $dir is in neither session of scripts/run_tests.sh" >&2; exit 2 ;;
    esac
done

# Compiled once, before the two sessions read the artifacts (two compiling at once would
# write the same build files).
ape compile >/dev/null

# venice_sdk's line coverage: one data file per session, then both combined.
rm -f .build/.coverage .build/.coverage.*

session() {
    local name=$1
    shift
    COVERAGE_FILE=".build/.coverage.$name" ape test "$@" --cov=venice_sdk --cov-report= \
        --durations=15 2>&1 | sed -u "s/^/[$name] /"
}

session chain "${chain[@]}" -m "not timing" --contract-coverage 95 &
chain_pid=$!
session offchain "${offchain[@]}" -m "not timing" &
offchain_pid=$!

status=0
wait "$chain_pid" || status=1
wait "$offchain_pid" || status=1
session timing "${chain[@]}" "${offchain[@]}" -m timing || status=1
if [[ $status == 0 ]]; then
    echo "venice_sdk line coverage, all three sessions (fails under 90%):"
    coverage combine --quiet .build/.coverage.chain .build/.coverage.offchain .build/.coverage.timing
    coverage report --fail-under=90 || status=1
fi
exit "$status"
