#!/usr/bin/env bash
# Install a Debian/Ubuntu package with apt-get (via sudo when not root), for the ensure_*.sh
# scripts once they found the tool missing:
#   scripts/apt_install.sh WHO PACKAGE COMMAND HINT
# WHO prefixes the messages, COMMAND must be on PATH afterwards, HINT says what to do by hand
# when apt-get is not available. Exits 1 with one line on stderr when it cannot install.
set -euo pipefail

who=$1 package=$2 tool=$3 hint=$4

if ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: $tool is missing and apt-get is not available; $hint" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "$who: $tool is missing; run as root, install sudo, or" \
            "run 'apt-get install $package' as root" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

echo "$who: installing $package with apt-get" >&2
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$package"
command -v "$tool" >/dev/null || {
    echo "$who: installed, but $tool is not on PATH" >&2
    exit 1
}
