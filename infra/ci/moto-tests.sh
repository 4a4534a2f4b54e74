#!/usr/bin/env bash
# Runs every test that needs AWS on the wire — the omnidesk-aws conformance suites, the
# omnidesk-lambda moto tests and the Lambda-handler end-to-end tests (omnidesk-aws-e2e) —
# against one moto server on 127.0.0.1, stopped by PID on exit. Installs moto[server] into the
# venv /opt/omnidesk-ci-venv (OMNIDESK_CI_VENV) if needed. Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/ci/moto.sh
moto_start
cargo test -p omnidesk-aws -p omnidesk-lambda -p omnidesk-aws-e2e "$@"
