#!/bin/sh
# Targeting handlers vs the same work as hand-written DuckDB SQL, on
# generated data (default 1M customers / ~4M purchases, cached under
# bench/out). Flags: -customers N, -threads N, -memory-mb N, -json.
#
#   bench/targeting.sh                    # 1M customers
#   bench/targeting.sh -customers 100000
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/out
go build -o bench/out/targeting ./bench/targeting
exec bench/out/targeting -out bench/out "$@"
