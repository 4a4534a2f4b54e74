#!/usr/bin/env bash
# Lints template.yaml and builds the ten Lambda binaries for provided.al2023 (arm64; x86_64
# with a warning when the aarch64 std cannot be installed). Prints each bootstrap's size.
#
#   infra/ci/aws-build.sh            # lint + build
#   OMNIDESK_CI_VENV=/path infra/ci/aws-build.sh
#   AWS_BUILD_SKIP_BUILD=1 infra/ci/aws-build.sh   # lint only
#
# Python tools (pinned) live in one stable venv: changing the venv path changes zig's path and
# invalidates cargo's cache (TOOLCHAIN.md, pitfall 6).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV="${OMNIDESK_CI_VENV:-/opt/omnidesk-ci-venv}"
BINS=(omnidesk-telegram-webhook omnidesk-agent-api omnidesk-agent-ws omnidesk-router omnidesk-sender omnidesk-web-chat omnidesk-media omnidesk-email-inbound omnidesk-translator omnidesk-ai-worker)
PIP_PKGS=("aws-sam-cli==1.170.0" "cfn-lint==1.58.0" "cargo-lambda==1.9.2" "ziglang==0.17.1")

export SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true

step() { printf '\n== %s\n' "$*"; }
now() { date +%s; }

step "python tools in $VENV"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! "$VENV/bin/pip" show -q aws-sam-cli cfn-lint cargo-lambda ziglang >/dev/null 2>&1 \
    || [ "$("$VENV/bin/cargo-lambda" lambda --version 2>/dev/null | awk '{print $2}')" != "1.9.2" ]; then
  "$VENV/bin/pip" install -q "${PIP_PKGS[@]}"
fi
# cargo-lambda finds zig through the venv's python3 (TOOLCHAIN.md, pitfall 5).
export PATH="$VENV/bin:$PATH"

step "cfn-lint template.yaml"
t0=$(now)
cfn-lint template.yaml
bash -n infra/deploy-dashboard.sh
step "sam validate --lint"
sam validate --lint
echo "templates OK in $(( $(now) - t0 )) s"

if [ "${AWS_BUILD_SKIP_BUILD:-0}" = 1 ]; then
  exit 0
fi

ARCH_FLAG=--arm64
TARGET=aarch64-unknown-linux-gnu
step "rustup target add $TARGET"
if ! rustup target add "$TARGET"; then
  echo "WARN: the aarch64 std is unavailable here; building x86_64 binaries instead." >&2
  echo "WARN: template.yaml deploys arm64: do not deploy these artifacts as they are." >&2
  ARCH_FLAG=--x86-64
  TARGET=x86_64-unknown-linux-gnu
fi

step "cargo lambda build --release $ARCH_FLAG (${#BINS[@]} binaries)"
bin_args=()
for b in "${BINS[@]}"; do bin_args+=(--bin "$b"); done
t0=$(now)
cargo lambda build --release "$ARCH_FLAG" "${bin_args[@]}"
echo "built in $(( $(now) - t0 )) s"

step "artifacts"
status=0
for b in "${BINS[@]}"; do
  f="target/lambda/$b/bootstrap"
  if [ ! -f "$f" ]; then
    echo "MISSING $f" >&2
    status=1
    continue
  fi
  printf '%-28s %8d KB  %s\n' "$b" "$(( $(stat -c %s "$f") / 1024 ))" "$(file -b "$f" | cut -d, -f1-2)"
done
exit "$status"
