#!/usr/bin/env bash
# Widget tests from a fresh machine: install, type-check + build, unit tests (Vitest), the size
# budgets, a browser check against an in-memory stand-in of /web/v1 (e2e/mock.mjs), then the
# browser tests in headless Debian Chromium against the real `omnidesk serve` and a fake
# Telegram Bot API (e2e/run.mjs). Every server listens on 127.0.0.1 and is stopped on exit.
# OMNIDESK_BIN=<path> uses a built binary instead of `cargo build -p omnidesk`.
set -euo pipefail
cd "$(dirname "$0")"
. ../browser-tests.sh
started=$(date +%s)

web_install_and_build
echo "== unit tests (vitest)"
npx vitest run
echo "== size budgets"
npm run size --silent
web_chromium
rm -rf test-results
echo "== browser check against the /web/v1 stand-in (e2e/mock.mjs)"
node e2e/mock.mjs
web_omnidesk_bin
echo "== browser tests (headless chromium, playwright-core, real server)"
status=0
web_run_e2e e2e/run.mjs || status=$?
echo "run-tests.sh: $(( $(date +%s) - started )) s"
exit "$status"
