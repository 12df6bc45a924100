#!/usr/bin/env bash
# Install the Debian packages the test suite needs, only when missing.
#
# Idempotent: a machine that already has everything runs no apt-get at all.
# `apt-get update` runs at most once, and only when something must be installed.
# Called by the test command; safe to run by hand (as root, or through sudo).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# "package:command" pairs. A package counts as present when its command is on
# PATH or dpkg reports it installed (an empty command means: ask dpkg only).
# weechat-plugins brings the FIFO plugin that drives weechat-headless; it is
# only a Recommends of weechat-headless, so it must be named. chromium runs the web client's
# tests (through Playwright); a font is named so that its screenshots have legible text.
NEEDED=(
    "weechat-headless:weechat-headless"
    "weechat-plugins:"
    "irssi:irssi"
    "tmux:tmux"
    "ii:ii"
    "chromium:chromium"
    "fonts-dejavu-core:"
    # The compiled protocol core (setup.py): a C compiler and Python's headers.
    "gcc:gcc"
    "python3-dev:"
    # The cluster's tests (tests/cluster) start their own Redis and PostgreSQL: the servers'
    # binaries are all they need (Debian keeps PostgreSQL's under /usr/lib/postgresql/*/bin).
    "redis-server:redis-server"
    "postgresql:"
)

is_installed() {
    local pkg="$1" cmd="$2"
    if [ -n "$cmd" ] && command -v "$cmd" >/dev/null 2>&1; then
        return 0
    fi
    dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'
}

missing=()
for pair in "${NEEDED[@]}"; do
    pkg="${pair%%:*}"
    cmd="${pair#*:}"
    if ! is_installed "$pkg" "$cmd"; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-system-deps: all present (${NEEDED[*]%%:*})"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo -n)
fi

echo "install-system-deps: installing ${missing[*]}"
# Another apt run (a parallel test worker, another script) may hold the dpkg
# lock: wait for it, bounded, instead of failing at once.
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
"${SUDO[@]}" apt-get "${APT_OPTS[@]}" update -qq
"${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}"

for pair in "${NEEDED[@]}"; do
    pkg="${pair%%:*}"
    cmd="${pair#*:}"
    if ! is_installed "$pkg" "$cmd"; then
        echo "install-system-deps: $pkg still missing after install" >&2
        exit 1
    fi
done
echo "install-system-deps: done"
