#!/bin/sh
# @EXE@: launcher of the Java node. It passes its own path on as invoked (not resolved through symlinks), like
# Core's argv[0], so that a bitcoin-node parent finds its sibling bitcoin-node next to the path the user called.
self=$(readlink -f -- "$0")
home=$(dirname -- "$(dirname -- "$self")")
java=${BITCOINMP_JAVA:-@JAVA@}
opts=$(grep -v '^[[:space:]]*#' "$home/config/jvm.options" 2>/dev/null | tr '\n' ' ')
exec "$java" $opts -Dbitcoinmp.exe=@EXE@ -Dbitcoinmp.argv0="$0" -cp "$home/lib/*" dev.bitcoinmp.node.NodeMain "$@"
