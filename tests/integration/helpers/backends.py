"""Small HTTP backends on 127.0.0.1 that answer with their own name, and a client that counts who answered."""

from __future__ import annotations

import collections
import http.server
import threading
import time
import typing as t

import requests


class _NamedHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self.server.count_hit()  # type: ignore[attr-defined]
        body = self.server.backend_name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: t.Any) -> None:  # pylint: disable=redefined-builtin
        pass


class _CountingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str) -> None:
        super().__init__(('127.0.0.1', 0), _NamedHandler)
        self.backend_name = name
        self.hits = 0
        self._lock = threading.Lock()

    def count_hit(self) -> None:
        with self._lock:
            self.hits += 1


class NamedBackend:
    """An HTTP server in a thread of this process whose every answer is its name; ``hits`` counts requests."""

    def __init__(self, name: str) -> None:
        self.server = _CountingServer(name)
        self.name = name
        self.address = '127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def hits(self) -> int:
        return self.server.hits

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def count_answers(url: str, requests_count: int, cookies: t.Callable[[int], dict[str, str]] | None = None) -> collections.Counter:
    """Who answered each of ``requests_count`` sequential GETs; failures are counted under 'error <status>'."""
    answers: collections.Counter = collections.Counter()
    with requests.Session() as session:
        for index in range(requests_count):
            response = session.get(url, cookies=cookies(index) if cookies else None, timeout=5)
            answers[response.text if response.status_code == 200 else 'error %d' % response.status_code] += 1
    return answers


class SteadyLoad:
    """Requests in a loop from a thread, bounded in count and time, recording every failure.

    With ``keepalive=False`` each request has its own connection, so a failure is a request nginx
    accepted and dropped. A graceful reload also closes idle keep-alive connections, and a client
    that reuses one at that instant gets no response: browsers retry such an idempotent request on
    a new connection (RFC 9112, 9.3.1); ``keepalive=True`` does the same and counts those retries.
    """

    def __init__(self, url: str, max_requests: int = 20000, max_seconds: float = 60, keepalive: bool = False,
                 pause: float = 0, timeout: float = 5) -> None:
        self.url = url
        self.timeout = timeout
        self.pause = pause
        self.keepalive = keepalive
        self.stale_retries = 0
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.answers: collections.Counter = collections.Counter()
        self.failures: list[str] = []
        # Seconds from the start of the loop to each failure, to tell when in a run the requests failed.
        self.failure_times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        started = time.monotonic()
        deadline = started + self.max_seconds
        with requests.Session() as session:
            for _index in range(self.max_requests):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                try:
                    response = self._get(session)
                except requests.RequestException as exc:
                    self._failed(repr(exc), started)
                    continue
                if response.status_code == 200:
                    self.answers[response.text] += 1
                else:
                    self._failed('HTTP %d' % response.status_code, started)
                if self.pause:
                    time.sleep(self.pause)

    def _failed(self, what: str, started: float) -> None:
        self.failure_times.append(round(time.monotonic() - started, 3))
        self.failures.append(what)

    def _get(self, session: requests.Session) -> requests.Response:
        if not self.keepalive:
            return session.get(self.url, headers={'Connection': 'close'}, timeout=self.timeout)
        try:
            return session.get(self.url, timeout=self.timeout)
        except requests.ConnectionError as exc:
            if 'RemoteDisconnected' not in repr(exc):
                raise
            self.stale_retries += 1
            return session.get(self.url, timeout=self.timeout)

    def __enter__(self) -> 'SteadyLoad':
        self._thread.start()
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def total(self) -> int:
        return sum(self.answers.values()) + len(self.failures)
