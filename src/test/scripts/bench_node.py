#!/usr/bin/env python3
"""The node's benchmark (not a test): starts a regtest node from --bindir and prints medians.

- echoipc latency over N sequential calls (each spawns a bitcoin-node child, calls echo through it, reaps it),
- echoipc throughput with 8 concurrent clients,
- echo requests/s and latency percentiles at 16 keep-alive connections (wrk, if installed),
- RSS of the idle node, and the peak RSS of the spawned children (sampled from /proc while echoipc runs).

Standard library only. Usage: bench_node.py --bindir target/bin [--calls 100] [--rounds 3] [--wrk-seconds 10]
"""
import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive JSON-RPC connection with the node's cookie."""

    def __init__(self, port, auth):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": "Basic " + auth, "Content-Type": "application/json"}

    def call(self, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        self.conn.request("POST", "/", body, self.headers)
        reply = self.conn.getresponse()
        data = json.loads(reply.read())
        if reply.status != 200 or data.get("error"):
            raise RuntimeError(f"{method}: HTTP {reply.status} {data}")
        return data["result"]

    def close(self):
        self.conn.close()


def rss_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid):
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def is_spawned_child(pid):
    """A bitcoin-node -ipcfd child once it runs the JVM: not the launcher script before its exec, and not the
    moment between posix_spawn's clone and exec, when the child still shares (and reports) the node's memory."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
        return os.readlink(f"/proc/{pid}/exe").endswith("/java") and b"-ipcfd" in args
    except OSError:
        return False


class ChildSampler(threading.Thread):
    """Peak RSS (VmHWM) of every bitcoin-node child the node spawns, read until the child is gone."""

    def __init__(self, node_pid):
        super().__init__(daemon=True)
        self.node_pid = node_pid
        self.peaks = {}
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            for child in children(self.node_pid):
                if is_spawned_child(child):
                    hwm = rss_kib(child, "VmHWM")
                    if hwm is not None:
                        self.peaks[child] = max(hwm, self.peaks.get(child, 0))
            time.sleep(0.001)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def echoipc_latency(port, auth, calls):
    client = Client(port, auth)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        result = client.call("echoipc", f"hello {i}")
        times.append((time.perf_counter() - start) * 1000)
        if result != f"hello {i}":
            raise RuntimeError(f"echoipc returned {result!r}")
    client.close()
    return times


def echoipc_throughput(port, auth, clients, calls_each):
    errors = []

    def work(k):
        c = Client(port, auth)
        try:
            for i in range(calls_each):
                if c.call("echoipc", f"c{k} {i}") != f"c{k} {i}":
                    errors.append("wrong result")
        except Exception as e:  # reported below
            errors.append(str(e))
        finally:
            c.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} echoipc calls failed: {errors[0]}")
    return clients * calls_each / elapsed


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"echo","params":["hello"]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic %s"
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%d %%.1f %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99), latency.max,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, 0))
end
"""


def wrk_echo(port, auth, seconds, workdir):
    script = os.path.join(workdir, "echo.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT % auth)
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", script, f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRK "))
    _, requests, _, rate, p50, p99, worst, errors, _ = line.split()
    return float(rate), int(p50) / 1000, int(p99) / 1000, int(worst) / 1000, int(errors), int(requests)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bindir", default="target/bin")
    parser.add_argument("--calls", type=int, default=100, help="sequential echoipc calls per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrent-calls", type=int, default=10, help="echoipc calls per concurrent client")
    parser.add_argument("--wrk-seconds", type=int, default=10)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-node-")
    port = free_port()
    node = subprocess.Popen([os.path.join(args.bindir, "bitcoin-node"), "-regtest", f"-datadir={workdir}",
                             f"-rpcport={port}", "-printtoconsole=0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        cookie = os.path.join(workdir, "regtest", ".cookie")
        deadline = time.time() + 60
        while not os.path.exists(cookie):
            if node.poll() is not None or time.time() > deadline:
                raise RuntimeError("node did not start: " + node.stderr.read().decode())
            time.sleep(0.05)
        with open(cookie) as f:
            auth = base64.b64encode(f.read().strip().encode()).decode()
        while True:
            try:
                Client(port, auth).call("uptime")
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        time.sleep(2)
        idle_start = rss_kib(node.pid)
        print(f"node pid {node.pid}; {os.cpu_count()} CPUs; {args.rounds} rounds")

        sampler = ChildSampler(node.pid)
        sampler.start()
        medians, p90s = [], []
        for r in range(args.rounds):
            times = echoipc_latency(port, auth, args.calls)
            medians.append(statistics.median(times))
            p90s.append(percentile(times, 90))
            print(f"  round {r + 1}: echoipc x{args.calls} sequential: p50 {medians[-1]:.1f} ms, "
                  f"p90 {p90s[-1]:.1f} ms, min {min(times):.1f} ms, max {max(times):.1f} ms")
        rates = []
        for r in range(args.rounds):
            rates.append(echoipc_throughput(port, auth, 8, args.concurrent_calls))
            print(f"  round {r + 1}: echoipc, 8 concurrent clients x{args.concurrent_calls}: {rates[-1]:.1f} calls/s")
        sampler.stopping.set()
        sampler.join()
        peaks = sorted(sampler.peaks.values())

        wrk = []
        if shutil.which("wrk"):
            for r in range(args.rounds):
                wrk.append(wrk_echo(port, auth, args.wrk_seconds, workdir))
                rate, p50, p99, worst, errors, requests = wrk[-1]
                print(f"  round {r + 1}: echo, 16 keep-alive connections, {args.wrk_seconds} s: {rate:.0f} req/s, "
                      f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.1f} ms, {errors} errors of {requests}")
        time.sleep(2)
        idle_after = rss_kib(node.pid)

        print()
        print("medians over rounds" + (" (targets of issue 3 in brackets)"))
        print(f"  echoipc latency p50: {statistics.median(medians):.1f} ms  (<= 40 ms); "
              f"p90 {statistics.median(p90s):.1f} ms")
        print(f"  echoipc throughput, 8 concurrent clients: {statistics.median(rates):.1f} calls/s")
        if wrk:
            print(f"  echo at 16 connections: {statistics.median(w[0] for w in wrk):.0f} req/s  (>= 40000), "
                  f"p99 {statistics.median(w[2] for w in wrk):.2f} ms  (<= 2 ms)")
        else:
            print("  echo at 16 connections: skipped (wrk not installed: apt-get install wrk)")
        print(f"  idle node RSS: {idle_start / 1024:.1f} MiB after start-up, "
              f"{idle_after / 1024:.1f} MiB after the load  (<= 150 MiB)")
        if peaks:
            print(f"  spawned child peak RSS (VmHWM): median {statistics.median(peaks) / 1024:.1f} MiB, "
                  f"max {peaks[-1] / 1024:.1f} MiB over {len(peaks)} children  (<= 60 MiB)")
    finally:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(30)
        except subprocess.TimeoutExpired:
            node.kill()
        err = node.stderr.read().decode()
        if err:
            print("node stderr: " + err, file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
