"""`python -m kubesim --port N --kubeconfig PATH [--speed F] [--nodes N] [--runtime fast|docker]`: serve until interrupted (or SIGTERM)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .simulator import RUNTIMES, Simulator


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m kubesim', description=__doc__)
    parser.add_argument('--port', type=int, default=0, help='port on 127.0.0.1 (0 picks a free one)')
    parser.add_argument('--kubeconfig', help='write a kubeconfig for the simulator to this path')
    parser.add_argument('--speed', type=float, default=1.0, help='simulated seconds per real second (default 1)')
    parser.add_argument('--nodes', type=int, default=1, help='number of simulated nodes (default 1)')
    parser.add_argument('--runtime', choices=RUNTIMES, default='fast', help='pod runtime (default fast)')
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    simulator = Simulator(port=args.port, speed=args.speed, runtime=args.runtime, nodes=args.nodes)
    await simulator.serve()
    if args.kubeconfig:
        simulator.write_kubeconfig(args.kubeconfig)
    where = ', kubeconfig %s' % args.kubeconfig if args.kubeconfig else ''
    print('kubesim serving %s (speed %gx, runtime %s)%s' % (simulator.url, args.speed, args.runtime, where), flush=True)
    stop = asyncio.Event()
    # SIGTERM ends the simulator as Ctrl-C does, so the docker runtime removes its containers and network.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await simulator.shutdown()


def main(argv: list[str] | None = None) -> int:
    try:
        asyncio.run(serve(parse_args(sys.argv[1:] if argv is None else argv)))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
