#!/usr/bin/env python3
"""bitcoin-cli over the node's unix socket (-ipcconnect), as Core's interface_ipc_cli.py: the same output and exit
status over IPC and over HTTP for the same commands, errors included; IPC needs no HTTP credentials (a wrong
-rpcpassword only fails over HTTP, which shows which way a request went); -ipcconnect=auto|unix|unix:<path>|0,
-noipcconnect and the -rpcconnect conflict, with the node running and stopped; auto falling back to HTTP when the
node does not listen, or left a stale socket; -rpcwait over IPC; stop over IPC."""

import os
import socket
from decimal import Decimal

from test_framework.test_framework import BitcoinTestFramework, SkipTest
from test_framework.util import assert_equal, wait_until

HINT = ("\n\nProbably bitcoin-node is not running or not listening on a unix socket. Can be started with:\n\n"
        "    bitcoin-node -chain=regtest -ipcbind=unix\n")
NOT_RUNNING = ("\n\nMake sure the bitcoind server is running and that you are connecting to the correct RPC port.\n"
               "Use \"bitcoin-cli -help\" for more info.\n")

# Commands whose output (stdout, stderr, exit status) must not depend on the transport.
COMMANDS = [
    ["echo"],
    ["echo", "hello", "1", '{"a":1}', "", "é ☃ 😀"],
    ["echojson", '"hello"', "1.10", '{"a":[],"b":{"c":null}}', "null", "[true,false]", "-0", "1e-7"],
    ["echojson", '"\\u0001 \\" \\\\ \\/"'],
    ["echojson", "not json"],
    ["-named", "echo", "arg2=c", "a", "b"],
    ["-named", "echojson", "arg0=[1]", "arg0=2"],
    ["-named", "echo", "nosuch=1"],
    ["-named", "echo", "a", "arg0=b"],
    ["echo", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
    ["echoipc"],
    ["echoipc", "through a child"],
    ["nosuchmethod"],
    ["help"],
    ["help", "echo"],
    ["help", "nosuch"],
    ["-rpcwallet=w", "echo", "on a wallet path"],
]


class TestBitcoinIpcCli(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1
        self.extra_args = [["-ipcbind=unix"]]

    def skip_test_if_missing_module(self):
        if self.options.binary != "bitcoin-node":
            raise SkipTest("only bitcoin-node listens for IPC")

    def run_cli(self, args, command=("echo", "foo")):
        """As Core's test: a wrong RPC password, so that only IPC can succeed."""
        r = self.nodes[0].cli("-rpcpassword=wrong", *args).run(*command)
        return r.returncode, r.stdout, r.stderr

    def run_test(self):
        node = self.nodes[0]
        ok = (0, '[\n  "foo"\n]\n', "")
        auth_error = (1, "", "error: Authorization failed: Incorrect rpcuser or rpcpassword were specified. Configuration file: (%s)\n"
                      % os.path.join(node.datadir, "bitcoin.conf"))
        conflict = (1, "", "error: -rpcconnect and -ipcconnect options cannot both be enabled\n")
        http_down = (1, "", "error: timeout on transient error: Could not connect to the server 127.0.0.1:%d%s" % (node.rpcport, NOT_RUNNING))

        self.log.info("same output and exit status over IPC and HTTP")
        for command in COMMANDS:
            # An argument that is not JSON fails before any connection is made.
            expected = [] if command == ["echojson", "not json"] else ["IPC server: socket connected.", "IPC server: socket disconnected."]
            with node.assert_debug_log(expected):
                ipc = node.cli("-ipcconnect=unix").run(*command)
            http = node.cli("-ipcconnect=0").run(*command)
            assert_equal((ipc.returncode, ipc.stdout, ipc.stderr), (http.returncode, http.stdout, http.stderr))
        r = node.cli("-ipcconnect=unix").run("nosuchmethod")
        assert_equal((r.returncode, r.stdout, r.stderr), (32601 % 256, "", "error code: -32601\nerror message:\nMethod not found\n"))
        assert_equal(node.cli("-ipcconnect=unix").echojson("[1.10]", '{"a":"b"}'), [[Decimal("1.10")], {"a": "b"}])

        self.log.info("-ipcconnect with the node listening")
        assert_equal(self.run_cli([]), ok)
        assert_equal(self.run_cli(["-ipcconnect=auto"]), ok)
        assert_equal(self.run_cli(["-ipcconnect=unix"]), ok)
        assert_equal(self.run_cli(["-ipcconnect=unix:" + node.ipc_socket_path]), ok)
        assert_equal(self.run_cli(["-ipcconnect=unix:node.sock"]), ok)
        assert_equal(self.run_cli(["-noipcconnect"]), auth_error)
        assert_equal(self.run_cli(["-ipcconnect=0"]), auth_error)
        assert_equal(self.run_cli(["-rpcconnect=127.0.0.1"]), auth_error)
        assert_equal(self.run_cli(["-ipcconnect=auto", "-rpcconnect=127.0.0.1"]), auth_error)
        assert_equal(self.run_cli(["-ipcconnect=unix", "-rpcconnect=127.0.0.1"]), conflict)
        assert_equal(self.run_cli(["-ipcconnect=tcp:127.0.0.1"]), (1, "", "error: timeout on transient error: Unrecognized address 'tcp:127.0.0.1'" + HINT))

        self.log.info("stop over IPC: the reply arrives, the node exits cleanly and removes its socket")
        assert_equal(node.cli("-ipcconnect=unix").stop(), "Bitcoin node stopping")
        node.wait_until_stopped()
        assert not os.path.exists(node.ipc_socket_path)

        self.log.info("-ipcconnect with the node stopped")
        no_socket = (1, "", "error: timeout on transient error: No such file or directory" + HINT)
        assert_equal(self.run_cli([]), http_down)
        assert_equal(self.run_cli(["-ipcconnect=auto"]), http_down)
        assert_equal(self.run_cli(["-ipcconnect=unix"]), no_socket)
        assert_equal(self.run_cli(["-ipcconnect=unix:" + node.ipc_socket_path]), no_socket)
        assert_equal(self.run_cli(["-noipcconnect"]), http_down)
        assert_equal(self.run_cli(["-ipcconnect=unix", "-rpcconnect=127.0.0.1"]), conflict)

        self.log.info("-rpcwait over IPC waits for the node to come up")
        node.start()
        assert_equal(node.cli("-ipcconnect=unix", "-rpcwait").echo("waited"), ["waited"])
        node.wait_for_rpc_connection()

        self.log.info("a killed node leaves its socket: refused; a node started without -ipcbind: auto uses HTTP")
        node.kill_process()
        assert os.path.exists(node.ipc_socket_path)
        refused = (1, "", "error: timeout on transient error: Connection refused" + HINT)
        assert_equal(self.run_cli(["-ipcconnect=unix"]), refused)
        assert_equal(self.run_cli([]), http_down)
        self.start_node(0, extra_args=[])
        assert os.path.exists(node.ipc_socket_path)
        assert_equal(node.cli.echo("over http"), ["over http"])
        assert_equal(self.run_cli([]), auth_error)
        assert_equal(self.run_cli(["-ipcconnect=unix"]), refused)
        os.remove(node.ipc_socket_path)
        assert_equal(node.cli.echo("over http"), ["over http"])
        assert_equal(self.run_cli(["-ipcconnect=unix"]), no_socket)

        self.log.info("a socket elsewhere: -ipcbind=unix:<path> and -ipcconnect=unix:<path>, relative to the network datadir")
        self.restart_node(0, extra_args=["-ipcbind=unix:sockets/cli.sock"])
        assert_equal(self.run_cli(["-ipcconnect=unix:sockets/cli.sock"]), ok)
        assert_equal(self.run_cli(["-ipcconnect=unix:" + os.path.join(node.chain_path, "sockets", "cli.sock")]), ok)
        assert_equal(self.run_cli([]), auth_error)

        self.log.info("a node at its -ipcmaxconnections limit: a clear error, not a hang")
        self.restart_node(0, extra_args=["-ipcbind=unix", "-ipcmaxconnections=1"])
        with socket.socket(socket.AF_UNIX) as held:
            held.connect(node.ipc_socket_path)
            with node.assert_debug_log(["IPC server: connection refused: too many IPC connections"]):
                code, out, err = self.run_cli([])
            assert_equal((code, out), (1, ""))
            assert err.startswith("error: ") and "too many IPC connections (-ipcmaxconnections=1)" in err, err
        # Once the node has seen the held connection end, there is room again.
        wait_until(lambda: self.run_cli([]) == ok, timeout=30, timeout_factor=self.options.timeout_factor)


if __name__ == '__main__':
    TestBitcoinIpcCli(__file__).main()
