#!/usr/bin/env bash
# Installs what the tests need beyond Go: npm tools (asl-validator,
# aws-local-stepfunctions), DynamoDB Local (with Java), the Lambda Runtime
# Interface Emulator, the AWS CLI v2 at /usr/bin/aws (Debian's awscli: the
# docs/deploy.md walk-through runs it; an `aws` earlier on PATH may be a
# v1), and the shell tools the documents use (curl, jq, openssl). Idempotent;
# only package registries are contacted. Also Debian's chromium, for the
# console's browser tests.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

npm_install() {
  local dir="$1"
  if [ -f "$dir/package-lock.json" ] && [ -d "$dir/node_modules" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    return
  fi
  echo "infra/setup.sh: npm install in ${dir#$here/}"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --loglevel=error)
}

if [ ! -x /usr/bin/aws ] && command -v apt-get >/dev/null; then
  echo "infra/setup.sh: apt-get install awscli"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y awscli >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y awscli >/dev/null; }
fi

# The shell tools the documents' walk-throughs use (docs/docs_test.go runs them).
missing=""
for tool in curl jq openssl git make; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [ -n "$missing" ] && command -v apt-get >/dev/null; then
  echo "infra/setup.sh: apt-get install$missing"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y $missing >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y $missing >/dev/null; }
fi

# Headless Chromium for the console's browser tests (shared/console, driven by chromedp).
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
  echo "infra/setup.sh: apt-get install chromium"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y chromium >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y chromium >/dev/null; }
fi

# Debian's sqlglot: the Trino-dialect parser that checks every statement the
# Athena engine generates (shared/local/athenalocal TestTrinoSyntax).
if ! /usr/bin/python3 -c 'import sqlglot' 2>/dev/null && command -v apt-get >/dev/null; then
  echo "infra/setup.sh: apt-get install python3-sqlglot"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y python3-sqlglot >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y python3-sqlglot >/dev/null; }
fi

npm_install "$here/tools"
[ -d "$here/sfn-local" ] && npm_install "$here/sfn-local"
[ -x "$here/setup-dynamodb-local.sh" ] && "$here/setup-dynamodb-local.sh"
[ -x "$here/setup-rie.sh" ] && "$here/setup-rie.sh" >/dev/null
exit 0
