#!/bin/sh
# HEALTHCHECK of the node image: dev.bitcoinmp.node.HealthCheck asks the running node for `uptime` over JSON-RPC,
# with the settings and credentials of that node's own command line (options given here are used instead).
# A short-lived JVM: small heap, C1 only, no perf data file.
home=$(dirname -- "$(dirname -- "$(readlink -f -- "$0")")")
exec "${BITCOINMP_JAVA:-java}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmx32m -XX:-UsePerfData \
  -cp "$home/lib/*" dev.bitcoinmp.node.HealthCheck "$@"
