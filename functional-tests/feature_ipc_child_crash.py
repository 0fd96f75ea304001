#!/usr/bin/env python3
"""A spawned child killed with SIGKILL in the middle of an echoipc: the call fails with a clear RPC error
(code -1, naming the child that ended), the child is reaped (no zombie, no leftover process), debug.log has its
exit status, and the node keeps serving. Skipped on bitcoind, which spawns nothing."""

import os
import signal
import threading
import time

from feature_ipc_child_killed import descendants, proc_stat
from test_framework.authproxy import JSONRPCException
from test_framework.test_framework import BitcoinTestFramework, SkipTest
from test_framework.util import assert_equal


class IpcChildCrashTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1
        self.extra_args = [["-debug=ipc"]]

    def skip_test_if_missing_module(self):
        if self.options.binary != "bitcoin-node":
            raise SkipTest("%s has no IPC children" % self.options.binary)

    def ipc_children(self, node):
        return {pid: v for pid, v in descendants(node.process.pid).items() if b"-ipcfd" in v[1]}

    def run_test(self):
        node = self.nodes[0]
        assert_equal(node.echoipc("before"), "before")
        payload = "x" * (4 << 20)   # a long call: the child is alive for a while after it starts

        self.log.info("kill -9 the child of an echoipc in flight until a call fails because of it")
        error = None
        killed = set()
        deadline = time.time() + 60 * self.options.timeout_factor
        while error is None and time.time() < deadline:
            outcome = {}

            def call():
                rpc = node.get_rpc_proxy(timeout=60)
                try:
                    outcome["result"] = rpc.echoipc(payload)
                except JSONRPCException as e:
                    outcome["error"] = e.error
                finally:
                    rpc.close()

            t = threading.Thread(target=call, daemon=True)
            t.start()
            while t.is_alive():
                children = self.ipc_children(node)
                if children:
                    for pid in children:
                        os.kill(pid, signal.SIGKILL)
                        killed.add(pid)
                    break
                time.sleep(0.002)
            t.join(timeout=60)
            assert not t.is_alive(), "echoipc did not return after its child was killed"
            if "error" in outcome:
                error = outcome["error"]
            else:
                assert_equal(outcome.get("result"), payload)   # the child had answered before the kill
        assert error is not None, "no echoipc call failed although its child was killed"
        self.log.info("error: %r", error)
        assert_equal(error["code"], -1)
        assert "the bitcoin-node child process ended before it answered" in error["message"], error

        self.log.info("the killed child was reaped: no process and no zombie left, its status logged")
        for pid in killed:
            st = proc_stat(pid)
            assert st is None, "child %d still exists (state %s)" % (pid, st[1])
        assert_equal(self.ipc_children(node), {})
        with open(node.debug_log_path, encoding="utf-8") as f:
            log = f.read()
        assert any("Process bitcoin-node pid %d exited with status 9" % pid in log for pid in killed), \
            "no 'exited with status 9' line for %r" % killed

        self.log.info("the node keeps serving")
        assert_equal(node.echoipc("after"), "after")
        assert_equal(node.echo("still", "here"), ["still", "here"])


if __name__ == '__main__':
    IpcChildCrashTest(__file__).main()
