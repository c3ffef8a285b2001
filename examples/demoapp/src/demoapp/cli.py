"""The `demoapp` command: serve, migrate, config-path, version."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import typing as t

from ._release import VERSION
from .config import RELEASE, Config, ConfigError, apply_env_file, environment, load_config
from .schema import ALEMBIC_INI

log = logging.getLogger('demoapp')
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs'
USAGE = '''demoapp serve [--env-file FILE]          run the web service (HOST, PORT, DATABASE_URL, SECRET_KEY, ...)
       demoapp migrate [--env-file FILE] [--unsafe] [ALEMBIC ARGS]
                                                run Alembic on this release's migrations (default: upgrade head)
       demoapp config-path                       print the path of the packaged alembic.ini
       demoapp version                           print the release'''


def configure_logging() -> None:
    # stderr is line-buffered even when piped, so a container or journald sees each line at once.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format='%(asctime)s %(levelname)s [%(name)s] %(message)s')
    logging.captureWarnings(True)
    # Reading the migration scripts (schema.load_schema_info) would log Alembic's plugin set-up otherwise.
    logging.getLogger('alembic').setLevel(logging.WARNING)


async def run_server(config: Config) -> None:
    """Serve until SIGTERM or SIGINT, then stop listening, finish the requests in flight and return."""
    # Imported here so that `demoapp migrate` and `demoapp version` do not pay for the web stack.
    from aiohttp import web

    from .app import create_app
    from .schema import load_schema_info

    # Catch the signals before anything else: a SIGTERM during start-up then stops the server gracefully too.
    received = asyncio.Queue()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, received.put_nowait, signum)
    schema = load_schema_info()
    runner = web.AppRunner(create_app(config, schema), shutdown_timeout=config.shutdown_timeout,
                           access_log=logging.getLogger('demoapp.access'), access_log_format=ACCESS_LOG_FORMAT)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.host, config.port).start()
        log.info('demoapp %s listening on http://%s:%d (expects database revision %s)',
                 VERSION, config.host, config.port, schema.head)
        signum = await received.get()
        log.info('%s received: no longer accepting connections, finishing requests in flight (at most %g s)',
                 signal.Signals(signum).name, config.shutdown_timeout)
    finally:
        await runner.cleanup()
    log.info('demoapp %s stopped', VERSION)


def serve(env_file: str | None) -> int:
    configure_logging()
    try:
        config = load_config(environment(os.environ, env_file))
    except ConfigError as exc:
        log.error('configuration error: %s', exc)
        return 2
    for warning in config.warnings:
        log.warning('%s', warning)
    if config.fault is not None:
        log.warning('DEMOAPP_FAULT=%s: release %s misbehaves on purpose', config.fault, VERSION)
        if config.fault.mode == 'crash':
            log.critical('DEMOAPP_FAULT=crash: exiting with status 1 at start, as asked')
            return 1
    try:
        asyncio.run(run_server(config))
    except OSError as exc:
        log.error('cannot serve on %s:%d: %s', config.host, config.port, exc)
        return 1
    return 0


def split_migrate_args(args: t.Sequence[str]) -> tuple[str | None, bool, list[str]]:
    """demoapp's own options come first; everything after them goes to Alembic unchanged."""
    env_file, unsafe, rest = None, False, list(args)
    while rest:
        if rest[0] == '--unsafe':
            unsafe = True
            rest.pop(0)
        elif rest[0] == '--env-file' and len(rest) > 1:
            env_file = rest[1]
            del rest[:2]
        elif rest[0].startswith('--env-file='):
            env_file = rest.pop(0).partition('=')[2]
        else:
            break
    return env_file, unsafe, rest or ['upgrade', 'head']


def migrate(args: t.Sequence[str]) -> int:
    """Alembic with the packaged alembic.ini; --unsafe adds the deliberately unsafe migrations (section [unsafe])."""
    env_file, unsafe, alembic_args = split_migrate_args(args)
    try:
        apply_env_file(env_file)
    except ConfigError as exc:
        print('demoapp migrate: %s' % exc, file=sys.stderr)
        return 2
    from alembic.config import CommandLine

    CommandLine(prog='demoapp migrate').main(['-c', ALEMBIC_INI, '-n', 'unsafe' if unsafe else 'alembic'] + alembic_args)
    return 0


def main(argv: t.Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == 'migrate':
        return migrate(argv[1:])
    parser = argparse.ArgumentParser(prog='demoapp', usage=USAGE,
                                     description='demoapp %s (release %d): the demo web service of artisan.upgrade'
                                     % (VERSION, RELEASE))
    commands = parser.add_subparsers(dest='command', required=True)
    serve_parser = commands.add_parser('serve', help='run the web service')
    serve_parser.add_argument('--env-file', help='KEY=VALUE file read under the environment (else $DEMOAPP_ENV_FILE)')
    commands.add_parser('migrate', help='run Alembic on this release\'s migrations')
    commands.add_parser('config-path', help='print the path of the packaged alembic.ini')
    commands.add_parser('version', help='print the release')
    options = parser.parse_args(argv)
    if options.command == 'serve':
        return serve(options.env_file)
    print(ALEMBIC_INI if options.command == 'config-path' else VERSION)
    return 0
