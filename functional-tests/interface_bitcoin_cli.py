#!/usr/bin/env python3
"""bitcoin-cli over HTTP, as Core's interface_bitcoin_cli.py: results as the RPC interface gives them, Core's output
layout (strings raw, JSON pretty-printed with 2-space indent), errors as `error code:` / `error message:` with the
code's absolute value as exit status, the cookie, -rpcuser/-rpcpassword (command line and -conf), -named, -stdin,
-stdinrpcpass, -rpcwait, connection failures, -help. Runs against bitcoind and bitcoin-node (no -ipcbind: the
-ipcconnect=auto default falls back to HTTP)."""

import hmac
import os
import shutil
import socket
import subprocess
import time
from decimal import Decimal

from test_framework.test_framework import BitcoinTestFramework
from test_framework.test_node import TestNodeCLI
from test_framework.util import (
    assert_equal,
    assert_greater_than_or_equal,
    assert_raises_process_error,
    assert_raises_rpc_error,
)

NOT_RUNNING = ("\n\nMake sure the bitcoind server is running and that you are connecting to the correct RPC port.\n"
               "Use \"bitcoin-cli -help\" for more info.\n")


def unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestBitcoinCli(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1
        salt = "c0ffee"
        digest = hmac.new(salt.encode(), b"secret", "sha256").hexdigest()
        # The cookie stays (the framework uses it) and alice can log in too.
        self.extra_args = [["-rpcauth=alice:%s$%s" % (salt, digest)]]

    def run_test(self):
        node = self.nodes[0]
        cli = node.cli

        self.log.info("results as the RPC interface gives them")
        assert_equal(cli.echo(), node.echo())
        assert_equal(cli.echo("hello", "", "x y", "é ☃ 😀"), node.echo("hello", "", "x y", "é ☃ 😀"))
        mixed = [None, True, False, 0, -1, 2**53, Decimal("1.10"), [], [1, [2]], {}, {"a": {"b": [None, "c"]}}]
        assert_equal(cli.echojson(*mixed[:10]), node.echojson(*mixed[:10]))
        assert_equal(cli.echojson(*mixed[10:]), mixed[10:])
        assert_equal(cli.echojson(arg0=1, arg2=[2]), node.echojson(arg0=1, arg2=[2]))
        assert_equal(cli.echo(arg1="b", args=None), node.echo(arg1="b"))
        assert_equal(cli.help(), node.help())
        assert_equal(cli.help("echo"), node.help("echo"))
        assert isinstance(cli.uptime(), int)
        self.log.info("echo's parameters are strings: the CLI sends what it is given, JSON-looking or not")
        assert_equal(cli.echo(1, True, None, [1], {"a": 1}), ["1", "true", "null", "[1]", '{"a": 1}'])

        self.log.info("Core's layout: strings raw, other values pretty-printed with 2-space indent, exact bytes")
        r = cli.run("echojson", '{"a":[1,{"b":null}],"c":{},"d":[]}', "1.10", '"x"')
        assert_equal((r.returncode, r.stdout, r.stderr), (0,
            '[\n  {\n    "a": [\n      1,\n      {\n        "b": null\n      }\n    ],\n    "c": {\n    },\n    "d": [\n    ]\n  },\n  1.10,\n  "x"\n]\n', ""))
        r = cli.run("help", "nosuch")
        assert_equal((r.returncode, r.stdout, r.stderr), (0, "help: unknown command: nosuch\n", ""))
        r = cli.run("echo")
        assert_equal((r.returncode, r.stdout, r.stderr), (0, "[\n]\n", ""))

        self.log.info("errors: error code / error message on stderr, exit status |code| (as the shell sees it)")
        r = cli.run("nosuchmethod")
        assert_equal((r.returncode, r.stdout, r.stderr), (32601 % 256, "", "error code: -32601\nerror message:\nMethod not found\n"))
        r = cli.run("-named", "echo", "nosuch=1")
        assert_equal((r.returncode, r.stdout, r.stderr), (8, "", "error code: -8\nerror message:\nUnknown named parameter nosuch\n"))
        assert_raises_rpc_error(-32601, "Method not found", cli.nosuchmethod)
        assert_raises_rpc_error(-1, "echo", cli.echo, *range(11))
        assert_raises_rpc_error(-8, "Unknown named parameter foo", cli.echo, foo=1)
        assert_raises_rpc_error(-8, "Parameter arg0 specified twice both as positional and named argument",
                                cli("-named").echo, "a", "arg0=b")
        assert_raises_process_error(1, "error: Error parsing JSON: abc", cli.echojson, "abc")

        self.log.info("credentials: the cookie, -rpcuser/-rpcpassword, -rpccookiefile, -conf")
        conf_path = os.path.join(node.datadir, "bitcoin.conf")
        assert_equal(cli("-rpcuser=alice", "-rpcpassword=secret").echo("a"), ["a"])
        assert_raises_process_error(1, "error: Authorization failed: Incorrect rpcuser or rpcpassword were specified. Configuration file: (%s)" % conf_path,
                                    cli("-rpcuser=alice", "-rpcpassword=wrong").echo)
        assert_raises_process_error(1, "error: Authorization failed: Failed to read cookie file and no rpcpassword was specified.",
                                    cli("-rpccookiefile=does-not-exist").echo)
        assert_raises_process_error(1, "error: Authorization failed: Cookie file was disabled via -norpccookiefile and no rpcpassword was specified.",
                                    cli("-norpccookiefile").echo)
        shutil.copy(node.cookie_path, os.path.join(node.chain_path, "copy.cookie"))
        assert_equal(cli("-rpccookiefile=copy.cookie").echo("c"), ["c"])
        with open(os.path.join(node.chain_path, "stale.cookie"), "w", encoding="ascii") as f:
            f.write("__cookie__:" + "0" * 64)
        assert_raises_process_error(1, "Cookie file credentials were invalid", cli("-rpccookiefile=stale.cookie").echo)
        other_conf = os.path.join(self.options.tmpdir, "alice.conf")
        with open(other_conf, "w", encoding="utf8") as f:
            f.write("regtest=1\n[regtest]\nrpcport=%d\nrpcuser=alice\nrpcpassword=secret\n" % node.rpcport)
        assert_equal(cli("-conf=" + other_conf, "-rpccookiefile=does-not-exist").echo("d"), ["d"])
        assert_equal(cli("-stdinrpcpass", "-rpcuser=alice", "-rpccookiefile=does-not-exist", input="secret\n").echo("e"), ["e"])
        assert_equal(cli("-stdinrpcpass", "-stdin", "-rpcuser=alice", input="secret\nf\ng h\n").echo(), ["f", "g h"])
        assert_equal(cli("-stdin", input="x\n\ny").echo(), ["x", "", "y"])

        self.log.info("options: -help, -version, no arguments, unknown options, a missing -datadir, -rpcport and -rpcconnect")
        r = cli.run("-help")
        assert_equal(r.returncode, 0)
        assert "Usage: bitcoin-cli [options] <command> [params]" in r.stdout
        assert "-ipcconnect=<address>" in r.stdout
        assert_equal(r.stderr, "")
        r = cli.run("-version")
        assert_equal((r.returncode, r.stderr), (0, ""))
        assert r.stdout.startswith("bitcoin-cli (bitcoin-mp) RPC client version")
        r = cli.run("-foo", "echo")
        assert_equal((r.returncode, r.stdout, r.stderr), (1, "", "Error parsing command line arguments: Invalid parameter -foo\n"))
        r = cli.run("-regtest")
        assert_equal((r.returncode, r.stderr), (1, "error: too few parameters (need at least command)\n"))
        r = subprocess.run([cli.binary], capture_output=True, text=True)
        assert_equal((r.returncode, r.stderr), (1, "Error: too few parameters\n"))
        assert "Usage: bitcoin-cli" in r.stdout
        missing = os.path.join(self.options.tmpdir, "missing")
        r = TestNodeCLI(cli.binary, missing).run("echo")
        assert_equal((r.returncode, r.stderr), (1, 'Error: Specified data directory "%s" does not exist.\n' % missing))
        assert_equal(cli("-rpcconnect=127.0.0.1:%d" % node.rpcport, "-rpcport=%d" % node.rpcport).echo("p"), ["p"])
        r = cli("-rpcconnect=127.0.0.1:%d" % unused_port(), "-rpcport=%d" % node.rpcport).run("echo")
        assert_equal((r.returncode, r.stderr), (0, "Warning: Port specified in both -rpcconnect and -rpcport. Using -rpcport %d\n" % node.rpcport))
        assert_raises_process_error(1, "error: Invalid port provided in -rpcport: 0", cli("-rpcport=0").echo)

        self.log.info("connection failures: Core's text and exit status 1")
        port = unused_port()
        r = cli("-rpcport=%d" % port).run("echo")
        assert_equal((r.returncode, r.stdout, r.stderr),
                     (1, "", "error: timeout on transient error: Could not connect to the server 127.0.0.1:%d%s" % (port, NOT_RUNNING)))
        t0 = time.monotonic()
        r = cli("-rpcport=%d" % port, "-rpcwait", "-rpcwaittimeout=1").run("echo")
        assert_greater_than_or_equal(time.monotonic() - t0, 1)
        assert_equal(r.returncode, 1)
        assert r.stderr.startswith("error: timeout on transient error: Could not connect to the server"), r.stderr

        self.log.info("stop through bitcoin-cli; -rpcwait waits for a node that is starting")
        assert_equal(cli.stop(), "Bitcoin node stopping")
        node.wait_until_stopped()
        node.start()
        assert_equal(cli("-rpcwait").echo("waited"), ["waited"])
        node.wait_for_rpc_connection()


if __name__ == '__main__':
    TestBitcoinCli(__file__).main()
