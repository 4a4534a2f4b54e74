#!/usr/bin/env bash
# Widget tests from a fresh machine: install, type-check + build, unit tests (Vitest), the size
# budgets, a browser check against an in-memory stand-in of /web/v1 (e2e/mock.mjs), then the
# browser tests in headless Debian Chromium against the real `omnidesk serve` and a fake
# Telegram Bot API (e2e/run.mjs). Every server listens on 127.0.0.1 and is stopped on exit.
# OMNIDESK_BIN=<path> uses a built binary instead of `cargo build -p omnidesk`.
set -euo pipefail
cd "$(dirname "$0")"
WIDGET="$(pwd)"
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

echo "== size budgets"
npm run size --silent

echo "== chromium"
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

rm -rf "$WIDGET/test-results"
echo "== browser check against the /web/v1 stand-in (e2e/mock.mjs)"
node e2e/mock.mjs

echo "== omnidesk binary"
BIN="${OMNIDESK_BIN:-$REPO/target/debug/omnidesk}"
if [ -z "${OMNIDESK_BIN:-}" ]; then
  (cd "$REPO" && cargo build -p omnidesk --quiet)
fi
[ -x "$BIN" ] || { echo "no omnidesk binary at $BIN" >&2; exit 1; }

echo "== browser tests (headless chromium, playwright-core, real server)"
OMNIDESK_BIN="$BIN" node e2e/run.mjs &
E2E_PID=$!
status=0
wait "$E2E_PID" || status=$?
E2E_PID=""
echo "run-tests.sh: $(( $(date +%s) - started )) s"
exit "$status"
