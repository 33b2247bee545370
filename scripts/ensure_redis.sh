#!/usr/bin/env bash
# Make sure redis-server is installed: the SDK's ledger tests start their own. Exits 0 at once
# when it is on PATH; otherwise installs Debian/Ubuntu's package with apt-get (via sudo when
# not root). Called by `make` on a fresh CI machine.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_redis: redis-server is missing and apt-get is not available;" \
        "install Redis >= 6.2 by hand" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "ensure_redis: redis-server is missing; run as root or install sudo" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

echo "ensure_redis: installing redis-server with apt-get" >&2
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends redis-server
command -v redis-server >/dev/null || {
    echo "ensure_redis: installed, but redis-server is not on PATH" >&2
    exit 1
}
