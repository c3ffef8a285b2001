"""Prometheus metrics of one application, in a registry of its own."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

UNMATCHED_ROUTE = 'unmatched'
# nginx's code for a request whose client went away before the answer.
CLIENT_CLOSED = 499


class Metrics:
    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter('http_requests_total', 'HTTP requests answered, by method, route template and status',
                                ['method', 'route', 'status'], registry=self.registry)
        self.duration = Histogram('http_request_duration_seconds', 'Time to answer HTTP requests',
                                  ['method', 'route'], registry=self.registry)
        self.active = Gauge('http_active_connections', 'HTTP requests in flight, open WebSockets included',
                            registry=self.registry)
        Gauge('demoapp_build_info', 'The running release of demoapp', ['version'],
              registry=self.registry).labels(version).set(1)

    def render(self) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={'Content-Type': CONTENT_TYPE_LATEST})


def route_template(request: web.Request) -> str:
    """The route as declared ('/api/users/me'), never the raw path: unknown paths would explode the label set."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


def middleware(metrics: Metrics):
    @web.middleware
    async def record(request: web.Request, handler):
        route = route_template(request)
        status = 500
        started = time.perf_counter()
        metrics.active.inc()
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        finally:
            metrics.active.dec()
            metrics.requests.labels(request.method, route, str(status)).inc()
            metrics.duration.labels(request.method, route).observe(time.perf_counter() - started)

    return record
