#!/usr/bin/env python3
"""Helpers for the functional tests (assertions, waiting, ports, config files)."""

import os
import re
import subprocess
import time
from decimal import Decimal

from .authproxy import JSONRPCException

# Ports: deterministic per test process from a port seed, so that parallel tests do not collide.
MAX_NODES = 12
PORT_MIN = 11000
PORT_RANGE = 5000


class PortSeed:
    n = None


def p2p_port(n):
    assert n < MAX_NODES
    assert PortSeed.n is not None, "port seed not set"
    return PORT_MIN + n + (MAX_NODES * PortSeed.n) % (PORT_RANGE - 1 - MAX_NODES)


def rpc_port(n):
    return p2p_port(n) + PORT_RANGE


def assert_equal(thing1, thing2, *args):
    if thing1 != thing2 or any(thing1 != arg for arg in args):
        raise AssertionError("not(%s)" % " == ".join(_short(x) for x in (thing1, thing2) + args))


def _short(x, limit=200):
    s = repr(x)
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


def assert_greater_than_or_equal(thing1, thing2):
    if not thing1 >= thing2:
        raise AssertionError("%s < %s" % (thing1, thing2))


def assert_raises_rpc_error(code, message, fun, *args, **kwds):
    """Run fun(*args, **kwds) and assert that it raises a JSONRPCException with the given
    error code (None: any) whose message contains `message` (None: any)."""
    try:
        fun(*args, **kwds)
    except JSONRPCException as e:
        if code is not None and code != e.error["code"]:
            raise AssertionError("Unexpected JSONRPC error code %i (expected %i): %s" % (e.error["code"], code, e.error))
        if message is not None and message not in e.error["message"]:
            raise AssertionError("Expected substring not found in error message:\nsubstring: %r\nerror: %r" % (message, e.error))
        return e
    except Exception as e:
        raise AssertionError("Unexpected exception raised: " + type(e).__name__ + ": " + str(e))
    raise AssertionError("No exception raised")


def assert_raises_process_error(returncode, output, fun, *args, **kwds):
    """Run fun(*args, **kwds) and assert that it raises CalledProcessError with `returncode` whose output
    contains `output` (None: any)."""
    try:
        fun(*args, **kwds)
    except subprocess.CalledProcessError as e:
        if returncode != e.returncode:
            raise AssertionError("Unexpected returncode %i (expected %i): %r" % (e.returncode, returncode, e.output))
        if output is not None and output not in e.output:
            raise AssertionError("Expected substring not found:\nsubstring: %r\noutput: %r" % (output, e.output))
        return e
    except Exception as e:
        raise AssertionError("Unexpected exception raised: " + type(e).__name__ + ": " + str(e))
    raise AssertionError("No exception raised")


def wait_until(predicate, *, timeout=60, timeout_factor=1.0, poll=0.05, msg=None):
    """Poll predicate until it returns a true value; raise AssertionError after timeout seconds."""
    deadline = time.time() + timeout * timeout_factor
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(poll)
    if predicate():
        return
    raise AssertionError("Predicate %s not true after %.1f seconds" % (msg or predicate, timeout * timeout_factor))


def write_config(path, *, n, chain="regtest", extra_lines=()):
    with open(path, "w", encoding="utf8") as f:
        f.write("%s=1\n" % chain)
        f.write("[%s]\n" % chain)
        f.write("port=%d\n" % p2p_port(n))
        f.write("rpcport=%d\n" % rpc_port(n))
        f.write("server=1\n")
        f.write("printtoconsole=0\n")
        for line in extra_lines:
            f.write(line + "\n")


def get_datadir_path(dirname, n):
    return os.path.join(dirname, "node" + str(n))


def read_cookie(datadir, chain="regtest"):
    """Return (user, password) from <datadir>/<chain>/.cookie, or None if it is not there yet."""
    path = os.path.join(datadir, chain, ".cookie")
    try:
        with open(path, "r", encoding="ascii") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    if ":" not in data:
        return None
    user, password = data.split(":", 1)
    return user, password
