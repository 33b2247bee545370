#!/usr/bin/env bash
# Make sure Debian's chromium is installed: tests/sim/test_report.py opens the simulator's
# report in it, headless, to check every chart renders without a console error. Exits 0 at once
# when /usr/bin/chromium (or chromium on PATH) is there; otherwise installs Debian's package with
# apt-get (via sudo when not root). Elsewhere, install Chromium by hand (the test skips, saying
# so, when it is missing). Called by `make setup`.
set -euo pipefail

if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: chromium is missing and apt-get is not available;" \
        "install Chromium by hand (the report test skips without it)" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "ensure_chromium: chromium is missing; run as root, install sudo, or" \
            "run 'apt-get install chromium' as root" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

echo "ensure_chromium: installing chromium with apt-get" >&2
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends chromium
command -v chromium >/dev/null || {
    echo "ensure_chromium: installed, but chromium is not on PATH" >&2
    exit 1
}
