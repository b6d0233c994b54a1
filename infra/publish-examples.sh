#!/usr/bin/env bash
# make publish-examples: publishes the example campaigns through the stack's
# Api function, so that each state machine (<stack>-<id>, created by the
# API) and the plan it names (s3://BUCKET/campaigns/<id>/plans/, stored
# by the API) come from the same compile. See docs/deploy.md.
#
#   STACK     the stack name (the functions are STACK-Name)
#   BUCKET    the stack's bucket
#   EXAMPLES  which examples/*.yaml (default: winback newsletter import reference)
#
# Uploads examples/catalog.yaml to s3://BUCKET/sources/ with its tables as
# s3://BUCKET/data/ locations, the templates beside it, and the sample data
# (examples/data, made by `stepwise sample-data` when missing); then creates
# each example (or replaces its draft) and publishes it. A campaign already
# published is left as it is (published versions are immutable). Needs the
# AWS CLI v2, jq and Go.
set -euo pipefail
: "${STACK:?set STACK to the stack name (docs/deploy.md)}"
: "${BUCKET:?set BUCKET to the stack bucket (docs/deploy.md)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/infra/aws-endpoints.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fn="$STACK-Api"

if [ ! -d "$root/examples/data" ]; then
  (cd "$root" && go run ./cmd/stepwise sample-data --out examples/data --customers 2000 --seed 1 >/dev/null)
fi
sed -E "s#^([[:space:]]*source:[[:space:]]*)data/#\1s3://$BUCKET/data/#" "$root/examples/catalog.yaml" >"$work/catalog.yaml"
aws s3 cp --only-show-errors "$work/catalog.yaml" "s3://$BUCKET/sources/catalog.yaml"
aws s3 cp --only-show-errors --recursive "$root/examples/templates" "s3://$BUCKET/sources/templates/"
aws s3 cp --only-show-errors --recursive --exclude '*' --include '*.parquet' "$root/examples/data" "s3://$BUCKET/data/"

# api METHOD PATH [BODY-FILE]: invokes the Api function with an HTTP API
# (payload 2.0) event; prints "STATUS BODY".
api() {
  jq -n --arg m "$1" --arg p "$2" --rawfile b "${3:-/dev/null}" \
    '{version: "2.0", routeKey: "$default", rawPath: $p, headers: {"content-type": "application/json"},
      requestContext: {http: {method: $m, path: $p}}, body: $b, isBase64Encoded: false}' >"$work/event.json"
  aws lambda invoke --function-name "$fn" --cli-binary-format raw-in-base64-out \
    --payload "file://$work/event.json" "$work/out.json" >/dev/null
  jq -r '"\(.statusCode) \(.body)"' "$work/out.json"
}

for file in ${EXAMPLES:-winback newsletter import reference}; do
  [ -f "$root/examples/$file.yaml" ] || { echo "no examples/$file.yaml" >&2; exit 1; }
  jq -n --rawfile s "$root/examples/$file.yaml" '{source: $s}' >"$work/source.json"
  id=$(sed -nE 's/^id:[[:space:]]*([A-Za-z0-9_-]+).*/\1/p' "$root/examples/$file.yaml" | head -1)
  read -r code body < <(api POST /v1/campaigns "$work/source.json")
  if [ "$code" = 409 ]; then
    read -r code body < <(api GET "/v1/campaigns/$id")
    status=$(jq -r .status <<<"$body")
    if [ "$status" != draft ]; then
      echo "$id: already $status, version $(jq -r .publishedVersion <<<"$body") (stop it and take it back to draft to publish a change)"
      continue
    fi
    read -r code body < <(api PUT "/v1/campaigns/$id" "$work/source.json")
  fi
  case "$code" in 2??) ;; *) echo "$id: create: HTTP $code: $body" >&2; exit 1 ;; esac
  read -r code body < <(api POST "/v1/campaigns/$id/publish")
  case "$code" in 2??) ;; *) echo "$id: publish: HTTP $code: $body" >&2; exit 1 ;; esac
  echo "$id: published $(jq -r '"version \(.publishedVersion) (\(.status))"' <<<"$body") -> state machine $STACK-$id"
  if [ "$(jq -r .status <<<"$body")" = scheduled ]; then
    echo "$id: its schedule starts runs from now on; POST /v1/campaigns/$id/stop stops it"
  fi
done
