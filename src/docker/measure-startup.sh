#!/usr/bin/env bash
# Start-up figures of the node image: for each of N runs, the time from `docker run` to the first JSON-RPC reply
# through the published port, then the first and a second `echoipc` (each spawns a child JVM in the container)
# and `docker stop`. Prints every run and the medians. Needs the image (src/docker/build-images.sh) and curl.
#
# usage: src/docker/measure-startup.sh [runs (default 7)] [image (default bitcoin-mp:latest)]
set -euo pipefail
runs=${1:-7}
image=${2:-bitcoin-mp:latest}
docker image inspect "$image" >/dev/null 2>&1 || { echo "error: no image $image: run src/docker/build-images.sh" >&2; exit 1; }
command -v curl >/dev/null || { echo "error: curl is needed" >&2; exit 1; }
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
container=
trap '[ -z "$container" ] || docker rm -f -v "$container" >/dev/null 2>&1' EXIT

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
rpc() {   # method params port -> body
  curl -s --max-time 60 --user "bench:$password" \
    --data-binary "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "http://127.0.0.1:$3/"
}
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }

ready=() first=() second=() stop=()
for run in $(seq "$runs"); do
  t0=$(now)
  container=$(docker run -d -p 127.0.0.1::18443 "$image" -regtest -rpcbind=0.0.0.0 -rpcallowip=0.0.0.0/0 \
    -rpcuser=bench -rpcpassword="$password")
  port=$(docker port "$container" 18443/tcp | head -1 | sed 's/.*://')
  until rpc uptime '[]' "$port" 2>/dev/null | grep -q '"result"'; do
    [ "$(docker inspect -f '{{.State.Running}}' "$container")" = true ] || { docker logs "$container" >&2; exit 1; }
    [ $(( ($(now) - t0) / 1000000000 )) -lt 120 ] || { echo "error: no RPC reply within 120 s" >&2; exit 1; }
    sleep 0.01
  done
  t1=$(now)
  [ "$(rpc echoipc '["one"]' "$port")" = '{"jsonrpc":"2.0","result":"one","id":1}' ] || { echo "error: echoipc failed" >&2; exit 1; }
  t2=$(now)
  [ "$(rpc echoipc '["two"]' "$port")" = '{"jsonrpc":"2.0","result":"two","id":1}' ] || { echo "error: echoipc failed" >&2; exit 1; }
  t3=$(now)
  docker stop -t 10 "$container" >/dev/null
  t4=$(now)
  code=$(docker inspect -f '{{.State.ExitCode}}' "$container")
  docker rm -v "$container" >/dev/null
  container=
  ready+=("$(ms "$t0" "$t1")") first+=("$(ms "$t1" "$t2")") second+=("$(ms "$t2" "$t3")") stop+=("$(ms "$t3" "$t4")")
  echo "run $run: docker run -> RPC ready ${ready[-1]} ms, echoipc ${first[-1]} ms then ${second[-1]} ms, docker stop ${stop[-1]} ms (exit code $code)"
done
echo "median of $runs: docker run -> RPC ready $(printf '%s\n' "${ready[@]}" | median) ms," \
  "first echoipc $(printf '%s\n' "${first[@]}" | median) ms, second echoipc $(printf '%s\n' "${second[@]}" | median) ms," \
  "docker stop $(printf '%s\n' "${stop[@]}" | median) ms"
