#!/usr/bin/env bash
# Echo.echo round trips over a unix socket (-ipcbind's IpcListener) vs over a socketpair (a spawned child's
# -ipcfd), to the same spawned JVM in the same run, measurements interleaved; prints medians and ratios.
# Usage: src/test/scripts/bench-echo-unix.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/../../.."
rounds="${1:-5}"
for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-*; do
  if [ -n "$candidate" ] && "$candidate/bin/java" -version 2>&1 | grep -q 'version "25'; then export JAVA_HOME="$candidate"; break; fi
done
mvn -B -q -ntp test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt >/dev/null
cp="target/test-classes:target/classes:$(cat target/test-classpath.txt)"
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Drounds="$rounds" -cp "$cp" dev.bitcoinmp.bench.UnixEchoBench
