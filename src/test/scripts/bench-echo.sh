#!/usr/bin/env bash
# The RPC layer's benchmark: Echo.echo between two JVM processes over a socketpair, next to the C++ reference
# peer's plain capnp echo in the same run (medians, ratios), then JMH's allocation per call.
# With --unix instead: Echo.echo over a unix socket (-ipcbind's IpcListener) vs over a socketpair (a spawned
# child's -ipcfd), to the same spawned JVM in the same run, measurements interleaved; medians and ratios.
# Usage: src/test/scripts/bench-echo.sh [--unix] [rounds]   (needs capnproto libcapnp-dev g++ for the C++ figures)
set -euo pipefail
cd "$(dirname "$0")/../../.."
unix=""
if [ "${1:-}" = "--unix" ]; then unix=1; shift; fi
rounds="${1:-5}"
for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-*; do
  if [ -n "$candidate" ] && "$candidate/bin/java" -version 2>&1 | grep -q 'version "25'; then export JAVA_HOME="$candidate"; break; fi
done
mvn -B -q -ntp test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt >/dev/null
cp="target/test-classes:target/classes:$(cat target/test-classpath.txt)"
if [ -n "$unix" ]; then
  exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Drounds="$rounds" -cp "$cp" dev.bitcoinmp.bench.UnixEchoBench
fi
peer=""
if command -v capnp >/dev/null && command -v g++ >/dev/null && [ -f /usr/include/capnp/rpc-twoparty.h ]; then
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" dev.bitcoinmp.interop.CppPeer >/dev/null
  peer=target/cpp-peer/mp_peer
else
  echo "C++ reference peer unavailable (apt-get install capnproto libcapnp-dev g++): Java figures only"
fi
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Drounds="$rounds" -cp "$cp" dev.bitcoinmp.bench.EchoBench $peer
echo
echo "JMH: allocation per call (client and server in one JVM, both counted)"
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" org.openjdk.jmh.Main EchoAllocationBenchmark -prof gc \
  2>&1 | grep -E "^Benchmark|EchoAllocationBenchmark.echo(:gc.alloc.rate.norm)? "
