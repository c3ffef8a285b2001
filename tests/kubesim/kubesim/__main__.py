"""`python -m kubesim --port N --kubeconfig PATH [--speed F] [--runtime fast]`: serve until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import sys

from .simulator import RUNTIMES, Simulator


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m kubesim', description=__doc__)
    parser.add_argument('--port', type=int, default=0, help='port on 127.0.0.1 (0 picks a free one)')
    parser.add_argument('--kubeconfig', help='write a kubeconfig for the simulator to this path')
    parser.add_argument('--speed', type=float, default=1.0, help='simulated seconds per real second (default 1)')
    parser.add_argument('--runtime', choices=RUNTIMES, default='fast', help='pod runtime (default fast)')
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    simulator = Simulator(port=args.port, speed=args.speed, runtime=args.runtime)
    await simulator.serve()
    if args.kubeconfig:
        simulator.write_kubeconfig(args.kubeconfig)
    where = ', kubeconfig %s' % args.kubeconfig if args.kubeconfig else ''
    print('kubesim serving %s (speed %gx, runtime %s)%s' % (simulator.url, args.speed, args.runtime, where), flush=True)
    try:
        await asyncio.Event().wait()
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
