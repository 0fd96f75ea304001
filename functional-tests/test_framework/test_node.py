#!/usr/bin/env python3
"""TestNode: one node process under test (start, wait for RPC, stop, kill, debug.log checks)."""

import contextlib
import decimal
import http.client
import json
import logging
import os
import re
import signal
import subprocess
import tempfile
import time

from .authproxy import AuthServiceProxy, JSONRPCException
from .util import rpc_port, p2p_port, read_cookie

RPC_POLL_INTERVAL = 0.25  # about four times a second, as Core's harness


class FailedToStartError(Exception):
    """The node exited (or could not be reached) during start-up."""


class ErrorMatch:
    FULL_TEXT = 1
    FULL_REGEX = 2
    PARTIAL_REGEX = 3


class TestNode:
    def __init__(self, i, datadir, *, bindir, binary, chain="regtest", timeout_factor=1.0,
                 rpc_timeout=60, extra_args=None, trace_rpc=False):
        self.index = i
        self.datadir = datadir
        self.chain = chain
        self.bindir = bindir
        self.binary_name = binary
        self.binary = os.path.join(bindir, binary)
        self.timeout_factor = timeout_factor
        self.rpc_timeout = int(rpc_timeout * timeout_factor)
        self.extra_args = list(extra_args or [])
        self.trace_rpc = trace_rpc
        self.args = [self.binary, "-datadir=" + self.datadir, "-debug=ipc"]
        self.process = None
        self.rpc = None
        self.rpc_connected = False
        self.stdout = None
        self.stderr = None
        self.log = logging.getLogger("TestFramework.node%d" % i)
        self.cli = TestNodeCLI(os.path.join(bindir, "bitcoin-cli"), self.datadir)

    # --- paths -----------------------------------------------------------------------------------------
    @property
    def chain_path(self):
        return os.path.join(self.datadir, self.chain)

    @property
    def debug_log_path(self):
        return os.path.join(self.chain_path, "debug.log")

    @property
    def cookie_path(self):
        return os.path.join(self.chain_path, ".cookie")

    @property
    def ipc_socket_path(self):
        return os.path.join(self.chain_path, "node.sock")

    @property
    def rpcport(self):
        return rpc_port(self.index)

    @property
    def p2pport(self):
        return p2p_port(self.index)

    # --- RPC passthrough ---------------------------------------------------------------------------------
    def __getattr__(self, name):
        if name.startswith("__") or name in ("rpc", "process", "cli"):
            raise AttributeError(name)
        if self.rpc is None or not self.rpc_connected:
            raise AssertionError("node %d: RPC not connected (calling %s)" % (self.index, name))
        return getattr(self.rpc, name)

    def rpc_url(self, user, password):
        return "http://%s:%s@127.0.0.1:%d/" % (user, password, self.rpcport)

    def get_rpc_proxy(self, timeout=None):
        creds = read_cookie(self.datadir, self.chain)
        assert creds is not None, "no cookie for node %d" % self.index
        return AuthServiceProxy(self.rpc_url(*creds), timeout=timeout or self.rpc_timeout, trace=self.trace_rpc)

    # --- life cycle ------------------------------------------------------------------------------------
    def start(self, extra_args=None, *, stdout=None, stderr=None, env=None, binary=None):
        """Start the node process (does not wait for RPC)."""
        assert self.process is None or self.process.poll() is not None, "node %d already running" % self.index
        args = list(self.args)
        if binary is not None:
            args[0] = binary
        args += self.extra_args if extra_args is None else list(extra_args)
        if stdout is None:
            stdout = tempfile.NamedTemporaryFile(dir=self.datadir, prefix="stdout", delete=False)
        if stderr is None:
            stderr = tempfile.NamedTemporaryFile(dir=self.datadir, prefix="stderr", delete=False)
        self.stdout = stdout
        self.stderr = stderr
        self.log.debug("starting: %s", " ".join(args))
        self.process = subprocess.Popen(args, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=env)
        self.rpc_connected = False
        self.rpc = None

    def read_stderr(self):
        if self.stderr is None:
            return ""
        self.stderr.flush()
        with open(self.stderr.name, "r", encoding="utf8", errors="replace") as f:
            return f.read()

    def read_stdout(self):
        if self.stdout is None:
            return ""
        self.stdout.flush()
        with open(self.stdout.name, "r", encoding="utf8", errors="replace") as f:
            return f.read()

    def wait_for_rpc_connection(self, timeout=60):
        """Poll until the node answers RPC, tolerating refused connections, a missing cookie and -28."""
        deadline = time.time() + timeout * self.timeout_factor
        last = None
        while time.time() < deadline:
            code = self.process.poll()
            if code is not None:
                raise FailedToStartError(
                    "node %d exited with status %s during start-up; stderr: %r" % (self.index, code, self.read_stderr()))
            creds = read_cookie(self.datadir, self.chain)
            if creds is None:
                last = "no cookie yet"
            else:
                rpc = AuthServiceProxy(self.rpc_url(*creds), timeout=self.rpc_timeout, trace=self.trace_rpc)
                try:
                    rpc.uptime()
                    self.rpc = rpc
                    self.rpc_connected = True
                    self.log.debug("RPC connected")
                    return
                except JSONRPCException as e:
                    rpc.close()
                    if e.error["code"] != -28:
                        raise
                    last = "warming up: %s" % e.error["message"]
                except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected) as e:
                    rpc.close()
                    last = repr(e)
            time.sleep(RPC_POLL_INTERVAL)
        self.kill_process()
        raise FailedToStartError("node %d did not answer RPC within %ss (last: %s)" % (self.index, timeout * self.timeout_factor, last))

    def stop_node(self, expected_stderr="", wait=60):
        """Call `stop`, wait for exit code 0 and check what the node wrote to stderr."""
        self.log.debug("stopping")
        try:
            reply = self.rpc.stop()
            self.log.debug("stop replied %r", reply)
        finally:
            self.rpc.close()
        self.wait_until_stopped(timeout=wait, expected_stderr=expected_stderr)

    def wait_until_stopped(self, *, timeout=60, expected_ret_code=0, expected_stderr=""):
        try:
            code = self.process.wait(timeout=timeout * self.timeout_factor)
        except subprocess.TimeoutExpired:
            self.kill_process()
            raise AssertionError("node %d did not exit within %ss" % (self.index, timeout * self.timeout_factor))
        self.rpc_connected = False
        self.rpc = None
        stderr = self.read_stderr().strip()
        if code != expected_ret_code:
            raise AssertionError("node %d exited with status %d (expected %d); stderr: %r" % (self.index, code, expected_ret_code, stderr))
        if stderr != expected_stderr:
            raise AssertionError("unexpected stderr of node %d: %r (expected %r)" % (self.index, stderr, expected_stderr))
        return code

    def is_running(self):
        return self.process is not None and self.process.poll() is None

    def kill_process(self):
        """SIGKILL the node if it is still running, and reap it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        if self.rpc is not None:
            self.rpc.close()
        self.rpc = None
        self.rpc_connected = False

    def send_signal(self, sig):
        self.process.send_signal(sig)

    # --- assertions ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def assert_debug_log(self, expected_msgs, unexpected_msgs=None, timeout=2):
        """Assert that debug.log lines written inside the block contain each expected message
        (and none of the unexpected ones). Waits up to `timeout` seconds after the block for lines to appear."""
        unexpected_msgs = unexpected_msgs or []
        try:
            with open(self.debug_log_path, "rb") as f:
                f.seek(0, 2)
                prev_size = f.tell()
        except FileNotFoundError:
            prev_size = 0
        yield
        deadline = time.time() + timeout * self.timeout_factor
        while True:
            with open(self.debug_log_path, "rb") as f:
                f.seek(prev_size)
                log = f.read().decode("utf8", errors="replace")
            for msg in unexpected_msgs:
                if msg in log:
                    raise AssertionError("unexpected message %r found in debug.log:\n%s" % (msg, log))
            missing = [m for m in expected_msgs if _find(m, log) is None]
            if not missing:
                return log
            if time.time() >= deadline:
                raise AssertionError("expected messages %r not found in debug.log lines written in the block:\n%s" % (missing, log))
            time.sleep(0.05)

    def assert_start_raises_init_error(self, extra_args=None, expected_msg=None, match=ErrorMatch.FULL_TEXT, timeout=60):
        """Start the node with extra_args and assert that it fails start-up with exit code 1 and expected_msg on stderr."""
        with tempfile.NamedTemporaryFile(dir=self.datadir, prefix="init_err_stderr", delete=False) as log_stderr:
            self.start(extra_args, stderr=log_stderr)
            try:
                code = self.process.wait(timeout=timeout * self.timeout_factor)
            except subprocess.TimeoutExpired:
                self.kill_process()
                raise AssertionError("bitcoin-node should have exited with an error (%s)" % extra_args)
            self.process = None
            stderr = self.read_stderr().strip()
        if code != 1:
            raise AssertionError("expected exit code 1 from start-up error, got %d (stderr %r)" % (code, stderr))
        if expected_msg is not None:
            if match == ErrorMatch.PARTIAL_REGEX:
                ok = re.search(expected_msg, stderr, flags=re.MULTILINE) is not None
            elif match == ErrorMatch.FULL_REGEX:
                ok = re.fullmatch(expected_msg, stderr) is not None
            else:
                ok = expected_msg == stderr
            if not ok:
                raise AssertionError("expected start-up error %r, got %r" % (expected_msg, stderr))
        return stderr


def arg_to_cli(arg):
    """A Python value as bitcoin-cli takes it on its command line (Core's framework does the same)."""
    if isinstance(arg, bool):
        return str(arg).lower()
    if arg is None:
        return "null"
    if isinstance(arg, (dict, list)):
        return json.dumps(arg, default=_json_decimal)
    return str(arg)


def _json_decimal(o):
    if isinstance(o, decimal.Decimal):
        return float(o) if o != o.to_integral_value() else int(o)
    raise TypeError(repr(o) + " is not JSON serializable")


class TestNodeCLIAttr:
    def __init__(self, cli, command):
        self.cli = cli
        self.command = command

    def __call__(self, *args, **kwargs):
        return self.cli.send_cli(self.command, *args, **kwargs)


class TestNodeCLI:
    """bitcoin-cli run against a node, as Core's TestNodeCLI: `node.cli.echo("a")`, `node.cli("-rpcwait").uptime()`.

    A result is decoded as JSON (floats as Decimal) when it is JSON, else returned as the printed text; a failure with
    `error code:` / `error message:` lines raises JSONRPCException, any other failure CalledProcessError."""

    def __init__(self, binary, datadir):
        self.binary = binary
        self.datadir = datadir
        self.options = []
        self.input = None
        self.log = logging.getLogger("TestFramework.bitcoincli")

    def __call__(self, *options, input=None):
        cli = TestNodeCLI(self.binary, self.datadir)
        cli.options = [str(o) for o in options]
        cli.input = input
        return cli

    def __getattr__(self, command):
        if command.startswith("__"):
            raise AttributeError(command)
        return TestNodeCLIAttr(self, command)

    def command_line(self, *args):
        return [self.binary, "-datadir=" + self.datadir] + self.options + [str(a) for a in args]

    def run(self, *args, timeout=120):
        """Run bitcoin-cli with the options and `args` as given; return the CompletedProcess (text)."""
        cmd = self.command_line(*args)
        self.log.debug("running %s", cmd)
        return subprocess.run(cmd, input=self.input or "", capture_output=True, text=True, encoding="utf8", timeout=timeout)

    def send_cli(self, clicommand=None, *args, **kwargs):
        pos_args = [arg_to_cli(arg) for arg in args]
        named_args = ["%s=%s" % (key, arg_to_cli(value)) for key, value in kwargs.items() if value is not None]
        cli_args = (["-named"] if named_args else []) + ([clicommand] if clicommand is not None else []) + pos_args + named_args
        result = self.run(*cli_args)
        if result.returncode:
            match = re.match(r"error code: ([-0-9]+)\nerror message:\n(.*)", result.stderr, re.DOTALL)
            if match:
                code, message = match.groups()
                raise JSONRPCException(dict(code=int(code), message=message.rstrip("\n")))
            raise subprocess.CalledProcessError(result.returncode, self.binary, output=result.stderr)
        try:
            return json.loads(result.stdout, parse_float=decimal.Decimal)
        except (json.JSONDecodeError, decimal.InvalidOperation):
            return result.stdout.rstrip("\n")


def _find(msg, log):
    idx = log.find(msg)
    return None if idx < 0 else idx
