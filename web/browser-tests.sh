# Sourced by web/dashboard/run-tests.sh and web/widget/run-tests.sh: the steps both share.
#   web_install_and_build           npm ci, then the package's build (type-check included)
#   web_chromium                    Debian chromium, installed when missing
#   web_omnidesk_bin                sets BIN: $OMNIDESK_BIN, or a fresh `cargo build -p omnidesk`
#   web_run_e2e SCRIPT              runs a browser-test runner; SIGTERM on exit stops its servers
# The caller sets `set -euo pipefail` and cds into its package.
WEB_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB_E2E_PID=""
web_cleanup() {
  if [ -n "$WEB_E2E_PID" ] && kill -0 "$WEB_E2E_PID" 2>/dev/null; then
    kill "$WEB_E2E_PID" 2>/dev/null || true # the runner stops its servers on SIGTERM
    wait "$WEB_E2E_PID" 2>/dev/null || true
  fi
}
trap web_cleanup EXIT INT TERM

web_install_and_build() {
  echo "== npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "== build (type-check + bundle)"
  npm run build --silent
}

web_chromium() {
  echo "== chromium"
  if [ ! -x /usr/bin/chromium ]; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  fi
}

web_omnidesk_bin() {
  echo "== omnidesk binary"
  BIN="${OMNIDESK_BIN:-$WEB_REPO/target/debug/omnidesk}"
  if [ -z "${OMNIDESK_BIN:-}" ]; then
    (cd "$WEB_REPO" && cargo build -p omnidesk --quiet)
  fi
  [ -x "$BIN" ] || { echo "no omnidesk binary at $BIN" >&2; exit 1; }
}

web_run_e2e() {
  OMNIDESK_BIN="$BIN" node "$1" &
  WEB_E2E_PID=$!
  local status=0
  wait "$WEB_E2E_PID" || status=$?
  WEB_E2E_PID=""
  return "$status"
}
