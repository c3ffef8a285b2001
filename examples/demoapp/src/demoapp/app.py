"""The aiohttp application: routes, middlewares, and what each release answers."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import logging
import time
import typing as t
import weakref

import psycopg
from aiohttp import WSCloseCode, WSMsgType, web
from psycopg_pool import PoolTimeout

from . import faults
from ._release import VERSION
from .config import RELEASE, Config
from .db import Database, DuplicateEmail, Row
from .metrics import Metrics, middleware as metrics_middleware
from .schema import SchemaInfo, compare
from .security import TOKEN_TTL, InvalidToken, hash_password, issue_token, token_user_id, verify_password

log = logging.getLogger('demoapp')

# Probes must answer before the prober gives up, even when the pool cannot reach the database.
PROBE_DB_TIMEOUT = 2.0
MAX_SLOW_SECONDS = 60.0
POSTS_PAGE = 50
BEARER_CHALLENGE = {'WWW-Authenticate': 'Bearer'}


@dataclasses.dataclass
class State:
    config: Config
    schema: SchemaInfo
    release: int
    db: Database
    metrics: Metrics
    started_at: datetime.datetime
    started: float
    injector: faults.ErrorInjector | None
    sockets: weakref.WeakSet = dataclasses.field(default_factory=weakref.WeakSet)

    def uptime(self) -> float:
        return time.monotonic() - self.started


STATE = web.AppKey('state', State)
routes = web.RouteTableDef()


class ApiError(Exception):
    """An answer other than success, turned into a JSON error body by the error middleware."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def json_error(status: int, message: str, headers: t.Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({'error': message}, status=status, headers=headers)


def rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec='seconds').replace('+00:00', 'Z')


def user_json(user: Row, release: int) -> dict[str, t.Any]:
    """Release 1 shows full_name; release 2 shows display_name and keeps full_name for old clients; 3 drops it."""
    body = {'id': user['id'], 'email': user['email'], 'created_at': rfc3339(user['created_at'])}
    if release <= 2:
        body['full_name'] = user['name']
    if release >= 2:
        body['display_name'] = user['name']
    return body


def post_json(post: Row) -> dict[str, t.Any]:
    return {'id': post['id'], 'user_id': post['user_id'], 'author': post['author'], 'title': post['title'],
            'body': post['body'], 'created_at': rfc3339(post['created_at'])}


def ws_reply(text: str) -> dict[str, t.Any]:
    """The answer to one WebSocket text message; anything but ping or version gets an error, not a closed socket."""
    try:
        message = json.loads(text)
    except ValueError:
        return {'type': 'error', 'error': 'not JSON: send {"type": "ping"}'}
    kind = message.get('type') if isinstance(message, dict) else None
    if kind == 'ping':
        reply = {'type': 'pong'}
    elif kind == 'version':
        reply = {'type': 'version', 'version': VERSION}
    else:
        return {'type': 'error', 'error': 'unknown message type %s: send ping or version' % json.dumps(kind)}
    if 'id' in message:
        reply['id'] = message['id']
    return reply


def registration_problems(email: t.Any, password: t.Any, name: t.Any) -> list[str]:
    problems = []
    if not isinstance(email, str) or '@' not in email or len(email) > 320:
        problems.append('email must be an email address')
    if not isinstance(password, str) or len(password) < 8:
        problems.append('password must be a string of at least 8 characters')
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        problems.append('display_name must be a string of at most 200 characters')
    return problems


async def json_body(request: web.Request) -> dict[str, t.Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, 'request body is not valid JSON') from None
    if not isinstance(body, dict):
        raise ApiError(400, 'request body must be a JSON object')
    return body


async def current_user(request: web.Request) -> Row:
    state = request.app[STATE]
    scheme, _sep, token = request.headers.get('Authorization', '').partition(' ')
    if scheme.lower() != 'bearer' or not token.strip():
        raise ApiError(401, 'missing bearer token', BEARER_CHALLENGE)
    try:
        user_id = token_user_id(state.config.secret_key, token.strip())
    except InvalidToken as exc:
        raise ApiError(401, str(exc), BEARER_CHALLENGE) from None
    user = await state.db.user_by_id(user_id)
    if user is None:
        raise ApiError(401, 'the token\'s user does not exist', BEARER_CHALLENGE)
    return user


async def database_revisions(state: State) -> tuple[list[str] | None, str | None]:
    """The database's revisions, or why they could not be read."""
    try:
        return await state.db.revisions(timeout=PROBE_DB_TIMEOUT), None
    except PoolTimeout:
        return None, 'database unreachable: no connection within %g s' % PROBE_DB_TIMEOUT
    except psycopg.Error as exc:
        return None, 'database error: %s' % (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def revision_text(revisions: list[str] | None) -> str | None:
    return ' '.join(sorted(revisions)) if revisions else None


@routes.get('/health')
async def liveness(request: web.Request) -> web.Response:
    if faults.unhealthy(request.app[STATE].config.fault):
        return web.json_response({'status': 'error', 'reason': 'deliberately unhealthy (DEMOAPP_FAULT=unhealthy)'},
                                 status=500)
    return web.json_response({'status': 'ok'})


@routes.get('/api/system/health')
async def readiness(request: web.Request) -> web.Response:
    state = request.app[STATE]
    fault = state.config.fault
    if faults.unhealthy(fault):
        return web.json_response({'status': 'error', 'reason': 'deliberately unhealthy (DEMOAPP_FAULT=unhealthy)'},
                                 status=500)
    waiting = faults.seconds_until_ready(fault, state.uptime())
    if waiting:
        return web.json_response({'status': 'starting', 'reason': 'starting (DEMOAPP_FAULT=%s): ready in %.1f s'
                                  % (fault, waiting)}, status=503)
    revisions, problem = await database_revisions(state)
    body = {'status': 'error', 'database': 'ok' if problem is None else 'error', 'revision': revision_text(revisions),
            'expected_revision': state.schema.head}
    if problem is not None:
        body['reason'] = problem
        return web.json_response(body, status=503)
    verdict = compare(revisions, state.schema)
    body['schema'] = verdict.state
    if not verdict.ready:
        body['reason'] = verdict.reason
        return web.json_response(body, status=503)
    body['status'] = 'ok'
    return web.json_response(body)


@routes.get('/api/system/info')
async def system_info(request: web.Request) -> web.Response:
    state = request.app[STATE]
    revisions, problem = await database_revisions(state)
    return web.json_response({'version': VERSION, 'revision': revision_text(revisions),
                              'expected_revision': state.schema.head, 'started_at': rfc3339(state.started_at),
                              'database': 'ok' if problem is None else 'error'})


@routes.get('/version')
async def version(request: web.Request) -> web.Response:
    return web.json_response({'version': VERSION})


@routes.get('/api')
async def api_root(request: web.Request) -> web.Response:
    links = {'self': '/api', 'health': '/api/system/health', 'info': '/api/system/info', 'login': '/api/auth/login',
             'me': '/api/users/me', 'users': '/api/users', 'posts': '/api/posts', 'websocket': '/ws',
             'metrics': '/metrics', 'version': '/version'}
    return web.json_response({'name': 'demoapp', 'version': VERSION, 'links': links})


@routes.post('/api/auth/login')
async def login(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await json_body(request)
    username, password = body.get('username', body.get('email')), body.get('password')
    if not isinstance(username, str) or not username or not isinstance(password, str) or not password:
        return json_error(422, 'username and password are required strings')
    user = await state.db.user_by_email(username)
    # scrypt takes tens of milliseconds: keep it off the event loop.
    if user is None or not await asyncio.to_thread(verify_password, password, user['password_hash']):
        await state.db.audit(None, 'login_failed', username)
        return json_error(401, 'invalid username or password', BEARER_CHALLENGE)
    await state.db.audit(user['id'], 'login')
    token = issue_token(state.config.secret_key, user['id'], user['email'])
    return web.json_response({'access_token': token, 'token_type': 'bearer', 'expires_in': TOKEN_TTL})


@routes.get('/api/users/me')
async def me(request: web.Request) -> web.Response:
    return web.json_response(user_json(await current_user(request), request.app[STATE].release))


@routes.post('/api/users')
async def register(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await json_body(request)
    email, password = body.get('email'), body.get('password')
    name = body.get('display_name', body.get('full_name'))
    problems = registration_problems(email, password, name)
    if problems:
        return json_error(422, '; '.join(problems))
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        user = await state.db.create_user(email.strip().lower(), password_hash, name)
    except DuplicateEmail:
        return json_error(409, 'a user with this email exists')
    await state.db.audit(user['id'], 'register')
    return web.json_response(user_json(user, state.release), status=201)


@routes.get('/api/posts')
async def list_posts(request: web.Request) -> web.Response:
    await current_user(request)
    posts = await request.app[STATE].db.posts(POSTS_PAGE)
    return web.json_response({'posts': [post_json(post) for post in posts]})


@routes.post('/api/posts')
async def create_post(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = await json_body(request)
    title, text = body.get('title'), body.get('body', '')
    if not isinstance(title, str) or not 0 < len(title) <= 200 or not isinstance(text, str):
        return json_error(422, 'title must be a string of 1 to 200 characters, body a string')
    post = await request.app[STATE].db.create_post(user['id'], title, text)
    return web.json_response(post_json(post), status=201)


@routes.get('/api/slow')
async def slow(request: web.Request) -> web.Response:
    """Answers after ?seconds=N (default 1): an in-flight request to test graceful shutdown and draining with."""
    try:
        seconds = float(request.query.get('seconds', '1'))
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_SLOW_SECONDS:
        return json_error(422, 'seconds must be a number from 0 to %g' % MAX_SLOW_SECONDS)
    await asyncio.sleep(seconds)
    return web.json_response({'slept': seconds, 'version': VERSION})


@routes.get('/ws')
async def websocket(request: web.Request) -> web.WebSocketResponse:
    state = request.app[STATE]
    socket = web.WebSocketResponse(heartbeat=30.0)
    await socket.prepare(request)
    state.sockets.add(socket)
    try:
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                await socket.send_json(ws_reply(message.data))
            elif message.type == WSMsgType.BINARY:
                await socket.send_json({'type': 'error', 'error': 'binary messages are not supported: send JSON text'})
    finally:
        state.sockets.discard(socket)
    return socket


@routes.get('/metrics')
async def metrics(request: web.Request) -> web.Response:
    return request.app[STATE].metrics.render()


@web.middleware
async def json_errors(request: web.Request, handler):
    """Every error answer is JSON {"error": ...}; database outages are 503, other failures 500 and logged."""
    try:
        return await handler(request)
    except ApiError as exc:
        return json_error(exc.status, exc.message, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {'Allow': exc.headers['Allow']} if 'Allow' in exc.headers else None
        return json_error(exc.status, exc.reason, allow)
    except (PoolTimeout, psycopg.OperationalError) as exc:
        log.error('%s %s: database unavailable: %s', request.method, request.path, exc)
        return json_error(503, 'database unavailable')
    except Exception:
        log.exception('%s %s failed', request.method, request.path)
        return json_error(500, 'internal server error')


def error_injection(injector: faults.ErrorInjector, fault: t.Any):
    @web.middleware
    async def inject(request: web.Request, handler):
        if faults.injects_errors(request.path) and injector.next_fails():
            return json_error(500, 'injected error (DEMOAPP_FAULT=%s)' % fault)
        return await handler(request)

    return inject


async def database_context(app: web.Application):
    database = app[STATE].db
    await database.open()
    yield
    await database.close()


async def close_websockets(app: web.Application) -> None:
    """Open WebSockets would hold the shutdown until its timeout: tell their clients to reconnect elsewhere."""
    sockets = list(app[STATE].sockets)
    if sockets:
        log.info('closing %d WebSocket(s)', len(sockets))
    for socket in sockets:
        await socket.close(code=WSCloseCode.GOING_AWAY, message=b'server shutting down')


def create_app(config: Config, schema: SchemaInfo, release: int = RELEASE) -> web.Application:
    fault = config.fault
    injector = faults.ErrorInjector(fault.value) if fault is not None and fault.mode == 'errors' else None
    state = State(config=config, schema=schema, release=release, db=Database(config.database_url, release),
                  metrics=Metrics(VERSION), started_at=datetime.datetime.now(datetime.timezone.utc),
                  started=time.monotonic(), injector=injector)
    middlewares = [metrics_middleware(state.metrics), json_errors]
    if injector is not None:
        middlewares.append(error_injection(injector, fault))
    app = web.Application(middlewares=middlewares)
    app[STATE] = state
    app.add_routes(routes)
    app.cleanup_ctx.append(database_context)
    app.on_shutdown.append(close_websockets)
    return app
