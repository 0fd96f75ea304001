#!/bin/sh
# @EXE@: launcher of the Java node. It passes its own path on as invoked (not resolved through symlinks), like
# Core's argv[0], so that a bitcoin-node parent finds its sibling bitcoin-node next to the path the user called.
# A spawned child starts through this script on every echoipc, so it runs no other program unless it is reached
# through a symlink: shell built-ins only.
self=$0
case $self in */*) ;; *) self=./$self ;; esac
if [ -L "$self" ]; then self=$(readlink -f -- "$self"); fi
home=${self%/*}/..
java=${BITCOINMP_JAVA:-@JAVA@}
opts=""
if [ -r "$home/config/jvm.options" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in ''|[[:space:]]*'#'*|'#'*) ;; *) opts="$opts $line" ;; esac
  done <"$home/config/jvm.options"
fi
# A spawned child starts from the AOT cache the build trained (a plain start if there is none), and calls its
# few methods through core reflection's native accessor instead of spinning method handles at start-up.
child=""
if [ "$1" = "-ipcfd" ]; then
  child="-Djdk.reflect.useNativeAccessorOnly=true"
  if [ -f "$home/lib/bitcoin-node.aot" ]; then child="$child -XX:AOTCache=$home/lib/bitcoin-node.aot"; fi
fi
exec "$java" $opts $child $BITCOINMP_JAVA_OPTIONS -Dbitcoinmp.exe=@EXE@ -Dbitcoinmp.argv0="$0" -cp "$home/lib/*" dev.bitcoinmp.node.NodeMain "$@"
