#!/usr/bin/env bash
# Runs the omnidesk-aws conformance tests against a moto server on 127.0.0.1.
# Creates the venv /opt/omnidesk-ci-venv with moto[server]==5.2.5 if needed (override with
# OMNIDESK_CI_VENV), starts moto on a free loopback port, stops it on exit, and runs
# `cargo test -p omnidesk-aws` (extra arguments are passed to cargo test).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV="${OMNIDESK_CI_VENV:-/opt/omnidesk-ci-venv}"
if [ ! -x "$VENV/bin/moto_server" ]; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "moto[server]==5.2.5"
fi

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
LOG="$(mktemp -t omnidesk-moto.XXXXXX.log)"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
MOTO_PID=$!
trap 'kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; rm -f "$LOG"' EXIT

ENDPOINT="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  curl -sf -o /dev/null "$ENDPOINT/moto-api/" && break
  kill -0 "$MOTO_PID" 2>/dev/null || break
  sleep 0.2
done
if ! curl -sf -o /dev/null "$ENDPOINT/moto-api/"; then
  echo "moto did not start:" >&2
  cat "$LOG" >&2
  exit 1
fi

export OMNIDESK_TEST_AWS_ENDPOINT="$ENDPOINT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
cargo test -p omnidesk-aws "$@"
