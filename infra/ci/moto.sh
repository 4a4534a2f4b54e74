# Sourced helper: `moto_start` starts moto_server on a free 127.0.0.1 port, waits until it
# answers, exports OMNIDESK_TEST_AWS_ENDPOINT and dummy AWS settings, and stops it (by PID) on
# exit.
VENV="${OMNIDESK_CI_VENV:-/opt/omnidesk-ci-venv}"

moto_start() {
  if [ ! -x "$VENV/bin/moto_server" ]; then
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "moto[server]==5.2.5"
  fi
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  MOTO_LOG="$(mktemp -t omnidesk-moto.XXXXXX.log)"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$MOTO_LOG" 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; rm -f "$MOTO_LOG"' EXIT
  local endpoint="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$endpoint/moto-api/" && break
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.2
  done
  if ! curl -sf -o /dev/null "$endpoint/moto-api/"; then
    echo "moto did not start:" >&2
    cat "$MOTO_LOG" >&2
    exit 1
  fi
  export OMNIDESK_TEST_AWS_ENDPOINT="$endpoint"
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
}
