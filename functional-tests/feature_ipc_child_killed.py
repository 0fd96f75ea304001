#!/usr/bin/env python3
"""A bitcoin-node parent killed with SIGKILL leaves no bitcoin-node child behind (within 2 s):
- idle after an echoipc (its child was reaped before the RPC returned);
- while an echoipc is in flight (the child sees its socket close and exits).
Skipped on bitcoind, which spawns nothing."""

import os
import threading
import time

from test_framework.test_framework import BitcoinTestFramework, SkipTest
from test_framework.util import assert_equal


def proc_stat(pid):
    """(ppid, state, starttime) of pid, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    return int(rest[1]), rest[0], int(rest[19])


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


def descendants(root):
    """{pid: (starttime, cmdline)} of every live descendant of root."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st is not None:
                children.setdefault(st[0], []).append((int(entry), st))
    found = {}
    todo = [root]
    while todo:
        for pid, st in children.get(todo.pop(), []):
            if st[1] != "Z":
                found[pid] = (st[2], cmdline(pid))
            todo.append(pid)
    return found


def alive(pid, starttime):
    st = proc_stat(pid)
    return st is not None and st[2] == starttime and st[1] != "Z"


class IpcChildKilledTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1

    def skip_test_if_missing_module(self):
        if self.options.binary != "bitcoin-node":
            raise SkipTest("%s has no IPC children" % self.options.binary)

    def assert_none_left(self, tracked, within=2.0):
        deadline = time.time() + within * self.options.timeout_factor
        while True:
            left = {pid: cl for pid, (start, cl) in tracked.items() if alive(pid, start)}
            if not left:
                return
            if time.time() >= deadline:
                for pid in left:
                    try:
                        os.kill(pid, 9)  # only processes this test's node spawned
                    except ProcessLookupError:
                        pass
                raise AssertionError("children left %.1f s after the parent was killed: %r" % (within, left))
            time.sleep(0.05)

    def run_test(self):
        node = self.nodes[0]

        self.log.info("idle after an echoipc: kill -9 the parent, no child remains")
        assert_equal(node.echoipc("hello"), "hello")
        before = descendants(node.process.pid)
        self.log.debug("descendants before kill: %r", before)
        # the child of that call was reaped before the RPC returned
        assert_equal({pid: v for pid, v in before.items() if b"-ipcfd" in v[1]}, {})
        node.process.kill()
        node.process.wait(timeout=30)
        self.assert_none_left(before)
        node.kill_process()

        self.log.info("echoipc in flight: kill -9 the parent while its child runs")
        self.start_node(0)
        seen = {}
        stop_calls = threading.Event()

        def caller():
            rpc = node.get_rpc_proxy(timeout=30)
            try:
                while not stop_calls.is_set():
                    rpc.echoipc("x" * 1000)
            except Exception:
                pass  # the connection dies with the node
            finally:
                rpc.close()

        t = threading.Thread(target=caller, daemon=True)
        t.start()
        deadline = time.time() + 30 * self.options.timeout_factor
        while time.time() < deadline:
            d = descendants(node.process.pid)
            ipc_children = {pid: v for pid, v in d.items() if b"-ipcfd" in v[1]}
            if ipc_children:
                seen = d
                break
            time.sleep(0.01)
        assert seen, "never saw a -ipcfd child while echoipc calls were running"
        self.log.debug("descendants before kill: %r", seen)
        node.process.kill()
        node.process.wait(timeout=30)
        stop_calls.set()
        self.assert_none_left(seen)
        t.join(timeout=30)
        node.kill_process()

        self.log.info("a fresh node works")
        self.start_node(0)
        assert_equal(node.echoipc("again"), "again")


if __name__ == '__main__':
    IpcChildKilledTest(__file__).main()
