#!/bin/sh
# Whole-process bitcoin-cli: `bitcoin-cli echo hello` over the node's unix socket (-ipcconnect=unix) vs over HTTP
# (-ipcconnect=0), against one regtest bitcoin-node -ipcbind=unix started here; plus `bitcoin-cli -version` (JVM
# start and exit, no request) as the floor. The runs of the three are interleaved, so that load from elsewhere on a
# shared machine hits them alike; prints the median, quartiles and min of each, and the IPC/HTTP ratio (same run).
#
#   src/test/scripts/bench-cli.sh [runs]        (default 30; needs `mvn package` first)
set -eu
runs=${1:-30}
repo=$(cd "$(dirname -- "$0")/../../.." && pwd)
bin="$repo/target/bin"
if [ ! -x "$bin/bitcoin-cli" ] || [ ! -x "$bin/bitcoin-node" ]; then
    echo "target/bin/bitcoin-cli and bitcoin-node are missing: run mvn -q package -DskipTests first" >&2
    exit 1
fi
exec python3 - "$bin" "$runs" <<'EOF'
import os, shutil, socket, statistics, subprocess, sys, tempfile, time

bin_dir, runs = sys.argv[1], int(sys.argv[2])
cli = os.path.join(bin_dir, "bitcoin-cli")
data = tempfile.mkdtemp(prefix="bench-cli-")
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
with open(os.path.join(data, "bitcoin.conf"), "w") as f:
    f.write("regtest=1\n[regtest]\nrpcport=%d\nprinttoconsole=0\n" % port)
node = subprocess.Popen([os.path.join(bin_dir, "bitcoin-node"), "-datadir=" + data, "-ipcbind=unix"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
try:
    base = [cli, "-datadir=" + data]
    subprocess.run(base + ["-rpcwait", "-ipcconnect=0", "uptime"], check=True, capture_output=True, timeout=120)
    cases = {
        "IPC  (-ipcconnect=unix echo hello)": base + ["-ipcconnect=unix", "echo", "hello"],
        "HTTP (-ipcconnect=0 echo hello)": base + ["-ipcconnect=0", "echo", "hello"],
        "JVM floor (-version, no request)": [cli, "-version"],
    }
    for name, cmd in cases.items():   # each must work, and warms the page cache
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or r.stderr:
            sys.exit("%s failed: %d %r" % (name, r.returncode, r.stderr))
    times = {name: [] for name in cases}
    for _ in range(runs):
        for name, cmd in cases.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append((time.perf_counter() - t0) * 1000)
    print("bitcoin-cli whole process, %d interleaved runs each (ms):" % runs)
    print("%-38s %8s %8s %8s %8s" % ("", "median", "q1", "q3", "min"))
    for name, t in times.items():
        q = statistics.quantiles(t, n=4)
        print("%-38s %8.1f %8.1f %8.1f %8.1f" % (name, statistics.median(t), q[0], q[2], min(t)))
    names = list(cases)
    ipc, http, floor = (statistics.median(times[n]) for n in names)
    print("IPC / HTTP median ratio: %.2f; above the JVM floor: IPC %.1f ms, HTTP %.1f ms"
          % (ipc / http, ipc - floor, http - floor))
    aot = os.path.exists(os.path.join(os.path.dirname(bin_dir), "lib", "bitcoin-cli.aot"))
    print("(AOT cache target/lib/bitcoin-cli.aot %s)" % ("present" if aot else "absent: plain JVM start"))
finally:
    subprocess.run([cli, "-datadir=" + data, "-ipcconnect=0", "stop"], capture_output=True, timeout=60)
    try:
        node.wait(timeout=60)
    except subprocess.TimeoutExpired:
        node.kill()
        node.wait()
    err = node.stderr.read().decode(errors="replace")
    if err:
        print("node stderr: " + err, file=sys.stderr)
    shutil.rmtree(data, ignore_errors=True)
EOF
