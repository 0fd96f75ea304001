#!/usr/bin/env python3
"""echoipc: on bitcoin-node the string goes through a spawned `bitcoin-node -ipcfd N` child (debug.log shows it
launched and exiting with status 0); on bitcoind (--binary=bitcoind) it is echoed locally, with no child."""

import re

from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal, assert_raises_rpc_error


class EchoIpcTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1

    def run_test(self):
        node = self.nodes[0]
        if self.options.binary == "bitcoin-node":
            self.log.info("bitcoin-node: echoipc spawns a child and reaps it")
            with node.assert_debug_log(["Process bitcoin-node pid ", " launched", "exited with status 0"]) as _:
                assert_equal(node.echoipc("hello"), "hello")
            log = self._log_since(node, lambda: node.echoipc("hallo"), "hallo")
            launched = re.findall(r"Process bitcoin-node pid (\d+) launched", log)
            exited = re.findall(r"Process bitcoin-node pid (\d+) exited with status 0", log)
            assert_equal(len(launched), 1)
            assert_equal(launched, exited)
        else:
            self.log.info("bitcoind: echoipc echoes locally, no child is launched")
            with node.assert_debug_log([], unexpected_msgs=["launched", "Process bitcoin-node"]):
                assert_equal(node.echoipc("hello"), "hello")

        self.log.info("both: empty, non-ASCII and long strings; argument errors")
        for s in ("", "haha", "h\u00e9llo \u2603", "y" * 100000):
            assert_equal(node.echoipc(s), s)
        assert_equal(node.echoipc(arg="named"), "named")
        assert_raises_rpc_error(-1, "echoipc", node.echoipc)
        assert_raises_rpc_error(-1, "echoipc", node.echoipc, "a", "b")
        assert_raises_rpc_error(-3, "Wrong type passed", node.echoipc, 5)

    def _log_since(self, node, fn, expected):
        with open(node.debug_log_path, "rb") as f:
            f.seek(0, 2)
            start = f.tell()
        assert_equal(fn(), expected)
        # the exit line is logged before the RPC returns (the child is reaped first)
        with open(node.debug_log_path, "rb") as f:
            f.seek(start)
            return f.read().decode("utf8", errors="replace")


if __name__ == '__main__':
    EchoIpcTest(__file__).main()
