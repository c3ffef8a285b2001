"""Benchmark exec_via docker: a large stream out of and into a container, the Docker SDK transport against the CLI.

The container transport used to run ``docker exec`` (the CLI wrote the stream straight to the module's file);
it now speaks to the Engine API itself and splits the multiplexed stream in Python. Each round, one after the other:
  sdk out   DockerTransport.run(['cat', blob], stdout=file): the engine's stream demultiplexed into a file
  cli out   docker exec <ctr> cat blob > file (the CLI's stdout is the file, as the old transport did)
  sdk in    DockerTransport.run(['sh', '-c', 'cat > /dev/null'], stdin=file), as a restore feeds pg_restore
  cli in    docker exec --interactive <ctr> sh -c 'cat > /dev/null' < file
  sdk 20x   20 short commands (``true``) through one DockerTransport, as a module runs its checks and queries
  cli 20x   20 ``docker exec <ctr> true``
Each runs as its own process; its peak resident memory is the kernel's high-water mark (VmHWM): for the SDK, the
Python that runs the transport (interpreter and SDK included); for the CLI, the docker CLI alone. The SDK rows also
show the time of the transfer alone (``run()``), without the Python start-up and imports.

Run: make bench, or ``python -m bench.exec_docker`` from the repository root with ANSIBLE_COLLECTIONS_PATH holding
the collection; EXEC_BENCH_MB (default 256) sets the stream size, EXEC_BENCH_ROUNDS (default 3) the rounds.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time

from tests.integration.helpers.collection import start_python, wait_with_peak_rss
from tests.integration.helpers.docker import DockerSession, connect

SIZE_MB = int(os.environ.get('EXEC_BENCH_MB', '256'))
ROUNDS = int(os.environ.get('EXEC_BENCH_ROUNDS', '3'))
BLOB = '/tmp/blob'
SDK = """
import sys, time
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import DockerTransport
container, direction, path = sys.argv[1:]
started = time.monotonic()
if direction == 'out':
    with open(path, 'wb') as handle:
        result = DockerTransport(container).run(['cat', '%s'], {}, stdout=handle)
elif direction == 'in':
    with open(path, 'rb') as handle:
        result = DockerTransport(container).run(['sh', '-c', 'cat > /dev/null'], {}, stdin=handle)
else:
    transport = DockerTransport(container)
    for _command in range(20):
        result = transport.run(['true'], {})
print(time.monotonic() - started)
sys.exit(result.rc)
""" % BLOB


def timed(proc: subprocess.Popen) -> tuple[float, int, float]:
    """Seconds until the process ended, its peak RSS in MiB, and the transfer time it printed (SDK only)."""
    started = time.monotonic()
    rc, peak = wait_with_peak_rss(proc)
    elapsed = time.monotonic() - started
    if rc != 0:
        raise SystemExit('%s failed with %s' % (proc.args, rc))
    said = proc.stdout.read().strip() if proc.stdout else ''
    return elapsed, peak // (1024 * 1024), float(said) if said else elapsed


def main() -> None:
    session = DockerSession(connect())
    try:
        box = session.run('artisan-upgrade/base:bookworm', command=['sleep', 'infinity'])
        box.exec_run(['sh', '-c', 'head -c %dM /dev/urandom > %s' % (SIZE_MB, BLOB)])
        work = tempfile.mkdtemp(prefix='artisan-bench-exec-')
        out, source = os.path.join(work, 'out'), os.path.join(work, 'in')
        with open(source, 'wb') as handle:
            handle.write(os.urandom(SIZE_MB * 1024 * 1024))
        names = ('sdk out', 'cli out', 'sdk in', 'cli in', 'sdk 20x', 'cli 20x')
        runs: dict[str, list[tuple[float, int, float]]] = {name: [] for name in names}
        for _round in range(ROUNDS):
            runs['sdk out'].append(timed(start_python(['-c', SDK, box.name, 'out', out], stdout=subprocess.PIPE, text=True)))
            assert os.path.getsize(out) == SIZE_MB * 1024 * 1024
            with open(out, 'wb') as handle:
                runs['cli out'].append(timed(subprocess.Popen(['docker', 'exec', box.name, 'cat', BLOB], stdout=handle)))
            runs['sdk in'].append(timed(start_python(['-c', SDK, box.name, 'in', source], stdout=subprocess.PIPE, text=True)))
            with open(source, 'rb') as handle:
                runs['cli in'].append(timed(subprocess.Popen(['docker', 'exec', '--interactive', box.name, 'sh', '-c', 'cat > /dev/null'],
                                                             stdin=handle)))
            runs['sdk 20x'].append(timed(start_python(['-c', SDK, box.name, 'short', ''], stdout=subprocess.PIPE, text=True)))
            started = time.monotonic()
            for _command in range(20):
                subprocess.run(['docker', 'exec', box.name, 'true'], check=True)
            runs['cli 20x'].append((time.monotonic() - started, 0, time.monotonic() - started))
        print('%d MiB, median of %d rounds' % (SIZE_MB, ROUNDS))
        for name, values in runs.items():
            seconds = statistics.median(v[0] for v in values)
            transfer = statistics.median(v[2] for v in values)
            rate = '' if '20x' in name else ', %4.0f MiB/s' % (SIZE_MB / transfer)
            peak = max(v[1] for v in values)
            print('%-8s %6.2f s (transfer %5.2f s%s)  peak RSS %s' % (name, seconds, transfer, rate, '%d MiB' % peak if peak else '-'))
        os.remove(out)
        os.remove(source)
        os.rmdir(work)
    finally:
        session.cleanup()


if __name__ == '__main__':
    main()
