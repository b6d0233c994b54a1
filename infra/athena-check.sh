#!/usr/bin/env bash
# infra/athena-check.sh: what only a real AWS account can confirm of the
# Athena engine (docs/scale.md). NOT run in CI: it needs an account, deploys
# a stack and runs queries (cents). It
#   1. creates the Athena workgroup and Glue database if missing and
#      deploys the stack with AthenaWorkgroup and AthenaGlueDatabase;
#   2. publishes the examples whose every targeting and data activity is on
#      Athena (EXAMPLES; TestExamplesAthenaMatchDuckDB runs the same ones
#      locally) with a catalog on engine: athena (outputLocation
#      s3://BUCKET/athena-results/) and runs each once;
#   3. runs each campaign on the same sample data locally with
#      `stepwise run --engine duckdb` and compares every activity's port
#      counts; exits 1 on a difference. (birthday compares days: run it
#      away from midnight in the customers' zones.)
#
#   EXAMPLES   examples/*.yaml to check (default: newsletter birthday
#              reference import; winback's random sample is seeded by the run
#              id, which the local run does not share, so compare it by hand)
#   STACK      stack name (default stepwise-athena)
#   WORKGROUP  Athena workgroup (default stepwise)
#   DATABASE   Glue database (default stepwise_runs)
# Needs the AWS CLI v2, SAM CLI, jq and Go; credentials of the account.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export STACK="${STACK:-stepwise-athena}"
WORKGROUP="${WORKGROUP:-stepwise}"
DATABASE="${DATABASE:-stepwise_runs}"
EXAMPLES="${EXAMPLES:-newsletter birthday reference import}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"

aws athena get-work-group --work-group "$WORKGROUP" >/dev/null 2>&1 ||
  aws athena create-work-group --name "$WORKGROUP" --configuration 'EnforceWorkGroupConfiguration=false'
aws glue get-database --name "$DATABASE" >/dev/null 2>&1 ||
  aws glue create-database --database-input "Name=$DATABASE"

sam build
sam deploy --stack-name "$STACK" --resolve-s3 --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
  --no-fail-on-empty-changeset \
  --parameter-overrides "AthenaWorkgroup=$WORKGROUP" "AthenaGlueDatabase=$DATABASE"
out() { aws cloudformation describe-stacks --stack-name "$STACK" --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text; }
export BUCKET="$(out BucketName)" TABLE_NAME="$(out TableName)"

# The examples' catalog on engine: athena (publish-examples uploads it).
cp examples/catalog.yaml "$work/catalog.duckdb.yaml"
restore() { cp "$work/catalog.duckdb.yaml" examples/catalog.yaml; rm -rf "$work"; }
trap restore EXIT
cat >>examples/catalog.yaml <<YAML
engine: athena
athena:
  workgroup: $WORKGROUP
  database: $DATABASE
  outputLocation: s3://$BUCKET/athena-results/
YAML
EXAMPLES="$EXAMPLES" infra/publish-examples.sh
cp "$work/catalog.duckdb.yaml" examples/catalog.yaml

# api METHOD PATH: the Api function with an HTTP API event; prints the body.
api() {
  jq -n --arg m "$1" --arg p "$2" '{version: "2.0", routeKey: "$default", rawPath: $p, headers: {},
    requestContext: {http: {method: $m, path: $p}}, body: "", isBase64Encoded: false}' >"$work/event.json"
  aws lambda invoke --function-name "$STACK-Api" --cli-binary-format raw-in-base64-out \
    --payload "file://$work/event.json" "$work/out.json" >/dev/null
  jq -r .body "$work/out.json"
}

ports='(.activities | if type == "array" then map({key: .id, value: .ports}) | from_entries else map_values(.ports) end)'
failed=0
for example in $EXAMPLES; do
  id="$(awk '$1 == "id:" {print $2; exit}' "examples/$example.yaml")"
  run="$(cat /proc/sys/kernel/random/uuid)"
  arn=$(aws stepfunctions list-state-machines --query "stateMachines[?name=='$STACK-$id'].stateMachineArn" --output text)
  exec=$(aws stepfunctions start-execution --state-machine-arn "$arn" --input "{\"runId\":\"$run\",\"test\":true}" --query executionArn --output text)
  echo "$example: execution $exec"
  while [ "$(aws stepfunctions describe-execution --execution-arn "$exec" --query status --output text)" = RUNNING ]; do sleep 10; done
  aws stepfunctions describe-execution --execution-arn "$exec" --query '{status:status,error:error,cause:cause}'

  # Port counts per activity, from the API's run (AWS, Athena) and from a
  # local run (DuckDB) on the same sample data.
  api GET "/v1/runs/$run" | jq -S "$ports" >"$work/$example.athena.json"
  go run ./cmd/stepwise run "examples/$example.yaml" --test --wait skip --engine duckdb --json --home "$work/home-$example" |
    jq -S "$ports" >"$work/$example.duckdb.json"
  if diff -u "$work/$example.duckdb.json" "$work/$example.athena.json"; then
    echo "athena-check: $example: counts identical (engine athena on AWS, duckdb locally)"
  else
    echo "athena-check: $example: counts differ" >&2
    failed=1
  fi
done
# Bytes Athena scanned, per query of the run (for docs/scale.md's estimate).
aws athena list-query-executions --work-group "$WORKGROUP" --max-results 10 --query QueryExecutionIds --output text |
  xargs -n1 aws athena get-query-execution --query 'QueryExecution.[QueryExecutionId,Status.State,Statistics.DataScannedInBytes,Statistics.EngineExecutionTimeInMillis]' --output text --query-execution-id
exit "$failed"
