"""A Mail Send stand-in on 127.0.0.1 that injects faults, for tests and benchmarks.

Each request's email key (``custom_args.key`` of the first personalization) picks
the next action from ``plan[key]`` (default: accept):

  "202"    accept, with an X-Message-Id
  "429"    rate limited, X-RateLimit-Reset a fraction of a second ahead
  "500" / "503" / "400" / "401" / "413"   answer with that status
  "slow"   read the request, then answer only after ``slow_seconds`` (beyond the client timeout)
  "drop"   read the request, then close the connection without answering
  "chunked"  accept, the answer's body sent with Transfer-Encoding: chunked
  "400-chunked"  refuse with 400, the error body in two chunks
  "close"  accept, with ``Connection: close`` (the client must open a new connection)
  "401-echo" / "502-echo"  refuse, echoing the request's Authorization header in the body
           (as a careless server or proxy does)

It counts what it received per key and what it accepted per key, so a test can
prove "no duplicate, no loss" from the server's side, and the client connections it
served (``connections``). A connection idle for ``idle_timeout`` seconds is closed,
as real servers do with kept-alive connections.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: a client opening its 64 kept-alive connections at
    # once overflowed it, and requests sat unanswered past the client's timeout (`unknown`),
    # a fault of the stand-in, not of the client. Real servers' backlogs are far longer.
    request_queue_size = 256


class FaultServer:
    def __init__(self, plan: dict[str, list[str]] | None = None, slow_seconds: float = 2.0,
                 idle_timeout: float | None = None):
        self.plan = defaultdict(list, {k: list(v) for k, v in (plan or {}).items()})
        self.slow_seconds = slow_seconds
        self.received: Counter = Counter()
        self.accepted: Counter = Counter()
        self.accepted_at: dict[str, float] = {}  #: key -> time.time() of its first acceptance
        self.auth_headers: set[str] = set()
        self.connections: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like the real API
            timeout = idle_timeout

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                key = body.get("personalizations", [{}])[0].get("custom_args", {}).get("key", "?")
                with server._lock:
                    server.received[key] += 1
                    server.auth_headers.add(self.headers.get("Authorization", ""))
                    server.connections.add(self.client_address)
                    action = server.plan[key].pop(0) if server.plan[key] else "202"
                if action == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if action == "slow":
                    time.sleep(server.slow_seconds)
                    action = "202"
                if action in ("202", "chunked", "close"):
                    with server._lock:
                        server.accepted[key] += 1
                        server.accepted_at.setdefault(key, time.time())
                    if action == "chunked":
                        self.send_response(202)
                        self.send_header("X-Message-Id", f"msg-{key}")
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        self.wfile.write(b"5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n")
                        return
                    if action == "close":
                        self.close_connection = True
                    self._answer(202, b"", {"X-Message-Id": f"msg-{key}",
                                            **({"Connection": "close"} if action == "close" else {})})
                elif action == "400-chunked":
                    self.send_response(400)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(b'b\r\n{"errors":[\r\n1a\r\n{"message":"two chunks"}]}\r\n0\r\n\r\n')
                elif action.endswith("-echo"):
                    echoed = json.dumps({"errors": [{"message": "denied", "request_headers": {
                        "Authorization": self.headers.get("Authorization", "")}}]}).encode()
                    self._answer(int(action[:3]), echoed, {})
                elif action == "429":
                    self._answer(429, b'{"errors":[{"message":"too many requests"}]}',
                                 {"X-RateLimit-Reset": f"{time.time() + 0.2:.3f}"})
                else:
                    self._answer(int(action), b'{"errors":[{"message":"injected"}]}', {})

            def _answer(self, status, body, headers):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
