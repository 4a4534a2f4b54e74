#!/usr/bin/env bash
# Dashboard tests from a fresh machine: install, type-check + build, unit tests (Vitest), then
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
web_omnidesk_bin
web_chromium
echo "== browser tests (headless chromium, playwright-core)"
rm -rf test-results
# This repository's server has the AI: its scenarios must run, never be skipped.
export OMNIDESK_E2E_AI=1
status=0
web_run_e2e e2e/run.mjs || status=$?
echo "run-tests.sh: $(( $(date +%s) - started )) s"
exit "$status"
