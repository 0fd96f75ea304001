#!/bin/sh
# @EXE@: launcher of the Java node. It passes its own path on as invoked (not resolved through symlinks), like
# Core's argv[0], so that a bitcoin-node parent finds its sibling bitcoin-node next to the path the user called.
self=$(readlink -f -- "$0")
home=$(dirname -- "$(dirname -- "$self")")
java=${BITCOINMP_JAVA:-@JAVA@}
opts=$(grep -v '^[[:space:]]*#' "$home/config/jvm.options" 2>/dev/null | tr '\n' ' ')
# A spawned child starts from the AOT cache the build trained (a plain start if there is none).
aot=""
if [ "$1" = "-ipcfd" ] && [ -f "$home/lib/bitcoin-node.aot" ]; then aot="-XX:AOTCache=$home/lib/bitcoin-node.aot"; fi
exec "$java" $opts $aot $BITCOINMP_JAVA_OPTIONS -Dbitcoinmp.exe=@EXE@ -Dbitcoinmp.argv0="$0" -cp "$home/lib/*" dev.bitcoinmp.node.NodeMain "$@"
