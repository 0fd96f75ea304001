#!/usr/bin/env python3
"""Start-up errors: exit code 1 with `Error: ...` on stderr and nothing else.
- an unknown option: `Error: Invalid parameter -foo` (also from bitcoin.conf)
- bitcoin-node -ipcfd misuse: `Error: Invalid -ipcfd number '+3'`, a number that is no open descriptor; bitcoind has no -ipcfd at all
- a missing data directory, a malformed -rpcauth
and the node starts normally afterwards."""

import os
import subprocess

from test_framework.test_framework import BitcoinTestFramework
from test_framework.test_node import ErrorMatch
from test_framework.util import assert_equal


class StartupErrorsTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1

    def setup_nodes(self):
        self.add_nodes(self.num_nodes)  # started by the test itself

    def run_raw(self, args, timeout=60):
        """Run the binary with exactly `args`; return (exit code, stdout, stderr)."""
        p = subprocess.run([self.nodes[0].binary] + args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout * self.options.timeout_factor)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def run_test(self):
        node = self.nodes[0]

        self.log.info("unknown option on the command line")
        node.assert_start_raises_init_error(["-foo"], "Error: Invalid parameter -foo")
        node.assert_start_raises_init_error(["-fallbackfee=0.0002"], "Error: Invalid parameter -fallbackfee")

        self.log.info("unknown option in bitcoin.conf")
        conf = os.path.join(node.datadir, "bitcoin.conf")
        with open(conf, encoding="utf8") as f:
            saved = f.read()
        with open(conf, "a", encoding="utf8") as f:
            f.write("foo=1\n")
        node.assert_start_raises_init_error([], "Invalid parameter -foo", match=ErrorMatch.PARTIAL_REGEX)
        with open(conf, "w", encoding="utf8") as f:
            f.write(saved)

        self.log.info("missing data directory")
        missing = os.path.join(self.options.tmpdir, "does-not-exist")
        code, out, err = self.run_raw(["-regtest", "-datadir=" + missing, "-printtoconsole=0"])
        assert_equal(code, 1)
        assert err.startswith("Error: "), err
        assert missing in err, err

        self.log.info("malformed -rpcauth")
        node.assert_start_raises_init_error(["-rpcauth=bad"], "Error: Invalid -rpcauth argument.")

        self.log.info("-ipcfd misuse")
        if self.options.binary == "bitcoin-node":
            for bad in ("+3", "abc", "3x", ""):
                code, out, err = self.run_raw(["-ipcfd", bad])
                assert_equal((code, err.strip(), out), (1, "Error: Invalid -ipcfd number '%s'" % bad, ""))
            # a well-formed number that is no open descriptor of the child
            code, out, err = self.run_raw(["-ipcfd", "987"])
            assert_equal((code, out), (1, ""))
            assert err.startswith("Error: -ipcfd 987 is not an open descriptor: "), err
            assert "Bad file descriptor" in err, err
        else:
            code, out, err = self.run_raw(["-ipcfd", "+3"])
            assert_equal((code, err.strip()), (1, "Error: Invalid parameter -ipcfd"))
        # -ipcfd among other options is not the spawned-child form: an ordinary unknown-option error
        node.assert_start_raises_init_error(["-ipcfd=3"], "Error: Invalid parameter -ipcfd")

        self.log.info("the node starts normally after all of this")
        self.start_node(0)
        assert_equal(node.echo("ok"), ["ok"])


if __name__ == '__main__':
    StartupErrorsTest(__file__).main()
