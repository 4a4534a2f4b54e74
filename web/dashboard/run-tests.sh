#!/usr/bin/env bash
# Dashboard tests from a fresh machine: install, type-check + build, unit tests (Vitest), then
# browser tests in headless Debian Chromium against the real `omnidesk serve` and a fake
# Telegram Bot API (e2e/run.mjs). Every server listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")"
DASH="$(pwd)"
REPO="$(cd ../.. && pwd)"
started=$(date +%s)

E2E_PID=""
cleanup() {
  if [ -n "$E2E_PID" ] && kill -0 "$E2E_PID" 2>/dev/null; then
    kill "$E2E_PID" 2>/dev/null || true # the runner stops its servers on SIGTERM
    wait "$E2E_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

echo "== npm ci"
npm ci --no-audit --no-fund --loglevel=error

echo "== build (tsc --noEmit + vite build)"
npm run build --silent

echo "== unit tests (vitest)"
npx vitest run

echo "== omnidesk binary"
BIN="${OMNIDESK_BIN:-$REPO/target/debug/omnidesk}"
if [ -z "${OMNIDESK_BIN:-}" ]; then
  (cd "$REPO" && cargo build -p omnidesk --quiet)
fi
[ -x "$BIN" ] || { echo "no omnidesk binary at $BIN" >&2; exit 1; }

echo "== chromium"
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

echo "== browser tests (headless chromium, playwright-core)"
rm -rf "$DASH/test-results"
OMNIDESK_BIN="$BIN" node e2e/run.mjs &
E2E_PID=$!
status=0
wait "$E2E_PID" || status=$?
E2E_PID=""
echo "run-tests.sh: $(( $(date +%s) - started )) s"
exit "$status"
