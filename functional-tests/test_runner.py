#!/usr/bin/env python3
"""Run the functional tests in parallel and summarise.

Each test runs as its own process with a distinct --portseed and its own tmpdir; it passes only if it exits 0
and writes nothing to stderr (77 = skipped). Prints a table TEST | STATUS | DURATION and a final line
`N passed, N failed, N skipped`; exits 0 only if every test passed or was skipped.

    test_runner.py [--jobs N] [--bindir DIR] [--tmpdirprefix DIR] [--timeout-factor F] [--failfast] [test ...]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

TEST_EXIT_PASSED = 0
TEST_EXIT_SKIPPED = 77
HERE = os.path.dirname(os.path.abspath(__file__))

# Tests run with both binaries where the behaviour differs between them.
BASE_SCRIPTS = [
    "interface_rpc_echo.py",
    "interface_rpc_echo.py --binary=bitcoind",
    "interface_echoipc.py",
    "interface_echoipc.py --binary=bitcoind",
    "interface_http.py",
    "interface_rpc_protocol.py",
    "rpc_workqueue.py",
    "rpc_workqueue.py --binary=bitcoind",
    "feature_startup_errors.py",
    "feature_startup_errors.py --binary=bitcoind",
    "feature_shutdown.py",
    "feature_shutdown.py --binary=bitcoind",
    "feature_ipc_child_killed.py",
    "feature_ipc_child_crash.py",
    "feature_config_errors.py",
]

PER_TEST_TIMEOUT = 300


def run_one(test, portseed, args, tmpdir_root):
    parts = test.split()
    script = os.path.join(HERE, parts[0])
    name = test.replace(" ", "_").replace("--", "").replace("=", "_")
    tmpdir = os.path.join(tmpdir_root, name)
    cmd = [sys.executable, script] + parts[1:] + [
        "--portseed=%d" % portseed, "--tmpdir=%s" % tmpdir, "--timeout-factor=%s" % args.timeout_factor]
    if args.bindir:
        cmd.append("--bindir=%s" % args.bindir)
    if args.loglevel:
        cmd.append("--loglevel=%s" % args.loglevel)
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=PER_TEST_TIMEOUT * args.timeout_factor)
        code, out, err = p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        code = "timeout"
        out = (e.stdout or b"").decode(errors="replace")
        err = (e.stderr or b"").decode(errors="replace") + "\n(killed after %ss)" % (PER_TEST_TIMEOUT * args.timeout_factor)
    duration = time.time() - t0
    if code == TEST_EXIT_PASSED and err == "":
        status = "Passed"
    elif code == TEST_EXIT_SKIPPED and err == "":
        status = "Skipped"
    else:
        status = "Failed"
    return test, status, duration, code, out, err


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", "-j", type=int, default=4, help="tests run in parallel (default 4)")
    parser.add_argument("--bindir", help="directory of bitcoind / bitcoin-node (default: <repo>/target/bin)")
    parser.add_argument("--tmpdirprefix", default=tempfile.gettempdir(), help="where the run's tmpdir is created")
    parser.add_argument("--timeout-factor", dest="timeout_factor", type=float, default=1.0)
    parser.add_argument("--loglevel", help="passed on to each test")
    parser.add_argument("--portseed-base", dest="portseed_base", type=int, default=None,
                        help="first port seed (default: derived from this process id); test i gets base + i")
    parser.add_argument("--failfast", action="store_true", help="report after the first failure (running tests finish)")
    parser.add_argument("tests", nargs="*", help="tests to run (script names, optionally with arguments); default: all")
    args = parser.parse_args()

    if args.tests:
        tests = []
        for t in args.tests:
            base = t.split()[0]
            if not base.endswith(".py"):
                base += ".py"
                t = " ".join([base] + t.split()[1:])
            if not os.path.exists(os.path.join(HERE, base)):
                print("unknown test %s" % base, file=sys.stderr)
                return 1
            tests.append(t)
    else:
        tests = list(BASE_SCRIPTS)

    # Distinct, spread-out seeds: each seed owns 12 ports (MAX_NODES), and base + i stays distinct within the run.
    base = args.portseed_base if args.portseed_base is not None else (os.getpid() * 13) % 3000
    os.makedirs(args.tmpdirprefix, exist_ok=True)
    tmpdir_root = tempfile.mkdtemp(prefix="test_runner_%s_" % time.strftime("%Y%m%d_%H%M%S"), dir=args.tmpdirprefix)
    print("Temporary test directory at %s" % tmpdir_root)

    results = []
    t_start = time.time()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_one, t, base + i, args, tmpdir_root) for i, t in enumerate(tests)]
        for fut in as_completed(futures):
            test, status, duration, code, out, err = fut.result()
            results.append((test, status, duration))
            print("%d/%d - %s %s (%.1f s)" % (len(results), len(tests), test, status.lower(), duration), flush=True)
            if status == "Failed":
                print("--- %s: exit code %s ---" % (test, code))
                if out.strip():
                    print("stdout:\n" + out.rstrip())
                if err.strip():
                    print("stderr:\n" + err.rstrip())
                print("---", flush=True)
                if args.failfast:
                    for f in futures:
                        f.cancel()
    total = time.time() - t_start

    order = {t: i for i, t in enumerate(tests)}
    results.sort(key=lambda r: (r[1] != "Failed", order[r[0]]))
    width = max([len("TEST")] + [len(r[0]) for r in results])
    print()
    print("%s | %s | %s" % ("TEST".ljust(width), "STATUS".ljust(7), "DURATION"))
    for test, status, duration in results:
        print("%s | %s | %d s" % (test.ljust(width), status.ljust(7), round(duration)))
    passed = sum(1 for r in results if r[1] == "Passed")
    failed = sum(1 for r in results if r[1] == "Failed")
    skipped = sum(1 for r in results if r[1] == "Skipped")
    not_run = len(tests) - len(results)
    print("\nRuntime: %d s%s" % (round(total), (", %d not run" % not_run) if not_run else ""))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if failed == 0 and not_run == 0:
        import shutil
        shutil.rmtree(tmpdir_root, ignore_errors=True)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
