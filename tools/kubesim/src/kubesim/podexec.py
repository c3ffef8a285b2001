"""pods/exec and pods/log for the docker runtime.

exec speaks the websocket channel protocol (``v5.channel.k8s.io``, ``v4.channel.k8s.io``): every
binary message starts with its channel byte, 0 stdin, 1 stdout, 2 stderr, 3 the final metav1.Status,
4 terminal resize (ignored); v5 adds 255, a client's "close this channel" (stdin EOF). The command runs
as a `docker exec` in the pod's container; output bytes are passed through unchanged.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType, web

from . import errors

PROTOCOLS = ('v5.channel.k8s.io', 'v4.channel.k8s.io')
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def exit_status(command: list[str], code: int) -> dict:
    """The Status the API server ends an exec with (remotecommand's NonZeroExitCode error)."""
    if code == 0:
        return {'metadata': {}, 'status': 'Success'}
    return {'metadata': {}, 'status': 'Failure',
            'message': 'command terminated with non-zero exit code: error executing command [%s], exit code %d'
                       % (' '.join(command), code),
            'reason': 'NonZeroExitCode', 'details': {'causes': [{'reason': 'ExitCode', 'message': str(code)}]}}


def choose_container(pod: dict, wanted: str | None) -> tuple[int, str]:
    """The container's index and name: the one asked for, else the only (or kubectl's default) one."""
    containers = [item['name'] for item in pod['spec']['containers']]
    name = pod['metadata']['name']
    if not wanted:
        wanted = (pod['metadata'].get('annotations') or {}).get('kubectl.kubernetes.io/default-container')
    if not wanted:
        if len(containers) != 1:
            raise errors.bad_request('a container name must be specified for pod %s, choose one of: [%s]' % (name, ' '.join(containers)))
        wanted = containers[0]
    if wanted not in containers:
        raise errors.bad_request('container %s is not valid for pod %s' % (wanted, name))
    return containers.index(wanted), wanted


def _running_container(kubelet, pod: dict, wanted: str | None) -> str:
    if kubelet is None:
        raise errors.bad_request('exec is not supported by the fast runtime: start the simulator with runtime docker')
    index, name = choose_container(pod, wanted)
    worker = kubelet.worker_for(pod['metadata']['uid'])
    started = worker.started[index] if worker is not None else None
    if started is None:
        raise errors.bad_request('container %s is not running in pod %s' % (name, pod['metadata']['name']))
    return started.container_id


async def handle_exec(request: web.Request, pod: dict, kubelet) -> web.StreamResponse:
    query = request.query
    command = query.getall('command', [])
    if not command:
        raise errors.bad_request('you must specify at least 1 command')
    container_id = _running_container(kubelet, pod, query.get('container'))
    if request.headers.get('Upgrade', '').lower() != 'websocket':
        raise errors.bad_request('kubesim serves exec over websockets only (%s)' % ', '.join(PROTOCOLS))
    use_stdin = query.get('stdin') in ('true', '1', 'True')
    tty = query.get('tty') in ('true', '1', 'True')
    socket = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0, autoping=True)
    await socket.prepare(request)
    session = await kubelet.call(kubelet.engine.exec_session, container_id, command, use_stdin, tty)
    loop = asyncio.get_running_loop()
    output: asyncio.Queue = asyncio.Queue()

    def read_output() -> None:
        for stream, data in session.read():
            loop.call_soon_threadsafe(output.put_nowait, (stream, data))
        loop.call_soon_threadsafe(output.put_nowait, None)

    kubelet.pool.submit(read_output)
    stdin_task = asyncio.ensure_future(_pump_stdin(socket, session, kubelet))
    try:
        while True:
            item = await output.get()
            if item is None:
                break
            stream, data = item
            if (stream == STDOUT and query.get('stdout', 'true') != 'false') or (stream == STDERR and query.get('stderr') != 'false'):
                await socket.send_bytes(bytes([stream]) + data)
        code = await kubelet.call(session.exit_code)
        await socket.send_bytes(bytes([ERROR]) + json.dumps(exit_status(command, code)).encode())
    except ConnectionResetError:
        pass
    finally:
        stdin_task.cancel()
        session.close()
        await socket.close()
    return socket


async def _pump_stdin(socket: web.WebSocketResponse, session, kubelet) -> None:
    """Client messages: stdin data to the process, v5's close of channel 0 as EOF, resizes ignored."""
    async for message in socket:
        if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
            continue
        data = message.data if isinstance(message.data, bytes) else message.data.encode()
        if not data:
            continue
        if data[0] == STDIN and len(data) > 1:
            await kubelet.call(session.write, data[1:])
        elif data[0] == CLOSE and data[1:2] == bytes([STDIN]):
            await kubelet.call(session.close_stdin)
    await kubelet.call(session.close_stdin)


async def pod_logs(pod: dict, query, kubelet) -> web.Response | None:
    """The container's real output (docker runtime); None to let the fast runtime answer."""
    if kubelet is None:
        return None
    index, _name = choose_container(pod, query.get('container'))
    worker = kubelet.worker_for(pod['metadata']['uid'])
    previous = query.get('previous') in ('true', '1')
    container_id = (worker.previous if previous else worker.ids)[index] if worker is not None else None
    if container_id is None and previous:
        raise errors.bad_request('previous terminated container "%s" in pod "%s" not found' % (_name, pod['metadata']['name']))
    if container_id is None:
        return None
    tail = int(query['tailLines']) if query.get('tailLines') else None
    data = await kubelet.call(kubelet.engine.logs, container_id, tail, query.get('timestamps') in ('true', '1'))
    return web.Response(body=data, content_type='text/plain')
