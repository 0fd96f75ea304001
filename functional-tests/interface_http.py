#!/usr/bin/env python3
"""HTTP layer: 401 without / with wrong credentials (wrong ones after >= 0.25 s), 405 for GET, 404 for other
paths, keep-alive (several requests on one connection), Content-Type and trailing newline of JSON replies."""

import base64
import http.client
import json
import time

from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal, assert_greater_than_or_equal, read_cookie


class HTTPBasicsTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.nodes[0].rpcport, timeout=30)

    def run_test(self):
        node = self.nodes[0]
        user, password = read_cookie(node.datadir)
        good = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        wrong = "Basic " + base64.b64encode(("%s:%s" % (user, password[:-1] + ("0" if password[-1] != "0" else "1"))).encode()).decode()
        body = '{"jsonrpc":"2.0","method":"echo","params":["hi"],"id":1}'

        self.log.info("no Authorization header: 401 at once, WWW-Authenticate, no body")
        c = self.conn()
        c.request("POST", "/", body)
        r = c.getresponse()
        assert_equal(r.status, 401)
        assert_equal(r.getheader("WWW-Authenticate"), 'Basic realm="jsonrpc"')
        assert_equal(r.read(), b"")
        c.close()

        self.log.info("wrong password: 401 after at least 0.25 s, and logged")
        with node.assert_debug_log(["incorrect password attempt from 127.0.0.1"]):
            for auth in (wrong, "Basic " + base64.b64encode(b"nocolon").decode(), "Bearer abc", "Basic !!!notbase64"):
                c = self.conn()
                t0 = time.monotonic()
                c.request("POST", "/", body, {"Authorization": auth})
                r = c.getresponse()
                r.read()
                elapsed = time.monotonic() - t0
                assert_equal(r.status, 401)
                if auth == wrong:
                    assert_greater_than_or_equal(elapsed, 0.25)
                c.close()

        self.log.info("GET: 405 with Core's text; other paths: 404")
        c = self.conn()
        c.request("GET", "/", headers={"Authorization": good})
        r = c.getresponse()
        assert_equal(r.status, 405)
        assert_equal(r.read().decode().strip(), "JSONRPC server handles only POST requests")
        c.close()
        for path in ("/other", "/wallet", "/rest/chaininfo.json", "//"):
            c = self.conn()
            c.request("POST", path, body, {"Authorization": good})
            r = c.getresponse()
            assert r.status == 404, (path, r.status)
            r.read()
            c.close()
        c = self.conn()
        c.request("POST", "/wallet/w1", body, {"Authorization": good})
        r = c.getresponse()
        assert r.status != 404, "/wallet/<name> is an accepted path"
        r.read()
        c.close()

        self.log.info("keep-alive: several requests on one connection, with a content type never checked")
        c = self.conn()
        c.request("POST", "/", body, {"Authorization": good})
        r = c.getresponse()
        assert_equal(r.status, 200)
        assert_equal(r.getheader("Content-Type"), "application/json")
        raw = r.read()
        assert raw.endswith(b"\n"), raw
        assert_equal(json.loads(raw), {"jsonrpc": "2.0", "result": ["hi"], "id": 1})
        sock = c.sock
        assert sock is not None
        for i in range(5):
            c.request("POST", "/", json.dumps({"jsonrpc": "2.0", "method": "echo", "params": [i], "id": i}),
                      {"Authorization": good, "Content-Type": "text/plain"})
            r = c.getresponse()
            assert_equal(r.status, 200)
            assert_equal(json.loads(r.read())["result"], [i])
            assert c.sock is sock, "connection was not kept alive"
        # an error reply keeps the connection too
        c.request("POST", "/", '{"jsonrpc":"2.0","method":"nosuch","id":9}', {"Authorization": good})
        r = c.getresponse()
        assert_equal(r.status, 200)
        assert_equal(json.loads(r.read())["error"]["code"], -32601)
        c.request("POST", "/", body, {"Authorization": good})
        r = c.getresponse()
        assert_equal(r.status, 200)
        r.read()
        assert c.sock is sock, "connection was not kept alive"
        c.close()

        self.log.info("Connection: close is honoured")
        c = self.conn()
        c.request("POST", "/", body, {"Authorization": good, "Connection": "close"})
        r = c.getresponse()
        assert_equal(r.status, 200)
        r.read()
        assert r.will_close, "server kept a Connection: close connection open"
        c.close()


if __name__ == '__main__':
    HTTPBasicsTest(__file__).main()
