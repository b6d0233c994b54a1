#!/usr/bin/env bash
# Installs the Node tools under infra/ (aws-local-stepfunctions for the ASL
# cross-checks) from their lockfiles. Idempotent: skips when node_modules
# already matches package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"

command -v node >/dev/null || { echo "setup-node: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup-node: npm is not installed" >&2; exit 1; }

for dir in sfn-local; do
  lock="$dir/package-lock.json"
  stamp="$dir/node_modules/.stepwise-lock"
  if [[ -f "$stamp" ]] && cmp -s "$lock" "$stamp"; then
    echo "setup-node: $dir is up to date"
    continue
  fi
  echo "setup-node: installing $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$lock" "$stamp"
done
