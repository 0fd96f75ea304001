#!/usr/bin/env bash
# Builds the node image without any registry: first a local base image (a jlink runtime of the local JDK 25 plus
# the few host binaries and libraries the node and its launchers need, loaded with `docker import`), then the node
# image from src/docker/Dockerfile with BASE_IMAGE set to it. Prints the image sizes.
#
# usage: src/docker/build-images.sh [--tag IMAGE] [--base-image IMAGE] [--rebuild-base]
#   --tag IMAGE         the node image's name (default bitcoin-mp:latest)
#   --base-image IMAGE  build the node image on IMAGE (e.g. eclipse-temurin:25-jre) instead of the local base
#   --rebuild-base      build the local base even if one from the same JDK and script exists
# Needs `mvn package` first (target/bin, target/lib, target/config), Docker, and a JDK 25 with jlink in JAVA_HOME
# (or /usr/lib/jvm/temurin-25-jdk-*).
set -euo pipefail
project=$(cd "$(dirname "$0")/../.." && pwd)
tag=bitcoin-mp:latest
base=
rebuild_base=
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --base-image) base=$2; shift 2 ;;
    --base-image=*) base=${1#*=}; shift ;;
    --rebuild-base) rebuild_base=1; shift ;;
    *) echo "usage: $0 [--tag IMAGE] [--base-image IMAGE] [--rebuild-base]" >&2; exit 2 ;;
  esac
done

for f in target/bin/bitcoin-node target/bin/bitcoind target/config/jvm.options; do
  [ -e "$project/$f" ] || { echo "error: $project/$f is missing: run mvn package first" >&2; exit 1; }
done
ls "$project"/target/lib/*.jar >/dev/null 2>&1 || { echo "error: no jars in $project/target/lib: run mvn package first" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "error: Docker is not available (docker info fails)" >&2; exit 1; }

# Modules of the runtime. jdeps on target/lib lists java.base, java.desktop, java.management, java.naming, java.sql
# and jdk.unsupported; the middle four are optional dependencies of Jackson (java.beans annotations, java.sql
# types) and Jetty (JMX, JNDI) that the node never uses: the container tests run the node without them.
# jdk.unsupported: sun.misc.Signal (SIGTERM); java.net.http: the health check's client; java.logging: named by the
# JDK's default CDS class list (jlink warns about every missing class otherwise).
modules=java.base,java.logging,java.net.http,jdk.unsupported
# Host programs the image needs: sh for the launchers, readlink and dirname for the container's entrypoint and
# health check scripts, mkdir and chown for the Dockerfile's RUN step, and cat, grep, tr, ls, sleep for
# `docker exec` inspection (the container tests use cat, grep, tr and sleep).
programs=(sh readlink dirname mkdir chown cat grep tr ls sleep)

root=
trap '[ -z "$root" ] || rm -rf "$root"' EXIT

build_base() {
  local jdk=$1 image=$2 fingerprint=$3
  root=$(mktemp -d "${TMPDIR:-/tmp}/bitcoin-mp-base.XXXXXX")
  # The host's top-level symlinks (a merged /usr: /bin -> usr/bin, /lib64 -> usr/lib64, ...) as they are.
  for d in bin sbin lib lib64; do
    if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$root/$d"; fi
  done
  mkdir -p "$root/opt/java" "$root/etc" "$root/dev" "$root/proc" "$root/sys" "$root/root"
  mkdir -m 1777 "$root/tmp"
  "$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
    --generate-cds-archive --output "$root/opt/java/openjdk" >/dev/null
  # The CDS archive for heaps over 32 GB (no compressed oops); such a JVM runs without CDS.
  rm -f "$root/opt/java/openjdk/lib/server/classes_nocoops.jsa"

  # A host file goes to the same path under its real directory, symlinks resolved.
  copy() {
    local dir
    dir="$root$(readlink -f -- "$(dirname -- "$1")")"
    mkdir -p "$dir"
    cp -L -- "$1" "$dir/$(basename -- "$1")"
  }
  local p elfs=()
  for p in "${programs[@]}"; do
    copy "$(command -v "$p")"
    elfs+=("$(command -v "$p")")
  done
  while IFS= read -r p; do elfs+=("$p"); done < <(find "$root/opt/java/openjdk" -type f \( -name '*.so' -o -perm -u+x \))
  # Their shared libraries and the dynamic loader, as ldd resolves them on this host (the runtime's own libraries
  # are already in place); libgcc_s, which glibc loads itself for thread cancellation and unwinding.
  local libs
  libs=$(for p in "${elfs[@]}"; do ldd "$p" 2>/dev/null || true; done \
    | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | grep -v "^$root/" | sort -u)
  for p in $libs $(/sbin/ldconfig -p | awk '$1 == "libgcc_s.so.1" && /x86-64|x86_64|aarch64/ {print $NF; exit}'); do
    copy "$p"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"

  tar --numeric-owner --owner=0 --group=0 -C "$root" -cf - . | docker import \
    --change "ENV JAVA_HOME=/opt/java/openjdk" \
    --change "ENV PATH=/opt/java/openjdk/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
    --change "ENV LANG=C.UTF-8" \
    --change "LABEL dev.bitcoinmp.image=base dev.bitcoinmp.base.fingerprint=$fingerprint" \
    --change 'CMD ["java", "-version"]' \
    - "$image" >/dev/null
  # Smoke test: the runtime starts in it.
  docker run --rm "$image" java -version >/dev/null 2>&1 || { echo "error: java does not start in $image" >&2; exit 1; }
}

if [ -z "$base" ]; then
  jdk=${JAVA_HOME:-}
  if [ -z "$jdk" ] || ! [ -x "$jdk/bin/jlink" ] || ! grep -q '^JAVA_VERSION="25' "$jdk/release" 2>/dev/null; then
    jdk=
    for candidate in /usr/lib/jvm/temurin-25-jdk-* /usr/lib/jvm/*25*; do
      if [ -x "$candidate/bin/jlink" ] && grep -q '^JAVA_VERSION="25' "$candidate/release" 2>/dev/null; then jdk=$candidate; break; fi
    done
  fi
  [ -n "$jdk" ] || { echo "error: no JDK 25 with jlink found: set JAVA_HOME" >&2; exit 1; }
  version=$(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$jdk/release")
  base=bitcoin-mp-base:$version
  fingerprint=$( { cat "$0"; cat "$jdk/release"; for p in "${programs[@]}"; do sha256sum "$(readlink -f "$(command -v "$p")")"; done; } \
    | sha256sum | cut -c1-16)
  if [ -z "$rebuild_base" ] && [ "$(docker image inspect -f '{{index .Config.Labels "dev.bitcoinmp.base.fingerprint"}}' "$base" 2>/dev/null)" = "$fingerprint" ]; then
    echo "base image $base is up to date"
  else
    echo "building base image $base (jlink of $jdk: $modules)"
    build_base "$jdk" "$base" "$fingerprint"
  fi
fi

echo "building node image $tag on $base"
docker build -f "$project/src/docker/Dockerfile" --build-arg BASE_IMAGE="$base" -t "$tag" "$project"
# Images of this script that a new build left without a name.
for kind in node base; do
  docker image prune -f --filter "label=dev.bitcoinmp.image=$kind" >/dev/null
done

size() {
  docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.1f MB", $1 / 1e6}'
}
echo "image sizes: base $base $(size "$base"), node $tag $(size "$tag")"
