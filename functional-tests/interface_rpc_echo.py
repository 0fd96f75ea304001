#!/usr/bin/env python3
"""echo and echojson: strings of 0, 1, 100, 131071 characters and 8 MiB come back unchanged,
as do mixed JSON types and named parameters."""

from decimal import Decimal

from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal, assert_raises_rpc_error


class EchoTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1

    def run_test(self):
        node = self.nodes[0]
        self.log.info("echo() with no arguments is []")
        assert_equal(node.echo(), [])
        assert_equal(node.echojson(), [])

        self.log.info("strings of 0, 1, 100, 131071 characters and 8 MiB")
        for size in (0, 1, 100, 131071, 8 * 1024 * 1024):
            s = "x" * size
            assert_equal(node.echo(s), [s])
            assert_equal(node.echojson(s), [s])
        assert_equal(node.echo("a", "b" * 100, "c" * 131071), ["a", "b" * 100, "c" * 131071])

        self.log.info("non-ASCII and escapes")
        special = "h\u00e9llo \u2603 \U0001F600 \"quoted\" back\\slash\n\t\u0001"
        assert_equal(node.echo(special), [special])

        self.log.info("mixed JSON types")
        mixed = [None, True, False, 0, -1, 2**53, Decimal("1.5"), Decimal("0.00000001"), "", "s",
                 [], [1, [2, [3]]], {}, {"a": {"b": [None, "c"]}}]
        assert_equal(node.echo(*mixed[:10]), mixed[:10])
        assert_equal(node.echojson(*mixed[10:]), mixed[10:])
        assert_equal(node.echojson([mixed]), [[mixed]])

        self.log.info("up to 10 arguments; 11 is a usage error")
        assert_equal(node.echo(*range(10)), list(range(10)))
        assert_raises_rpc_error(-1, None, node.echo, *range(11))

        self.log.info("named parameters")
        assert_equal(node.echo(arg0="a"), ["a"])
        assert_equal(node.echojson(arg0=1, arg1=[2]), [1, [2]])
        # gaps between given arguments become null, trailing omitted ones stay absent
        assert_equal(node.echo(arg0="a", arg3="d"), ["a", None, None, "d"])
        assert_equal(node.echo(arg9=9), [None] * 9 + [9])
        assert_equal(node.echo(args=["a", "b"], arg2="c"), ["a", "b", "c"])
        assert_raises_rpc_error(-8, "Unknown named parameter foo", node.echo, foo=1)


if __name__ == '__main__':
    EchoTest(__file__).main()
