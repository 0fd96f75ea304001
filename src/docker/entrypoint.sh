#!/bin/sh
# PID 1 of the node container. Starts bitcoin-node (or bitcoind with BITCOINMP_EXE=bitcoind) with
# -datadir=$BITCOINMP_DATADIR and the container's arguments, passes SIGTERM and SIGINT on to it as SIGTERM (the
# node's clean shutdown; a shell's background job would ignore SIGINT), and exits with the node's exit status.
#
# Why a shell and not the JVM as PID 1: the node reaps the children it spawns (waitpid on each), but PID 1 also
# inherits every orphan of the container, e.g. what a `docker exec` command left running in the background, and
# a JVM never waits for processes it did not start, so they would stay zombies. This shell sits in `wait`, which
# reaps any child that ends, adopted orphans included.
set -u
home=$(dirname -- "$(dirname -- "$(readlink -f -- "$0")")")
exe=${BITCOINMP_EXE:-bitcoin-node}
case "$exe" in
  bitcoind|bitcoin-node) ;;
  *) echo "Error: BITCOINMP_EXE must be bitcoind or bitcoin-node, not '$exe'" >&2; exit 1 ;;
esac

node=
stopping=
trap 'stopping=1; [ -z "$node" ] || kill -TERM "$node" 2>/dev/null' TERM INT
"$home/bin/$exe" -datadir="${BITCOINMP_DATADIR:-/data}" "$@" &
node=$!
[ -z "$stopping" ] || kill -TERM "$node" 2>/dev/null

while :; do
  wait "$node"
  status=$?
  # A signal ends `wait` early with 128+N while the node runs on (or has just become a zombie: kill -0 still
  # finds it); wait again for its own status.
  if [ "$status" -gt 128 ] && kill -0 "$node" 2>/dev/null; then continue; fi
  exit "$status"
done
