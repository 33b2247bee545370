#!/usr/bin/env bash
# Make sure redis-server is installed: the SDK's ledger tests start their own. Exits 0 at once
# when it is on PATH; otherwise installs Debian/Ubuntu's package with apt-get (via sudo when
# not root). Called by `make` on a fresh CI machine.
# The install itself: scripts/apt_install.sh.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi

exec "$(dirname "$0")/apt_install.sh" ensure_redis redis-server redis-server "install Redis >= 6.2 by hand"
