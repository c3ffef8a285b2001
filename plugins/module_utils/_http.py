# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network boundary of smoke_test: one HTTP request or one TCP connect, measured."""

from __future__ import annotations

import inspect
import json
import socket
import ssl
import time
import typing as t

try:
    import requests
except ImportError:
    requests = None  # the module reports missing_required_lib()

try:
    from websockets.sync.client import connect as websocket_connect
except ImportError:
    websocket_connect = None  # only WebSocket checks need it (websockets >= 11)

# websockets 15 added proxy support (on by default); older releases have no such argument.
_CONNECT_TAKES_PROXY = websocket_connect is not None and 'proxy' in inspect.signature(websocket_connect).parameters


def new_session(validate_certs: bool, ca_path: str | None, client_cert: str | None = None,
                client_key: str | None = None) -> t.Any:
    session = requests.Session()
    # Smoke tests talk to the service directly: proxies from the environment would test the proxy instead.
    session.trust_env = False
    session.verify = ca_path if (validate_certs and ca_path) else validate_certs
    if client_cert:
        session.cert = (client_cert, client_key) if client_key else client_cert
    return session


def request_headers(check: dict[str, t.Any]) -> dict[str, str] | None:
    """Plain and secret headers together, as the service gets them (names are distinct, see _smoke)."""
    return {**(check.get('headers') or {}), **(check.get('secret_headers') or {})} or None


class Response(t.NamedTuple):
    status: int | None
    body: str
    headers: dict[str, str]
    latency_ms: float
    error: str | None


def http_probe(session: t.Any, check: dict[str, t.Any], request_timeout: float) -> Response:
    """Send the check's request and measure it; ``error`` says why no response came."""
    body_format = check.get('body_format') or 'json'
    body = check.get('body')
    started = time.monotonic()
    try:
        response = session.request(
            check.get('method') or 'GET',
            check['url'],
            params=check.get('query') or None,
            headers=request_headers(check),
            json=body if body_format == 'json' else None,
            data=body if body_format != 'json' else None,
            timeout=request_timeout,
            allow_redirects=check.get('follow_redirects', True),
        )
    except requests.RequestException as exc:
        return Response(None, '', {}, (time.monotonic() - started) * 1000, describe_request_error(exc, request_timeout))
    return Response(response.status_code, response.text, dict(response.headers), (time.monotonic() - started) * 1000, None)


def seconds(value: float) -> str:
    """Seconds as a person writes them: 2s, 0.5s, 1.3s (a timeout cut to the deadline is rarely round)."""
    return '%gs' % (round(value, 1) if value >= 1 else float('%.2g' % value))


def describe_request_error(exc: Exception, request_timeout: float) -> str:
    """A short reason for a failed request, instead of urllib3's nested repr with object addresses."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return 'cannot connect within %s' % seconds(request_timeout)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return 'no response within %s' % seconds(request_timeout)
    if isinstance(exc, requests.exceptions.SSLError):
        return 'TLS error: %s' % root_cause(exc)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return 'cannot connect: %s' % root_cause(exc)
    return '%s: %s' % (type(exc).__name__, exc)


def root_cause(exc: BaseException) -> str:
    """The innermost OS-level reason in an exception chain (e.g. 'Connection refused')."""
    seen = set()
    current: BaseException | None = exc
    reason = str(exc)
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            reason = current.strerror
        nested = getattr(current, 'reason', None)
        if not isinstance(nested, BaseException):
            nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = nested or current.__cause__ or current.__context__
    return reason


def ssl_context(validate_certs: bool, ca_path: str | None, client_cert: str | None, client_key: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_path if validate_certs else None)
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert:
        context.load_cert_chain(client_cert, client_key)
    return context


def websocket_exchange(check: dict[str, t.Any], budget: float, context: ssl.SSLContext | None,
                       matches: t.Callable[[t.Any, str], bool], describe: t.Callable[[t.Any], str]) -> tuple[float, str | None]:
    """Connect, send each message, then wait for a reply meeting each expectation in turn, all within
    ``budget`` seconds. Return (latency_ms, failure or None)."""
    started = time.monotonic()
    deadline = started + budget
    options: dict[str, t.Any] = {'additional_headers': request_headers(check), 'open_timeout': budget, 'close_timeout': 1}
    if check['url'].lower().startswith('wss:'):
        options['ssl'] = context
    if _CONNECT_TAKES_PROXY:
        options['proxy'] = None  # as for HTTP: test the service, not a proxy from the environment
    try:
        with websocket_connect(check['url'], **options) as socket_:
            for message in check.get('send') or []:
                socket_.send(message if isinstance(message, str) else json.dumps(message))
            for expected in check.get('expect') or []:
                seen = []
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return ((time.monotonic() - started) * 1000, 'no reply matching %s within %s (got %s)'
                                % (describe(expected), seconds(budget), seen[-3:] or 'nothing'))
                    try:
                        reply = socket_.recv(timeout=remaining)
                    except TimeoutError:
                        continue
                    text = reply.decode('utf-8', 'replace') if isinstance(reply, bytes) else reply
                    if matches(expected, text):
                        break
                    seen.append(text[:80])
    except (TimeoutError, socket.timeout):  # the same class since Python 3.10
        return (time.monotonic() - started) * 1000, 'cannot connect within %s' % seconds(budget)
    except OSError as exc:
        return (time.monotonic() - started) * 1000, 'cannot connect: %s' % root_cause(exc)
    except Exception as exc:  # pylint: disable=broad-except  # websockets raises its own family (handshake, closed)
        return (time.monotonic() - started) * 1000, '%s: %s' % (type(exc).__name__, exc)
    return (time.monotonic() - started) * 1000, None


def tcp_probe(host: str, port: int, request_timeout: float) -> tuple[float, str | None]:
    """Open and close a TCP connection; return (latency_ms, error or None)."""
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=request_timeout):
            pass
    except (TimeoutError, socket.timeout):  # the same class since Python 3.10
        return (time.monotonic() - started) * 1000, 'cannot connect to %s:%d within %s' % (host, port, seconds(request_timeout))
    except OSError as exc:
        return (time.monotonic() - started) * 1000, 'cannot connect to %s:%d: %s' % (host, port, exc)
    return (time.monotonic() - started) * 1000, None
