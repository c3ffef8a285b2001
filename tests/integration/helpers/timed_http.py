"""A real HTTP service with timed behaviour, run as its own process: readiness that comes N seconds after
the first request, responses that take N seconds, a port that accepts no connection, and a login that
returns a token. Every request is logged as one JSON line (time, path, status) for the tests to read."""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import typing as t
import urllib.error
import urllib.parse
import urllib.request

# Bounds, so that a test that goes wrong still ends.
MAX_DELAY = 30.0


class Handler(http.server.BaseHTTPRequestHandler):
    server: 'Server'

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Requests are logged as JSON lines instead (see log())."""

    def do_GET(self):  # pylint: disable=invalid-name
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == '/ready':
            self.ready(float(query.get('after', '0')))
        elif url.path == '/slow':
            time.sleep(min(float(query.get('seconds', '0')), MAX_DELAY))
            self.answer(200, '# a slow endpoint\n', 'text/plain')
        elif url.path == '/echo':
            self.answer(200, json.dumps({'authorization': self.headers.get('Authorization', ''),
                                         'x_api_key': self.headers.get('X-Api-Key', ''),
                                         'x_env': self.headers.get('X-Env', '')}))
        else:
            self.answer(404, '{"error": "not found"}')

    def do_POST(self):  # pylint: disable=invalid-name
        length = int(self.headers.get('Content-Length') or 0)
        self.rfile.read(length)
        if self.path == '/login':
            self.answer(200, json.dumps(self.server.login))
        else:
            self.answer(404, '{"error": "not found"}')

    def ready(self, after: float) -> None:
        with self.server.lock:
            first = self.server.first_ready_request = self.server.first_ready_request or time.time()
        if time.time() >= first + min(after, MAX_DELAY):
            self.answer(200, '{"status": "ok"}')
        else:
            self.answer(503, '{"status": "starting"}')

    def answer(self, status: int, body: str, content_type: str = 'application/json') -> None:
        payload = body.encode()
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.server.log(self.command, self.path, status)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, log_path: str, login: dict[str, t.Any]):
        super().__init__(('127.0.0.1', port), Handler)
        self.lock = threading.Lock()
        self.first_ready_request: float | None = None
        self.log_path = log_path
        self.login = login

    def handle_error(self, request, client_address):
        """A client that gave up on a slow answer is expected here, not an error to print."""

    def log(self, method: str, path: str, status: int) -> None:
        with self.lock, open(self.log_path, 'a', encoding='utf-8') as stream:
            stream.write(json.dumps({'time': time.time(), 'method': method, 'path': path, 'status': status}) + '\n')


def black_hole() -> list[socket.socket]:
    """A listening port whose accept queue is full, so a new connection waits for its SYN to be answered.
    Returns the listener first, then the connections that fill its queue (all must stay open)."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(0)
    fillers = [socket.socket() for count in range(8)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
    return [listener] + fillers


def main() -> None:
    port, log_path, login = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    hole = black_hole()
    with open(log_path + '.blackhole', 'w', encoding='utf-8') as stream:
        stream.write(str(hole[0].getsockname()[1]))
    Server(port, log_path, login).serve_forever()


@dataclasses.dataclass
class TimedService:
    """The running service, as the tests see it."""
    url: str
    log_path: str
    black_hole_port: int
    process: subprocess.Popen

    def requests(self) -> list[dict[str, t.Any]]:
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path, encoding='utf-8') as stream:
            return [json.loads(line) for line in stream]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def start(port: int, log_path: str, login: dict[str, t.Any]) -> TimedService:
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), str(port), log_path, json.dumps(login)])
    url = 'http://127.0.0.1:%d' % port
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + '/started', timeout=2):
                pass
        except urllib.error.HTTPError:
            break  # 404: it answers
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError('the timed HTTP service did not start on port %d' % port) from None
            time.sleep(0.05)
    with open(log_path + '.blackhole', encoding='utf-8') as stream:
        black_hole_port = int(stream.read())
    return TimedService(url, log_path, black_hole_port, process)


if __name__ == '__main__':
    main()
