"""Serve a simulated cluster until SIGTERM or SIGINT: `kubesim --kubeconfig PATH` (or `python -m kubesim ...`).

When it is ready it prints one line, `kubesim serving <url> ... kubeconfig <path>`, after the kubeconfig
file is complete. SIGTERM and SIGINT stop it cleanly (the docker runtime removes its containers and
network) with exit code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import signal
import sys

from .docker_engine import engine_problem
from .simulator import RUNTIMES, Simulator


def positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError('must be above 0, got %s' % text)
    return value


def port_range(text: str) -> range:
    first, _dash, last = text.partition('-')
    try:
        ports = range(int(first), int(last or first) + 1)
    except ValueError:
        raise argparse.ArgumentTypeError('must be PORT or FIRST-LAST, got %s' % text) from None
    if not ports or ports[0] < 1 or ports[-1] > 65535:
        raise argparse.ArgumentTypeError('must be ports from 1 to 65535, first <= last, got %s' % text)
    return ports


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError('must be at least 1, got %s' % text)
    return value


def instance_id(text: str) -> str:
    # Part of Docker names (network kubesim-<id>, containers kubesim-<id>-...) and a label value.
    if not re.fullmatch(r'[a-z0-9][a-z0-9.-]{0,39}', text):
        raise argparse.ArgumentTypeError('must be 1-40 of a-z 0-9 . - starting with a letter or digit, got %r' % text)
    return text


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='kubesim', description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=0, help='port to listen on (default 0: a free one)')
    parser.add_argument('--kubeconfig', help='write a kubeconfig for the simulator to this path')
    parser.add_argument('--speed', type=positive_float, default=1.0, help='simulated seconds per real second (default 1)')
    parser.add_argument('--nodes', type=positive_int, default=1, help='number of simulated nodes (default 1)')
    parser.add_argument('--proxy-ports', type=port_range, default=range(0), metavar='FIRST-LAST',
                        help='docker runtime: the 127.0.0.1 ports of the Service proxies, first free one each (default: any free port)')
    parser.add_argument('--runtime', choices=RUNTIMES, default='fast',
                        help='fast: pods on timers; docker: pods as containers of the local Docker engine (default fast)')
    parser.add_argument('--id', type=instance_id, dest='instance_id',
                        help='docker runtime: this instance\'s id, in the label kubesim.io/simulator=<id> of everything it '
                             'makes, its network kubesim-<id> and its containers kubesim-<id>-...; lets a script remove '
                             'what a killed instance left (default: random)')
    return parser.parse_args(argv)


class StartError(Exception):
    """The simulator could not start: the message says why."""


async def serve(args: argparse.Namespace) -> None:
    if args.runtime == 'docker':
        problem = engine_problem()
        if problem:
            raise StartError('the docker runtime needs a Docker engine (DOCKER_HOST): %s' % problem)
    simulator = Simulator(host=args.host, port=args.port, speed=args.speed, runtime=args.runtime, nodes=args.nodes,
                          instance_id=args.instance_id)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Both signals end the loop the same way, so shutdown always runs to its end (containers, network, port).
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    if simulator.proxies is not None:
        simulator.proxies.ports = args.proxy_ports
    try:
        try:
            await simulator.serve()
        except OSError as exc:
            raise StartError('cannot listen on %s port %d: %s' % (args.host, args.port, exc)) from exc
        if args.kubeconfig:
            try:
                simulator.write_kubeconfig(args.kubeconfig)
            except OSError as exc:
                raise StartError('cannot write the kubeconfig: %s' % exc) from exc
        where = ', kubeconfig %s' % args.kubeconfig if args.kubeconfig else ''
        print('kubesim serving %s (speed %gx, runtime %s, %d node%s)%s'
              % (simulator.url, args.speed, args.runtime, args.nodes, '' if args.nodes == 1 else 's', where), flush=True)
        await stop.wait()
    finally:
        await simulator.shutdown()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        asyncio.run(serve(args))
    except StartError as exc:
        print('kubesim: %s' % exc, file=sys.stderr)
        return 1
    return 0
