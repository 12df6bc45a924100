# Sourced by scripts/serve, scripts/connect and scripts/test: make .venv (once) and install chinwag into it.
# Usage: ensure_venv EXTRAS   (for example ensure_venv "speed" or ensure_venv "test,speed")
ensure_venv() {
    local extras="$1"
    if [ ! -x .venv/bin/python ]; then
        if ! python3 -m venv .venv 2>/dev/null; then
            # Debian's python3 ships venv separately.
            rm -rf .venv
            echo "venv: installing python3-venv" >&2
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
            python3 -m venv .venv
        fi
    fi
    # Reinstall only when pyproject.toml changed since the last install.
    local stamp=".venv/.chinwag-installed-${extras//,/-}"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[${extras}]"
        touch "$stamp"
    fi
}
