#!/usr/bin/env bash
# The node's benchmark: echoipc latency and throughput, echo requests/s and p99 at 16 keep-alive connections
# (wrk), idle node and spawned child RSS; prints medians. Builds the node first unless target/bin exists.
# Usage: src/test/scripts/bench-node.sh [bench_node.py options, e.g. --rounds 3 --calls 100]
set -euo pipefail
cd "$(dirname "$0")/../../.."
for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-*; do
  if [ -n "$candidate" ] && "$candidate/bin/java" -version 2>&1 | grep -q 'version "25'; then export JAVA_HOME="$candidate"; break; fi
done
[ -x target/bin/bitcoin-node ] || mvn -B -q -ntp package -DskipTests
command -v wrk >/dev/null || echo "wrk not installed (apt-get install wrk): the echo load figures are skipped"
exec python3 src/test/scripts/bench_node.py --bindir target/bin "$@"
