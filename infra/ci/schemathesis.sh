#!/usr/bin/env bash
# Checks that an HTTP API of `omnidesk serve` keeps the contract of its OpenAPI document:
# schemathesis (pinned, installed into the CI venv if missing) runs every check and every phase
# (examples, coverage, fuzzing, stateful) and any finding fails the script.
#
#   infra/ci/schemathesis.sh [DOC AUTH]...
#       default: /api/openapi.json agent /web/openapi.json visitor
#
# Each DOC (a path on the server, e.g. /api/openapi.json) is tested with the Bearer token that
# its AUTH gives:
#   agent       log in as the seeded agent (POST /api/v1/auth/login)
#   visitor     a widget session of the seeded website (POST /web/v1/sessions), with that
#               website's Origin on every request
#   none        no Authorization header
#   sh:COMMAND  the stdout of COMMAND, run by bash with $BASE set to the server's base URL
#               (e.g. a widget API's visitor token: 'sh:curl -sf -X POST "$BASE/…" | …')
#
# One server (a temp data dir, a free 127.0.0.1 port, a Telegram URL nothing listens on) is
# started from $OMNIDESK_BIN (default target/debug/omnidesk, built when unset) and seeded with
# two agents, a webhook bot and conversations made the way Telegram makes them (updates posted
# to the webhook), some of them assigned and resolved, so the stateful phase walks real ids.
# It is stopped by PID on exit.
#
# Environment: SCHEMATHESIS_MAX_EXAMPLES (default 300, cases per operation and phase) bounds the
# run: about 45 s for the agent API on two cores. SCHEMATHESIS_SEED (default fixed) makes runs
# repeatable; set it to `random` to explore.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"

SCHEMATHESIS_VERSION=4.32.5
VENV="${OMNIDESK_CI_VENV:-/opt/omnidesk-ci-venv}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-300}"
SEED="${SCHEMATHESIS_SEED:-20261201}"
started=$(date +%s)

[ $# -eq 0 ] && set -- /api/openapi.json agent /web/openapi.json visitor
if [ $(($# % 2)) -ne 0 ]; then
  echo "usage: $0 [DOC AUTH]...  (AUTH: agent | none | sh:COMMAND)" >&2
  exit 2
fi

if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

BIN="${OMNIDESK_BIN:-$REPO/target/debug/omnidesk}"
if [ -z "${OMNIDESK_BIN:-}" ]; then
  cargo build -p omnidesk --quiet
fi
[ -x "$BIN" ] || { echo "no omnidesk binary at $BIN" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

WORK="$(mktemp -d -t omnidesk-schemathesis.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
export OMNIDESK_LISTEN="127.0.0.1:$PORT"
export OMNIDESK_DATA_DIR="$WORK/data"
# Replies go to the sender, which must not reach Telegram: nothing listens on this port.
export TELEGRAM_API_URL="http://127.0.0.1:$(free_port)"
export OMNIDESK_DASHBOARD_DIR="$WORK/no-dashboard"
export OMNIDESK_REASSIGN_AFTER_SECS=0
export RUST_LOG="${RUST_LOG:-warn}"

BOT_TOKEN="777000111:AAschemathesisTokenForNoTelegram_abcd"
BOT_ID="${BOT_TOKEN%%:*}"
WEBHOOK_SECRET="schemathesis-secret"
AGENT_EMAIL="ann@example.com"
AGENT_PASSWORD="schemathesis-password"

echo "== seeding $OMNIDESK_DATA_DIR"
"$BIN" agent add --email "$AGENT_EMAIL" --name Ann --password "$AGENT_PASSWORD" >/dev/null
"$BIN" agent add --email bob@example.com --name Bob --password "$AGENT_PASSWORD" >/dev/null
"$BIN" bot add --token "$BOT_TOKEN" --webhook-secret "$WEBHOOK_SECRET" --no-verify >/dev/null
WEB_ORIGIN="https://shop.example.com"
WEBSITE_ID="$("$BIN" website add --name Shop --origin "$WEB_ORIGIN" | tail -1)"

echo "== omnidesk serve on $BASE"
# The access token lives for the whole run (15 minutes by default; a run may be longer).
OMNIDESK_TOKEN_TTL_SECS=7200 "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -sf -o /dev/null "$BASE/healthz" && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
curl -sf -o /dev/null "$BASE/healthz" || { echo "omnidesk did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }

json_field() { # json_field FIELD: FIELD of the JSON object on stdin
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
api() { # api METHOD PATH [BODY]: the body of a successful agent API call
  curl -sf -X "$1" "$BASE$2" -H "Authorization: Bearer $AGENT_TOKEN" \
    -H 'Content-Type: application/json' ${3:+--data "$3"}
}

AGENT_TOKEN="$(curl -sf "$BASE/api/v1/auth/login" -H 'Content-Type: application/json' \
  --data "{\"email\":\"$AGENT_EMAIL\",\"password\":\"$AGENT_PASSWORD\"}" | json_field token)"

CHATS=4
for chat in $(seq 1 $CHATS); do
  curl -sf -o /dev/null "$BASE/telegram/$BOT_ID/webhook" \
    -H "X-Telegram-Bot-Api-Secret-Token: $WEBHOOK_SECRET" -H 'Content-Type: application/json' \
    --data "{\"update_id\":$chat,\"message\":{\"message_id\":$chat,\"date\":1763780000,
      \"chat\":{\"id\":$((5000 + chat)),\"type\":\"private\",\"first_name\":\"Customer $chat\"},
      \"from\":{\"id\":$((5000 + chat)),\"is_bot\":false,\"first_name\":\"Customer $chat\",\"language_code\":\"en\"},
      \"text\":\"Where is my order $chat?\"}}"
done
ids=""
for _ in $(seq 1 100); do
  ids="$(api GET '/api/v1/conversations?limit=100' | python3 -c '
import json, sys
print(" ".join(c["id"] for c in json.load(sys.stdin)["items"]))')"
  [ "$(wc -w <<<"$ids")" -ge $CHATS ] && break
  sleep 0.1
done
[ "$(wc -w <<<"$ids")" -ge $CHATS ] || { echo "the router made no conversations:" >&2; cat "$WORK/server.log" >&2; exit 1; }
read -r -a conv <<<"$ids"
# One stays queued, one is assigned, one is answered (assigned, with a reply), one is resolved.
api POST "/api/v1/conversations/${conv[1]}/assign" >/dev/null
api POST "/api/v1/conversations/${conv[2]}/messages" '{"text":"Let me check."}' >/dev/null
api POST "/api/v1/conversations/${conv[3]}/resolve" >/dev/null

token_for() { # token_for AUTH: the Bearer token of AUTH (empty for none)
  case "$1" in
    agent) printf '%s' "$AGENT_TOKEN" ;;
    visitor)
      curl -sf "$BASE/web/v1/sessions" -H "Origin: $WEB_ORIGIN" -H 'Content-Type: application/json' \
        --data "{\"website_id\":\"$WEBSITE_ID\"}" | json_field visitor_token
      ;;
    none) ;;
    sh:*) BASE="$BASE" bash -c "${1#sh:}" ;;
    *) echo "unknown AUTH $1 (agent | visitor | none | sh:COMMAND)" >&2; return 2 ;;
  esac
}

# Sign-out ends every session of the agent: the run's token would be refused from then on
# (its own API test covers it).
status=0
while [ $# -gt 0 ]; do
  doc="$1" auth="$2"
  shift 2
  token="$(token_for "$auth")"
  header=()
  [ -n "$token" ] && header=(-H "Authorization: Bearer $token")
  [ "$auth" = visitor ] && header+=(-H "Origin: $WEB_ORIGIN")
  seed=()
  [ "$SEED" != random ] && seed=(--seed "$SEED")
  echo "== schemathesis $SCHEMATHESIS_VERSION: $doc (auth: ${auth%%:*}, --max-examples $MAX_EXAMPLES)"
  doc_started=$(date +%s)
  rc=0
  (cd "$WORK" && "$VENV/bin/schemathesis" run "$BASE$doc" "${header[@]}" \
    --checks all --max-examples "$MAX_EXAMPLES" "${seed[@]}" \
    --generation-database none --request-timeout 10 --no-color \
    --exclude-path /api/v1/auth/logout) || rc=$?
  [ "$rc" -eq 0 ] || status=$rc
  echo "== $doc: $(( $(date +%s) - doc_started )) s, exit $rc"
done

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "omnidesk died during the run:" >&2
  cat "$WORK/server.log" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "== server log: errors (first 40), then the last 20 lines" >&2
  grep -m 40 ERROR "$WORK/server.log" >&2 || true
  tail -20 "$WORK/server.log" >&2
fi
echo "schemathesis.sh: $(( $(date +%s) - started )) s"
exit "$status"
