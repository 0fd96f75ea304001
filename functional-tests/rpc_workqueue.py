#!/usr/bin/env python3
"""-rpcthreads=1 -rpcworkqueue=1: concurrent slow requests overflow the work queue, and the overflow is answered
with HTTP 503 `Work queue depth exceeded` (and logged); the accepted requests complete and the node keeps serving."""

import base64
import http.client
import json
import threading

from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal, read_cookie

CONCURRENT = 10
BIG = 4 * 1024 * 1024


class RPCWorkQueueTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1
        self.extra_args = [["-rpcthreads=1", "-rpcworkqueue=1"]]

    def one_request(self, body, barrier, results, i):
        conn = http.client.HTTPConnection("127.0.0.1", self.nodes[0].rpcport, timeout=60)
        try:
            conn.connect()
            barrier.wait(timeout=30)
            conn.request("POST", "/", body, {"Authorization": self.auth})
            r = conn.getresponse()
            results[i] = (r.status, r.getheader("Content-Type"), r.read())
        except Exception as e:  # a reset connection counts as a result too; reported below
            results[i] = ("exception", None, repr(e).encode())
        finally:
            conn.close()

    def burst(self, make_body):
        barrier = threading.Barrier(CONCURRENT)
        results = [None] * CONCURRENT
        threads = [threading.Thread(target=self.one_request, args=(make_body(i), barrier, results, i)) for i in range(CONCURRENT)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        return results

    def run_test(self):
        node = self.nodes[0]
        user, password = read_cookie(node.datadir)
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()

        def slow_body(i):
            if self.options.binary == "bitcoin-node":
                # each echoipc spawns and reaps a child process: hundreds of milliseconds
                req = {"jsonrpc": "2.0", "method": "echoipc", "params": ["slow %d" % i], "id": i}
            else:
                req = {"jsonrpc": "2.0", "method": "echo", "params": [chr(ord("a") + i) * BIG], "id": i}
            return json.dumps(req).encode()

        self.log.info("%d concurrent slow requests with one worker and a queue of one", CONCURRENT)
        saw_503 = False
        with node.assert_debug_log(["WARNING: request rejected because http work queue depth exceeded, it can be increased with the -rpcworkqueue= setting"], timeout=5):
            for attempt in range(3):
                results = self.burst(slow_body)
                statuses = [r[0] for r in results]
                self.log.info("attempt %d: statuses %s", attempt, statuses)
                for i, (status, ctype, body) in enumerate(results):
                    assert status in (200, 503), (i, status, body[:200])
                    if status == 503:
                        saw_503 = True
                        assert_equal(body.decode().strip(), "Work queue depth exceeded")
                    else:
                        reply = json.loads(body)
                        assert_equal(reply["id"], i)
                        assert "error" not in reply, reply
                assert 200 in statuses, "no request was served"
                if saw_503:
                    break
        assert saw_503, "no request was refused with 503"

        self.log.info("the node still serves requests afterwards")
        assert_equal(node.echo("after"), ["after"])
        assert_equal(node.echoipc("after"), "after")


if __name__ == '__main__':
    RPCWorkQueueTest(__file__).main()
