#!/usr/bin/env python3
"""The base class of the functional tests, in the manner of Core's BitcoinTestFramework.

A test subclasses BitcoinTestFramework, defines set_test_params() (setting self.num_nodes) and run_test(),
and ends with `if __name__ == '__main__': MyTest(__file__).main()`.
Exit codes: 0 passed, 1 failed, 77 skipped (raise SkipTest).
"""

import argparse
import logging
import os
import random
import shutil
import sys
import tempfile
import time

from .test_node import TestNode
from .util import PortSeed, get_datadir_path, write_config, MAX_NODES

TEST_EXIT_PASSED = 0
TEST_EXIT_FAILED = 1
TEST_EXIT_SKIPPED = 77

TMPDIR_PREFIX = "bitcoinmp_func_test_"
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class SkipTest(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


class BitcoinTestFramework:
    def __init__(self, test_file):
        self.test_file = test_file
        self.nodes = []
        self.num_nodes = 1
        self.extra_args = None
        self.setup_clean_chain = True
        self.rpc_timeout = 60
        self.options = None
        self.log = logging.getLogger("TestFramework")

    # --- to override -------------------------------------------------------------------------------------
    def set_test_params(self):
        raise NotImplementedError

    def add_options(self, parser):
        pass

    def skip_test_if_missing_module(self):
        pass

    def setup_nodes(self):
        self.add_nodes(self.num_nodes, self.extra_args)
        self.start_nodes()

    def run_test(self):
        raise NotImplementedError

    # --- main ----------------------------------------------------------------------------------------------
    def main(self):
        parser = argparse.ArgumentParser(usage="%(prog)s [options]")
        parser.add_argument("--nocleanup", action="store_true", default=False,
                            help="Leave the node datadirs and the tmpdir in place on exit")
        parser.add_argument("--tmpdir", help="Root directory for the node datadirs (must not exist)")
        parser.add_argument("-l", "--loglevel", default="INFO",
                            help="Log level printed to the console (DEBUG, INFO, WARNING, ERROR); the tmpdir's test_framework.log has everything")
        parser.add_argument("--tracerpc", action="store_true", default=False, help="Log every RPC call and reply")
        parser.add_argument("--timeout-factor", dest="timeout_factor", type=float, default=1.0,
                            help="Multiply every timeout by this factor")
        parser.add_argument("--portseed", type=int, default=os.getpid(), help="Seed of the port assignment")
        parser.add_argument("--bindir", default=os.path.join(REPO_ROOT, "target", "bin"),
                            help="Directory of the node executables (default: <repo>/target/bin)")
        parser.add_argument("--binary", default="bitcoin-node", choices=["bitcoin-node", "bitcoind"],
                            help="Node executable to test (default: bitcoin-node)")
        self.add_options(parser)
        self.options = parser.parse_args()
        if self.options.timeout_factor == 0:
            self.options.timeout_factor = 99999
        self.options.bindir = os.path.abspath(self.options.bindir)
        PortSeed.n = self.options.portseed

        if self.options.tmpdir:
            self.options.tmpdir = os.path.abspath(self.options.tmpdir)
            os.makedirs(self.options.tmpdir, exist_ok=False)
        else:
            self.options.tmpdir = tempfile.mkdtemp(prefix=TMPDIR_PREFIX)
        self._start_logging()

        self.set_test_params()
        assert self.num_nodes <= MAX_NODES
        success = TEST_EXIT_FAILED
        try:
            self.skip_test_if_missing_module()
            binary = os.path.join(self.options.bindir, self.options.binary)
            if not os.access(binary, os.X_OK):
                raise AssertionError("node executable %s not found (build it, or pass --bindir)" % binary)
            self.setup_nodes()
            self.run_test()
            success = TEST_EXIT_PASSED
        except SkipTest as e:
            self.log.warning("Test skipped: %s" % e.message)
            success = TEST_EXIT_SKIPPED
        except AssertionError:
            self.log.exception("Assertion failed")
        except KeyboardInterrupt:
            self.log.warning("Exiting after keyboard interrupt")
        except Exception:
            self.log.exception("Unexpected exception caught during testing")
        finally:
            success = self._shutdown(success)
        sys.exit(success)

    def _shutdown(self, status):
        # Stop the nodes that still run; a failure to stop cleanly fails the test. Processes are always reaped.
        if status == TEST_EXIT_PASSED:
            try:
                self.stop_nodes()
            except Exception:
                self.log.exception("Stopping the nodes failed")
                status = TEST_EXIT_FAILED
        for node in self.nodes:
            node.kill_process()
        if status == TEST_EXIT_PASSED:
            self.log.info("Tests successful")
        elif status == TEST_EXIT_SKIPPED:
            self.log.info("Test skipped")
        else:
            self.log.error("Test failed. Test logging available at %s/test_framework.log", self.options.tmpdir)
            for node in self.nodes:
                path = node.debug_log_path
                if os.path.exists(path):
                    self.log.error("node%d debug.log: %s", node.index, path)
        cleanup = not self.options.nocleanup and status != TEST_EXIT_FAILED
        logging.shutdown()
        if cleanup:
            shutil.rmtree(self.options.tmpdir, ignore_errors=True)
        else:
            print("Not cleaning up dir %s" % self.options.tmpdir)
        return status

    def _start_logging(self):
        ll = getattr(logging, self.options.loglevel.upper(), None)
        if not isinstance(ll, int):
            ll = logging.INFO
        root = logging.getLogger()
        root.setLevel(logging.DEBUG)
        fh = logging.FileHandler(os.path.join(self.options.tmpdir, "test_framework.log"), encoding="utf-8")
        fh.setLevel(logging.DEBUG)
        ch = logging.StreamHandler(sys.stdout)
        ch.setLevel(ll)
        fmt = logging.Formatter(fmt="%(asctime)s.%(msecs)03d000Z %(name)s (%(levelname)s): %(message)s",
                                datefmt="%Y-%m-%dT%H:%M:%S")
        fmt.converter = time.gmtime
        fh.setFormatter(fmt)
        ch.setFormatter(fmt)
        root.addHandler(fh)
        root.addHandler(ch)
        if not self.options.tracerpc:
            logging.getLogger("BitcoinRPC").setLevel(logging.INFO)

    # --- nodes ---------------------------------------------------------------------------------------------
    def add_nodes(self, num_nodes, extra_args=None, *, binary=None):
        if extra_args is None:
            extra_args = [[]] * num_nodes
        assert len(extra_args) == num_nodes
        for i in range(num_nodes):
            idx = len(self.nodes)
            datadir = get_datadir_path(self.options.tmpdir, idx)
            os.makedirs(os.path.join(datadir, "regtest"), exist_ok=True)
            write_config(os.path.join(datadir, "bitcoin.conf"), n=idx)
            self.nodes.append(TestNode(idx, datadir, bindir=self.options.bindir,
                                       binary=binary or self.options.binary,
                                       timeout_factor=self.options.timeout_factor,
                                       rpc_timeout=self.rpc_timeout, extra_args=extra_args[i],
                                       trace_rpc=self.options.tracerpc))

    def start_node(self, i, extra_args=None, **kwargs):
        node = self.nodes[i]
        node.start(extra_args, **kwargs)
        node.wait_for_rpc_connection()

    def start_nodes(self, extra_args=None):
        if extra_args is None:
            extra_args = [None] * len(self.nodes)
        for i, node in enumerate(self.nodes):
            node.start(extra_args[i])
        for node in self.nodes:
            node.wait_for_rpc_connection()

    def stop_node(self, i, expected_stderr="", wait=60):
        self.nodes[i].stop_node(expected_stderr=expected_stderr, wait=wait)

    def stop_nodes(self):
        for node in self.nodes:
            if node.is_running() and node.rpc_connected:
                node.stop_node()
            elif node.is_running():
                node.kill_process()
                raise AssertionError("node %d was running without an RPC connection at shutdown" % node.index)

    def restart_node(self, i, extra_args=None):
        self.stop_node(i)
        self.start_node(i, extra_args)
