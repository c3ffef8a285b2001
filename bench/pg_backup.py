"""Benchmark pg_backup on a >= 1 GB pgbench database (real PostgreSQL 15), side by side in one run.

The database is pgbench's schema at scale 70 with text in the accounts' filler. Each round runs, one after
the other on the same database:
  module      pg_backup with its defaults (custom format, the fast compression this pg_dump offers), including
              its checks, the checksum and the pg_restore --list verification
  raw         pg_dump -Fc with the same compression setting (what the module wraps: overhead target <= 1.05x)
  runbook     pg_dump | gzip > file, the runbook's command (default gzip level)
  dir module  pg_backup format=directory jobs=2
  dir raw     pg_dump -Fd -j2 with the same compression
then a re-run of the module with the same label (target: < 1 s, changed=false). The module runs as its own
process (the way Ansible runs it on a target, minus Ansible's start-up); its peak memory is read from the
kernel (VmHWM of the module process; pg_dump's memory is its own).

Run: make bench, or this file alone with PG_BENCH_SCALE (pgbench scale, default 70 = about 1.1 GB).
Only 127.0.0.1 is used.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from tests.integration.helpers.postgres import SUPERUSER, SUPERUSER_PASSWORD, PostgresServer

REPO = pathlib.Path(__file__).resolve().parents[1]

SCALE = int(os.environ.get('PG_BENCH_SCALE', '70'))
ROUNDS = int(os.environ.get('PG_BENCH_ROUNDS', '2'))
RERUNS = 5  # a re-run takes well under a second: several per round to see past the noise
DBNAME = 'bench'
MODULE = 'ansible_collections.artisan.upgrade.plugins.modules.pg_backup'
# pgbench's own rows, except that the accounts' filler is hex text instead of blanks: blank padding
# compresses to almost nothing, which would time pg_dump's start-up rather than a real dump.
FILL = """
INSERT INTO pgbench_branches SELECT b, 0, '' FROM generate_series(1, {scale}) b;
INSERT INTO pgbench_tellers SELECT t, (t - 1) / 10 + 1, 0, '' FROM generate_series(1, {scale} * 10) t;
INSERT INTO pgbench_accounts
  SELECT a, (a - 1) / 100000 + 1, (a::bigint * 7919 % 10000)::int - 5000,
         md5(a::text) || md5((a * 31)::text) || left(md5((a * 17)::text), 20)
  FROM generate_series(1, {scale} * 100000) a;
""".format(scale=SCALE)


def collections_root() -> str:
    """The collection copy the gates test (scripts/gates.sh sets ANSIBLE_COLLECTIONS_PATH to it)."""
    for entry in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(':'):
        if os.path.isdir(os.path.join(entry, 'ansible_collections', 'artisan', 'upgrade')):
            return entry
    raise SystemExit('run through scripts/gates.sh bench (make bench): ANSIBLE_COLLECTIONS_PATH must hold this collection')


def size_of(path: str) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(root, name)) for root, _dirs, names in os.walk(path) for name in names)
    return os.path.getsize(path)


def peak_rss_kib(pid: int, stop: threading.Event, result: list[int]) -> None:
    """Follow VmHWM (the kernel's high-water mark of resident memory) of one process until it exits."""
    while not stop.is_set():
        try:
            with open('/proc/%d/status' % pid, encoding='ascii') as handle:
                for line in handle:
                    if line.startswith('VmHWM:'):
                        result[0] = max(result[0], int(line.split()[1]))
        except (OSError, ValueError):
            return
        stop.wait(0.05)


def run_module(args: dict, workdir: str) -> tuple[float, dict, int]:
    """Run pg_backup as a process with an args file, as Ansible does on the target; (seconds, result, peak KiB)."""
    args_file = os.path.join(workdir, 'args.json')
    with open(args_file, 'w', encoding='utf-8') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    env = dict(os.environ, PYTHONPATH=collections_root())
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, '-m', MODULE, args_file], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak, stop = [0], threading.Event()
    watcher = threading.Thread(target=peak_rss_kib, args=(proc.pid, stop, peak), daemon=True)
    watcher.start()
    out, err = proc.communicate()
    elapsed = time.monotonic() - started
    stop.set()
    watcher.join()
    try:
        result = json.loads(out)
    except ValueError as exc:
        raise SystemExit('module output is not JSON: %s %s' % (out[-2000:], err[-2000:])) from exc
    if result.get('failed'):
        raise SystemExit('module failed: %s' % result.get('msg'))
    return elapsed, result, peak[0]


def timed_shell(argv: list[str], env: dict) -> float:
    started = time.monotonic()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    server = PostgresServer().start()
    workdir = tempfile.mkdtemp(prefix='artisan-bench-pg-')
    try:
        env = dict(os.environ, PGHOST='127.0.0.1', PGPORT=str(server.port), PGUSER=SUPERUSER, PGPASSWORD=SUPERUSER_PASSWORD)
        server.execute('CREATE DATABASE %s' % DBNAME)
        print('pgbench tables at scale %d ...' % SCALE, flush=True)
        started = time.monotonic()
        pgbench = os.path.join(server.bindir, 'pgbench')
        subprocess.run([pgbench, '-i', '-I', 'dt', '-s', str(SCALE), DBNAME], env=env, check=True, capture_output=True)
        server.execute(FILL, dbname=DBNAME)
        subprocess.run([pgbench, '-i', '-I', 'vp', '-s', str(SCALE), DBNAME], env=env, check=True, capture_output=True)
        db_bytes = int(server.query('SELECT pg_database_size(%s)', [DBNAME])[0][0])
        print('database: %.2f GB (pg_database_size), built in %.0f s' % (db_bytes / 1e9, time.monotonic() - started), flush=True)

        base = dict(login_host='127.0.0.1', port=server.port, login_user=SUPERUSER, login_password=SUPERUSER_PASSWORD,
                    db=DBNAME)
        pg_dump = os.path.join(server.bindir, 'pg_dump')
        times: dict[str, list[float]] = {}
        sizes: dict[str, int] = {}
        peaks: list[int] = []
        compression = None
        for round_no in range(ROUNDS):
            dest = os.path.join(workdir, 'round%d' % round_no)
            os.makedirs(dest)
            elapsed, result, peak = run_module(dict(base, dest=dest, label='default'), workdir)
            times.setdefault('module', []).append(elapsed)
            sizes['module'], peaks = result['manifest']['size'], peaks + [peak]
            compression = result['manifest']['compression']
            z = '-Z%d' % compression['level'] if compression['method'] == 'gzip' else '--compress=%s:%d' % (
                compression['method'], compression['level'])

            raw = os.path.join(dest, 'raw.dump')
            times.setdefault('raw', []).append(timed_shell([pg_dump, '-Fc', z, '-f', raw, DBNAME], env))
            sizes['raw'] = size_of(raw)

            runbook = os.path.join(dest, 'runbook.sql.gz')
            times.setdefault('runbook', []).append(
                timed_shell(['bash', '-o', 'pipefail', '-c', '"$0" "$1" | gzip > "$2"', pg_dump, DBNAME, runbook], env))
            sizes['runbook'] = size_of(runbook)

            elapsed, result, peak = run_module(dict(base, dest=dest, label='dir', format='directory', jobs=2), workdir)
            times.setdefault('dir module', []).append(elapsed)
            sizes['dir module'], peaks = result['manifest']['size'], peaks + [peak]

            raw_dir = os.path.join(dest, 'raw.dir')
            times.setdefault('dir raw', []).append(timed_shell([pg_dump, '-Fd', '-j2', z, '-f', raw_dir, DBNAME], env))
            sizes['dir raw'] = size_of(raw_dir)

            for _rerun in range(RERUNS):
                elapsed, result, peak = run_module(dict(base, dest=dest, label='default'), workdir)
                assert result['changed'] is False, result
                times.setdefault('re-run', []).append(elapsed)
                peaks.append(peak)
            shutil.rmtree(dest)

        median = {name: statistics.median(values) for name, values in times.items()}
        print()
        print('pg_backup on a %.2f GB pgbench database (scale %d), PostgreSQL %s, %d rounds (median seconds)'
              % (db_bytes / 1e9, SCALE, server.query('SHOW server_version')[0][0].split()[0], ROUNDS))
        print('module default compression: %s level %s' % (compression['method'], compression['level']))
        print('  %-11s %9s %12s  %s' % ('run', 'seconds', 'size MB', 'all runs'))
        for name in ('module', 'raw', 'runbook', 'dir module', 'dir raw', 're-run'):
            size = '%.1f' % (sizes[name] / 1e6) if name in sizes else '-'
            print('  %-11s %9.2f %12s  %s' % (name, median[name], size, ' '.join('%.2f' % v for v in times[name])))
        print()
        print('module / raw pg_dump -Fc (same settings): %.3fx   (target <= 1.05x)' % (median['module'] / median['raw']))
        print('module / runbook pg_dump | gzip:         %.2fx time, %.2fx size'
              % (median['module'] / median['runbook'], sizes['module'] / sizes['runbook']))
        print('dir module -j2 / dir raw -j2:            %.3fx' % (median['dir module'] / median['dir raw']))
        print('dir module -j2 / module (custom):        %.2fx' % (median['dir module'] / median['module']))
        print('re-run with the same label:              %.2f s, changed=false (target < 1 s)' % median['re-run'])
        print('module process peak RSS:                 %.1f MB max over %d runs (target: flat, < 100 MB)'
              % (max(peaks) / 1024, len(peaks)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        server.stop()


if __name__ == '__main__':
    main()
