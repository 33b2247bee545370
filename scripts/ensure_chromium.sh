#!/usr/bin/env bash
# Make sure Debian's chromium is installed: tests/sim/test_report.py opens the simulator's
# report in it, headless, to check every chart renders without a console error. Exits 0 at once
# when /usr/bin/chromium (or chromium on PATH) is there; otherwise installs Debian's package with
# apt-get (via sudo when not root). Elsewhere, install Chromium by hand (the test skips, saying
# so, when it is missing). Called by `make setup`.
# The install itself: scripts/apt_install.sh.
set -euo pipefail

if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
    exit 0
fi

exec "$(dirname "$0")/apt_install.sh" ensure_chromium chromium chromium \
    "install Chromium by hand (the report test skips without it)"
