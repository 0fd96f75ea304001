#!/bin/sh
# @EXE@: launcher of the Java node and its client. It passes its own path on as invoked (not resolved through
# symlinks), like Core's argv[0], so that a bitcoin-node parent finds its sibling bitcoin-node next to the path the
# user called. A spawned child starts through this script on every echoipc, and bitcoin-cli on every command, so it
# runs no other program unless it is reached through a symlink: shell built-ins only.
self=$0
case $self in */*) ;; *) self=./$self ;; esac
if [ -L "$self" ]; then self=$(readlink -f -- "$self"); fi
home=${self%/*}/..
java=${BITCOINMP_JAVA:-@JAVA@}
# config/jvm.options goes to the JVM as an argument file (@file: one or more options per line, # comments), which
# the java launcher reads itself; a shell loop reading it would make a syscall per byte.
opts=""
if [ -r "$home/config/jvm.options" ]; then opts="@$home/config/jvm.options"; fi
# A spawned child and bitcoin-cli start from the AOT cache the build trained for them (a plain start if there is
# none), and call their few reflective methods through core reflection's native accessor instead of spinning method
# handles at start-up. They do not replay the cache's method profiles: that makes the JIT compile at once what was
# hot in training, which a process living tens of milliseconds pays for and never uses (~8 ms of CPU, ~3 ms of a
# child's echoipc here).
# Arguments and file names are decoded by the locale's charset; Core passes bytes through, so read them as UTF-8.
case ${LC_ALL:-${LC_CTYPE:-${LANG:-}}} in
*[Uu][Tt][Ff]-8*|*[Uu][Tt][Ff]8*) ;;
*) LC_ALL=C.UTF-8; export LC_ALL ;;
esac
quick=""
noreplay="-XX:+UnlockDiagnosticVMOptions -XX:-AOTReplayTraining"
case @EXE@ in
bitcoin-cli)
  quick="-Djdk.reflect.useNativeAccessorOnly=true"
  if [ -f "$home/lib/bitcoin-cli.aot" ]; then quick="$quick -XX:AOTCache=$home/lib/bitcoin-cli.aot $noreplay"; fi
  ;;
*)
  if [ "$1" = "-ipcfd" ]; then
    quick="-Djdk.reflect.useNativeAccessorOnly=true"
    if [ -f "$home/lib/bitcoin-node.aot" ]; then quick="$quick -XX:AOTCache=$home/lib/bitcoin-node.aot $noreplay"; fi
  fi
  ;;
esac
# Our jar first: a class missing from the AOT cache is found without opening every library jar before it. exec keeps
# this shell's pid, which the JVM is told (thread names carry it) so that a child need not look it up.
exec "$java" ${opts:+"$opts"} $quick $BITCOINMP_JAVA_OPTIONS -Dbitcoinmp.exe=@EXE@ -Dbitcoinmp.argv0="$0" -Dbitcoinmp.pid=$$ -cp "$home/lib/@JAR@:$home/lib/*" @MAIN@ "$@"
