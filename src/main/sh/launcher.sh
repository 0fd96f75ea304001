#!/bin/sh
# @EXE@: launcher of the Java node and its client. It passes its own path on as invoked (not resolved through
# symlinks), like Core's argv[0], so that a bitcoin-node parent finds its sibling bitcoin-node next to the path the
# user called.
self=$(readlink -f -- "$0")
home=$(dirname -- "$(dirname -- "$self")")
java=${BITCOINMP_JAVA:-@JAVA@}
opts=$(grep -v '^[[:space:]]*#' "$home/config/jvm.options" 2>/dev/null | tr '\n' ' ')
aot=""
case @EXE@ in
bitcoin-cli)
    # Arguments are decoded by the locale's charset; Core's bitcoin-cli passes bytes through, so read them as UTF-8.
    case "${LC_ALL:-${LC_CTYPE:-$LANG}}" in
    *[Uu][Tt][Ff]-8* | *[Uu][Tt][Ff]8*) ;;
    *) LC_ALL=C.UTF-8; export LC_ALL ;;
    esac
    if [ -f "$home/lib/bitcoin-cli.aot" ]; then aot="-XX:AOTCache=$home/lib/bitcoin-cli.aot"; fi
    ;;
*)
    # A spawned child starts from the AOT cache the build trained (a plain start if there is none).
    if [ "$1" = "-ipcfd" ] && [ -f "$home/lib/bitcoin-node.aot" ]; then aot="-XX:AOTCache=$home/lib/bitcoin-node.aot"; fi
    ;;
esac
exec "$java" $opts $aot $BITCOINMP_JAVA_OPTIONS -Dbitcoinmp.exe=@EXE@ -Dbitcoinmp.argv0="$0" -cp "$home/lib/*" @MAIN@ "$@"
