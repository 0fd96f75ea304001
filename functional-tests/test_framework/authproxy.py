#!/usr/bin/env python3
"""A JSON-RPC 2.0 client over http.client, in the manner of Core's AuthServiceProxy.

- HTTP basic auth (user:password, usually from the node's cookie), one persistent connection.
- JSON floats are decoded as Decimal.
- An error reply raises JSONRPCException with the node's code and message; pseudo-codes:
  -342 reply not JSON (or non-200 without JSON), -343 reply without a result, -344 timeout.
- node.echo("a", 1) calls method "echo" positionally; node.echo(arg0="a") uses named parameters;
  node.foo.bar calls "foo.bar".
"""

import base64
import decimal
import http.client
import itertools
import json
import logging
import socket
import time
import urllib.parse

USER_AGENT = "AuthServiceProxy/0.1"
HTTP_TIMEOUT = 30

log = logging.getLogger("BitcoinRPC")


class JSONRPCException(Exception):
    def __init__(self, rpc_error, http_status=None):
        try:
            errmsg = "%(message)s (%(code)i)" % rpc_error
        except (KeyError, TypeError):
            errmsg = ""
        super().__init__(errmsg)
        self.error = rpc_error
        self.http_status = http_status


def _encode_decimal(o):
    if isinstance(o, decimal.Decimal):
        return float(o)
    raise TypeError(repr(o) + " is not JSON serializable")


class AuthServiceProxy:
    __id_count = itertools.count(1)

    def __init__(self, service_url, service_name=None, timeout=HTTP_TIMEOUT, connection=None, trace=False):
        self.__service_url = service_url
        self._service_name = service_name
        self.__url = urllib.parse.urlparse(service_url)
        self.timeout = timeout
        self.trace = trace
        user = urllib.parse.unquote(self.__url.username or "")
        passwd = urllib.parse.unquote(self.__url.password or "")
        self.__auth_header = b"Basic " + base64.b64encode(("%s:%s" % (user, passwd)).encode("utf8"))
        self.__conn = connection

    @property
    def auth_header(self):
        return self.__auth_header.decode("ascii")

    @property
    def url(self):
        return self.__url

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if self._service_name is not None:
            name = "%s.%s" % (self._service_name, name)
        return AuthServiceProxy(self.__service_url, name, self.timeout, self.__conn_shared(), self.trace)

    def __conn_shared(self):
        # Children created through attribute access share the parent's connection holder.
        if self.__conn is None:
            self.__conn = _ConnHolder(self.__url, self.timeout)
        return self.__conn

    def close(self):
        if self.__conn is not None:
            self.__conn.close()

    def _request(self, method, path, postdata):
        """Send one request on the persistent connection; return the parsed JSON reply (or None for 204)."""
        headers = {
            "Host": self.__url.hostname,
            "User-Agent": USER_AGENT,
            "Authorization": self.__auth_header,
            "Content-type": "application/json",
        }
        holder = self.__conn_shared()
        self._t0 = time.time()
        try:
            response = holder.request(method, path, postdata, headers, self.timeout)
        except (socket.timeout, TimeoutError):
            holder.close()
            raise JSONRPCException({
                "code": -344,
                "message": "%r RPC took longer than %f seconds. Consider using larger timeout for calls that take longer to return." % (self._service_name, self.timeout),
            })
        return self._get_response(response)

    def get_request(self, *args, **argsn):
        if args and argsn:
            raise ValueError("Cannot handle both named and positional arguments")
        req = {
            "jsonrpc": "2.0",
            "method": self._service_name,
            "params": args or argsn,
            "id": next(AuthServiceProxy.__id_count),
        }
        if self.trace:
            log.debug("-%s-> %s %s" % (req["id"], self._service_name, _short(json.dumps(args or argsn, default=_encode_decimal))))
        return req

    def __call__(self, *args, **argsn):
        postdata = json.dumps(self.get_request(*args, **argsn), default=_encode_decimal, ensure_ascii=False)
        status, response = self._request("POST", self.__url.path or "/", postdata.encode("utf-8"))
        if not isinstance(response, dict):
            raise JSONRPCException({"code": -342, "message": "non-JSON HTTP response with '%d' from server" % status}, status)
        if response.get("error") is not None:
            raise JSONRPCException(response["error"], status)
        if "result" not in response:
            raise JSONRPCException({"code": -343, "message": "missing JSON-RPC result"}, status)
        if status != 200:
            raise JSONRPCException({"code": -342, "message": "non-200 HTTP status code %d with a result" % status}, status)
        return response["result"]

    def batch(self, rpc_call_list):
        postdata = json.dumps(list(rpc_call_list), default=_encode_decimal, ensure_ascii=False)
        if self.trace:
            log.debug("--> " + _short(postdata))
        status, response = self._request("POST", self.__url.path or "/", postdata.encode("utf-8"))
        if status != 200:
            raise JSONRPCException({"code": -342, "message": "non-200 HTTP status code %d" % status}, status)
        return response

    def _get_response(self, http_response):
        status = http_response.status
        t0 = getattr(self, "_t0", time.time())
        body = http_response.read()
        content_type = http_response.getheader("Content-Type")
        if status == 204:
            return status, None
        if content_type != "application/json":
            raise JSONRPCException({
                "code": -342,
                "message": "non-JSON HTTP response with '%d %s' from server: %r" % (status, http_response.reason, body[:200]),
            }, status)
        try:
            response = json.loads(body.decode("utf8"), parse_float=decimal.Decimal)
        except ValueError as e:
            raise JSONRPCException({"code": -342, "message": "invalid JSON in reply: %s" % e}, status)
        if self.trace:
            elapsed = time.time() - t0
            if isinstance(response, dict) and response.get("error") is None:
                log.debug("<-%s- [%.6f] %s" % (response.get("id"), elapsed, _short(json.dumps(response.get("result"), default=_encode_decimal))))
            else:
                log.debug("<-- [%.6f] %s" % (elapsed, _short(json.dumps(response, default=_encode_decimal))))
        return status, response


class _ConnHolder:
    """The single persistent HTTP connection, shared by a proxy and the proxies derived from it."""

    def __init__(self, url, timeout):
        self.url = url
        self.timeout = timeout
        self.conn = None

    def _connect(self, timeout):
        port = self.url.port or 80
        self.conn = http.client.HTTPConnection(self.url.hostname, port, timeout=timeout)

    def request(self, method, path, body, headers, timeout):
        if self.conn is None:
            self._connect(timeout)
        self.conn.timeout = timeout
        if self.conn.sock is not None:
            self.conn.sock.settimeout(timeout)
        try:
            self.conn.request(method, path, body, headers)
        except (BrokenPipeError, ConnectionResetError):
            # The server closed the kept-alive connection between requests: send once more on a fresh one.
            self.close()
            self._connect(timeout)
            self.conn.request(method, path, body, headers)
        try:
            return self.conn.getresponse()
        except http.client.RemoteDisconnected:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _short(s, limit=2000):
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)
