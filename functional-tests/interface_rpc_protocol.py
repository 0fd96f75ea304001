#!/usr/bin/env python3
"""JSON-RPC protocol: legacy (1.0) and 2.0 reply shapes and HTTP status codes, batches, notifications (204),
named-parameter errors (-8), unknown methods (-32601; HTTP 404 on legacy), parse errors (500), invalid requests."""

import base64
import http.client
import json

from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal, read_cookie


class RPCProtocolTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1

    def post(self, body):
        """POST body (a JSON-able value, or str/bytes sent as is); return (status, parsed JSON or None, raw bytes)."""
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.conn.request("POST", "/", body, {"Authorization": self.auth})
        r = self.conn.getresponse()
        raw = r.read()
        parsed = None
        if r.getheader("Content-Type") == "application/json":
            parsed = json.loads(raw)
        return r.status, parsed, raw

    def expect(self, body, status, reply):
        got_status, got, raw = self.post(body)
        assert_equal((got_status, got), (status, reply))
        return raw

    def run_test(self):
        node = self.nodes[0]
        user, password = read_cookie(node.datadir)
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.conn = http.client.HTTPConnection("127.0.0.1", node.rpcport, timeout=30)

        self.log.info("legacy (no jsonrpc, null, or 1.0) success and error shapes")
        raw = self.expect({"method": "echo", "params": ["a"], "id": 1}, 200, {"result": ["a"], "error": None, "id": 1})
        assert_equal(raw, b'{"result":["a"],"error":null,"id":1}\n')
        self.expect({"jsonrpc": None, "method": "echo", "id": "x"}, 200, {"result": [], "error": None, "id": "x"})
        self.expect({"jsonrpc": "1.0", "method": "echo", "id": None}, 200, {"result": [], "error": None, "id": None})
        # a legacy request without id gets a reply without id
        self.expect({"method": "echo", "params": [1]}, 200, {"result": [1], "error": None})
        self.expect({"method": "nosuch", "id": 2}, 404,
                    {"result": None, "error": {"code": -32601, "message": "Method not found"}, "id": 2})
        self.expect({"method": 5, "id": 3}, 400,
                    {"result": None, "error": {"code": -32600, "message": "Method must be a string"}, "id": 3})
        status, got, raw = self.post({"method": "echo", "params": {"bad": 1}, "id": 4})
        assert_equal((status, got["result"], got["error"]["code"], got["id"]), (500, None, -8, 4))
        assert_equal(raw[:len(b'{"result":null,"error":{')], b'{"result":null,"error":{')

        self.log.info("2.0 success and errors: always HTTP 200")
        raw = self.expect({"jsonrpc": "2.0", "method": "echo", "params": ["b"], "id": 5}, 200,
                          {"jsonrpc": "2.0", "result": ["b"], "id": 5})
        assert_equal(raw, b'{"jsonrpc":"2.0","result":["b"],"id":5}\n')
        raw = self.expect({"jsonrpc": "2.0", "method": "nosuch", "id": 6}, 200,
                          {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 6})
        assert_equal(raw, b'{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":6}\n')
        self.expect({"jsonrpc": "2.0", "method": "echo", "id": None}, 200, {"jsonrpc": "2.0", "result": [], "id": None})
        self.expect({"jsonrpc": "2.0", "method": "echo", "params": None, "id": 7}, 200, {"jsonrpc": "2.0", "result": [], "id": 7})

        self.log.info("notifications: 2.0 without id runs and gets 204, no body")
        status, got, raw = self.post({"jsonrpc": "2.0", "method": "echo", "params": ["n"]})
        assert_equal((status, raw), (204, b""))
        status, got, raw = self.post({"jsonrpc": "2.0", "method": "nosuch"})
        assert_equal((status, raw), (204, b""))

        self.log.info("invalid request objects: -32600")
        for req, msg in (
            ({"jsonrpc": 2, "method": "echo", "id": 1}, "jsonrpc field must be a string"),
            ({"jsonrpc": "3.0", "method": "echo", "id": 1}, "JSON-RPC version not supported"),
            ({"jsonrpc": "2.0", "id": 1}, "Missing method"),
            ({"jsonrpc": "2.0", "method": [], "id": 1}, "Method must be a string"),
            ({"jsonrpc": "2.0", "method": "echo", "params": "x", "id": 1}, "Params must be an array or object"),
        ):
            status, got, raw = self.post(req)
            assert_equal(got["error"], {"code": -32600, "message": msg})
            assert status in (200, 400), (req, status)
        status, got, raw = self.post({"method": "echo", "params": 7, "id": 1})
        assert_equal((status, got["error"]), (400, {"code": -32600, "message": "Params must be an array or object"}))

        self.log.info("batches: array of replies, notifications omitted, [] gives [], all notifications 204")
        status, got, raw = self.post([
            {"jsonrpc": "2.0", "method": "echo", "params": [1], "id": 1},
            {"jsonrpc": "2.0", "method": "echo", "params": [2]},
            {"method": "echo", "params": [3], "id": 3},
            {"jsonrpc": "2.0", "method": "nosuch", "id": 4},
            {"method": "nosuch", "id": 5},
            5,
        ])
        assert_equal(status, 200)
        assert_equal(got[:5], [
            {"jsonrpc": "2.0", "result": [1], "id": 1},
            {"result": [3], "error": None, "id": 3},
            {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 4},
            {"result": None, "error": {"code": -32601, "message": "Method not found"}, "id": 5},
            got[4],
        ])
        assert_equal(len(got), 5)
        assert_equal(got[4]["error"]["code"], -32600)
        self.expect([], 200, [])
        status, got, raw = self.post([{"jsonrpc": "2.0", "method": "echo"}, {"jsonrpc": "2.0", "method": "echo", "params": [1]}])
        assert_equal((status, raw), (204, b""))

        self.log.info("named parameters: -8 errors")
        def named(params):
            return self.post({"jsonrpc": "2.0", "method": "echo", "params": params, "id": 1})[1]
        assert_equal(named({"arg0": "a", "arg2": "c"})["result"], ["a", None, "c"])
        assert_equal(named({"nope": 1})["error"], {"code": -8, "message": "Unknown named parameter nope"})
        assert_equal(named({"args": ["a"], "arg0": "b"})["error"],
                     {"code": -8, "message": "Parameter arg0 specified twice both as positional and named argument"})
        status, got, raw = self.post(b'{"jsonrpc":"2.0","method":"echo","params":{"arg0":1,"arg0":2},"id":1}')
        assert_equal(got["error"], {"code": -8, "message": "Parameter arg0 specified multiple times"})

        self.log.info("parse errors: HTTP 500, legacy shape, id null")
        parse_error = {"result": None, "error": {"code": -32700, "message": "Parse error"}, "id": None}
        for body in (b"", b"{", b"not json", b'{"method":"echo","id":1} x', b'{"jsonrpc":"2.0","method":"echo","id":1}}'):
            self.expect(body, 500, parse_error)
        for body in (b"1", b'"s"', b"null"):
            status, got, raw = self.post(body)
            assert_equal((status, got["error"]), (500, {"code": -32700, "message": "Top-level object parse error"}))
        self.expect(b"[" * 600 + b"]" * 600, 500, parse_error)

        self.log.info("the connection survived all of this")
        self.expect({"jsonrpc": "2.0", "method": "echo", "params": ["end"], "id": 9}, 200,
                    {"jsonrpc": "2.0", "result": ["end"], "id": 9})
        self.conn.close()


if __name__ == '__main__':
    RPCProtocolTest(__file__).main()
