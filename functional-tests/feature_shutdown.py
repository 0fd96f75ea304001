#!/usr/bin/env python3
"""Shutdown: the `stop` RPC replies before the node exits with status 0; SIGTERM and SIGINT also end it with
status 0; in every case the cookie the node wrote is deleted and nothing is written to stderr."""

import os
import signal

from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal, wait_until


class ShutdownTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1

    def run_test(self):
        node = self.nodes[0]
        tf = self.options.timeout_factor

        self.log.info("stop RPC: reply first, then exit 0, cookie deleted")
        assert os.path.exists(node.cookie_path)
        with node.assert_debug_log(["Shutdown: done"], timeout=30):
            reply = node.stop()
            assert isinstance(reply, str) and "stopping" in reply, reply
            node.wait_until_stopped(timeout=30)
        assert not os.path.exists(node.cookie_path), "cookie left behind after stop"

        for sig in (signal.SIGTERM, signal.SIGINT):
            self.log.info("%s: exit 0, cookie deleted", sig.name)
            self.start_node(0)
            assert os.path.exists(node.cookie_path)
            assert_equal(node.echo("before"), ["before"])
            node.send_signal(sig)
            node.wait_until_stopped(timeout=30)
            assert not os.path.exists(node.cookie_path), "cookie left behind after %s" % sig.name

        self.log.info("SIGTERM right after an echoipc (a child was spawned and reaped)")
        self.start_node(0)
        assert_equal(node.echoipc("x"), "x")
        node.send_signal(signal.SIGTERM)
        node.wait_until_stopped(timeout=30)

        self.log.info("stop while another connection is idle and kept alive")
        self.start_node(0)
        other = node.get_rpc_proxy()
        assert_equal(other.echo("idle"), ["idle"])
        node.stop_node()
        other.close()
        assert not os.path.exists(node.cookie_path)

        self.log.info("a node started again answers as before")
        self.start_node(0)
        wait_until(lambda: node.uptime() >= 0, timeout=10, timeout_factor=tf)


if __name__ == '__main__':
    ShutdownTest(__file__).main()
