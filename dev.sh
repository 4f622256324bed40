#!/usr/bin/env bash
# Veille's two entry points on a fresh clone:
#   ./dev.sh demo   set up, then run `veille demo` (local broker, SQLite, sample traffic, worker and API)
#   ./dev.sh test   set up, then run every check and the full test suite
# Set-up is idempotent: it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VEILLE_VENV:-.venv}
PYTHON=${PYTHON:-python3}

log() { printf '\033[1m[dev.sh]\033[0m %s\n' "$*" >&2; }

setup_python() {
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating virtualenv $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    local stamp="$VENV/.veille-installed" want
    want=$(sha256sum pyproject.toml | cut -c1-16)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "installing Veille and its dependencies (first run takes a few minutes)"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -e ".[models,dev]"
        echo "$want" > "$stamp"
    fi
}

ensure_postgres() {
    local url=${VEILLE_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
    if "$VENV/bin/python" - "$url" <<'PY' 2>/dev/null; then return 0; fi
import sys, sqlalchemy as sa
with sa.create_engine(sys.argv[1]).connect() as c: c.execute(sa.text("select 1"))
PY
    if command -v pg_ctlcluster >/dev/null 2>&1; then
        log "starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
        for _ in $(seq 1 30); do
            pg_isready -q -h 127.0.0.1 -p 5432 && return 0
            sleep 1
        done
    fi
    log "PostgreSQL is not reachable at $url: the PostgreSQL tests will fail. Set VEILLE_TEST_POSTGRES_URL."
}

ensure_debian_tools() {
    # The console's browser test, and the real Prometheus/Alertmanager of the ops tests.
    local missing=()
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || missing+=(prometheus)
    [ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing Debian packages: ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        log "missing Debian packages for the tests: ${missing[*]} (apt-get install them)"
    fi
}

cmd=${1:-}
shift || true
case "$cmd" in
    demo)
        setup_python
        exec "$VENV/bin/veille" demo "$@"
        ;;
    test)
        setup_python
        ensure_postgres
        ensure_debian_tools
        log "ruff"
        "$VENV/bin/ruff" check .
        log "mypy"
        "$VENV/bin/mypy"
        log "import layers (import-linter)"
        "$VENV/bin/lint-imports"
        log "policy packs: check and test"
        "$VENV/bin/veille" policies check
        "$VENV/bin/veille" policies test
        log "risk classifier: the shipped model is the build of its corpus"
        "$VENV/bin/veille" models train --check
        log "pytest"
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *)
        echo "usage: ./dev.sh demo [veille demo options] | ./dev.sh test [pytest options]" >&2
        exit 2
        ;;
esac
