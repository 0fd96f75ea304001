#!/usr/bin/env python3
"""Invalid -rpcallowip / -rpcbind values are fatal start-up errors reported like every other one:
exit code 1 and a single `Error: ...` message on stderr (no stack trace)."""

from test_framework.test_framework import BitcoinTestFramework
from test_framework.test_node import ErrorMatch


class ConfigErrorsTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1

    def setup_nodes(self):
        self.add_nodes(self.num_nodes)

    def run_test(self):
        node = self.nodes[0]
        self.log.info("invalid -rpcallowip")
        node.assert_start_raises_init_error(
            ["-rpcallowip=notanip"],
            r"Error: Invalid -rpcallowip subnet specification: notanip\..*", match=ErrorMatch.FULL_REGEX)
        self.start_node(0)


if __name__ == '__main__':
    ConfigErrorsTest(__file__).main()
