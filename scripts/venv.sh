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
    refresh_compiled_core
}

# The editable install compiles the protocol core into the source tree (setup.py). Python loads
# those extension modules instead of the .py files, so after an edit of their sources they would
# run stale code: rebuild them then (with Cython from the test extra), or delete them, so that the
# sources run, when they cannot be rebuilt.
refresh_compiled_core() {
    local sources=(setup.py chinwag/protocol/codec.py chinwag/protocol/codec.pxd
                   chinwag/protocol/message.py chinwag/store/_journal_record.pyx
                   chinwag/cluster/_rows.pyx)
    local modules=(chinwag/protocol/codec chinwag/protocol/message chinwag/store/_journal_record
                   chinwag/cluster/_rows)
    local module built src stale="" some="" missing=""
    for module in "${modules[@]}"; do
        built=$(ls "$module".*.so 2>/dev/null | head -n 1)
        if [ -z "$built" ]; then
            missing=1
            continue
        fi
        some=1
        for src in "${sources[@]}"; do
            if [ "$src" -nt "$built" ]; then
                stale=1
            fi
        done
    done
    # A build that lacks a module added since (some built, not all) is stale too.
    if [ -n "$some" ] && [ -n "$missing" ]; then
        stale=1
    fi
    [ -n "$stale" ] || return 0
    echo "venv: the compiled core is older than its sources: rebuilding it" >&2
    for module in "${modules[@]}"; do
        rm -f "$module".*.so "$module".c
    done
    .venv/bin/python -W ignore setup.py -q build_ext --inplace >&2 || true
}
