#!/usr/bin/env bash
# Deploys the agent dashboard of a `sam deploy`ed stack: builds web/dashboard, writes
# dist/config.json with the stack's WebSocketUrl (the API is the distribution's own /api/*,
# which CloudFront passes to the stack's HTTP API: the sign-in's refresh cookie is then
# first-party; so one build serves any stack),
# uploads it to the stack's private bucket and invalidates the CloudFront cache. Also builds and
# uploads the website widget (web/widget/dist: /widget.js and /widget/…, cached 5 minutes).
#
#   infra/deploy-dashboard.sh [stack name]      (default: $OMNIDESK_STACK or "omnidesk")
#
# Needs the AWS CLI with credentials for the stack's account and region, node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
STACK="${1:-${OMNIDESK_STACK:-omnidesk}}"

output() {
  local value
  value="$(aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text)"
  if [ -z "$value" ] || [ "$value" = "None" ]; then
    echo "stack $STACK has no output $1 (is it deployed from this template.yaml?)" >&2
    exit 1
  fi
  printf '%s' "$value"
}

API_URL="$(output ApiUrl)"
WS_URL="$(output WebSocketUrl)"
BUCKET="$(output DashboardBucketName)"
DISTRIBUTION="$(output DashboardDistributionId)"
DASHBOARD_URL="$(output DashboardUrl)"

(cd web/dashboard && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
WS_URL="$WS_URL" python3 - <<'PY'
import json, os
# apiBase "": the same origin (CloudFront's /api/* behaviour).
with open("web/dashboard/dist/config.json", "w") as f:
    json.dump({"apiBase": "", "wsUrl": os.environ["WS_URL"]}, f)
PY

# Hashed assets are immutable; index.html and config.json must be re-read on every visit.
aws s3 sync web/dashboard/dist "s3://$BUCKET" --delete \
  --exclude index.html --exclude config.json --exclude widget.js --exclude "widget/*" --cache-control "public,max-age=31536000,immutable"
aws s3 cp web/dashboard/dist/index.html "s3://$BUCKET/index.html" --cache-control "no-cache"
aws s3 cp web/dashboard/dist/config.json "s3://$BUCKET/config.json" --cache-control "no-cache"

# The website widget: the loader at /widget.js, the panel and its assets under /widget/.
# Their names are not hashed, so they are cached 5 minutes: a new release reaches the sites
# embedding them within minutes without an invalidation per visitor.
(cd web/widget && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
aws s3 cp web/widget/dist/widget.js "s3://$BUCKET/widget.js" \
  --cache-control "public,max-age=300" --content-type "text/javascript"
aws s3 sync web/widget/dist/widget "s3://$BUCKET/widget" --delete --cache-control "public,max-age=300"
aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION" \
  --paths "/index.html" "/config.json" "/widget.js" "/widget/*" >/dev/null

echo "dashboard deployed: $DASHBOARD_URL (API $DASHBOARD_URL/api, also $API_URL; WebSocket $WS_URL)"
echo "set the stack parameter DashboardOrigin to $DASHBOARD_URL to restrict CORS to it"
echo "widget: $DASHBOARD_URL/widget.js (widget API $(output WebApiUrl))"
