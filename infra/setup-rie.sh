#!/usr/bin/env bash
# Installs the AWS Lambda Runtime Interface Emulator (and the gofakes3 CLI used
# by `make dev`) into infra/.cache/bin. Idempotent; only the Go module proxy is
# contacted. Prints the bin folder on its last line.
set -euo pipefail

RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"
GOFAKES3_VERSION="v1.2.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/infra/.cache/bin"
mkdir -p "$BIN"

install() { # name module@version
	local name="$1" mod="$2"
	if [ -x "$BIN/$name" ] && [ -f "$BIN/.$name-${mod##*@}" ]; then
		return
	fi
	echo "infra/setup-rie.sh: go install $mod" >&2
	(cd "$ROOT" && GOBIN="$BIN" CGO_ENABLED=0 go install "$mod")
	rm -f "$BIN/.$name-"*
	touch "$BIN/.$name-${mod##*@}"
}

install aws-lambda-rie "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
install gofakes3 "github.com/johannesboyne/gofakes3/cmd/gofakes3@$GOFAKES3_VERSION"
echo "$BIN"
