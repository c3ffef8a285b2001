# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network boundary of smoke_test: one HTTP request or one TCP connect, measured."""

from __future__ import annotations

import socket
import time
import typing as t

try:
    import requests
except ImportError:
    requests = None  # the module reports missing_required_lib()


def new_session(validate_certs: bool, ca_path: str | None) -> t.Any:
    session = requests.Session()
    # Smoke tests talk to the service directly: proxies from the environment would test the proxy instead.
    session.trust_env = False
    session.verify = ca_path if (validate_certs and ca_path) else validate_certs
    return session


def http_probe(session: t.Any, check: dict[str, t.Any], request_timeout: float) -> tuple[int | None, str, float, str | None]:
    """Send the check's request; return (status, body, latency_ms, transport error or None)."""
    started = time.monotonic()
    try:
        response = session.request(
            check.get('method') or 'GET',
            check['url'],
            headers=check.get('headers') or None,
            json=check.get('body'),
            timeout=request_timeout,
            allow_redirects=check.get('follow_redirects', True),
        )
    except requests.RequestException as exc:
        return None, '', (time.monotonic() - started) * 1000, describe_request_error(exc, request_timeout)
    return response.status_code, response.text, (time.monotonic() - started) * 1000, None


def describe_request_error(exc: Exception, request_timeout: float) -> str:
    """A short reason for a failed request, instead of urllib3's nested repr with object addresses."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return 'cannot connect within %ss' % request_timeout
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return 'no response within %ss' % request_timeout
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


def tcp_probe(host: str, port: int, request_timeout: float) -> tuple[float, str | None]:
    """Open and close a TCP connection; return (latency_ms, error or None)."""
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=request_timeout):
            pass
    except OSError as exc:
        return (time.monotonic() - started) * 1000, 'cannot connect to %s:%d: %s' % (host, port, exc)
    return (time.monotonic() - started) * 1000, None
