"""Configuration from the environment and an optional env file, and what each release reads of it."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import secrets
import typing as t

from ._release import VERSION

DEFAULT_HOST = '0.0.0.0'
DEFAULT_PORT = 8000
DEFAULT_SHUTDOWN_TIMEOUT = 10.0
ENV_FILE_VARIABLE = 'DEMOAPP_ENV_FILE'
FAULT_MODES = ('crash', 'unhealthy', 'slow-start', 'errors')
_ENV_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')


class ConfigError(Exception):
    """The configuration cannot start this release; the message says what to change."""


def release_major(version: str = VERSION) -> int:
    """The major version: 1, 2 or 3. Behaviour that differs between releases is keyed on it."""
    return int(version.split('.', 1)[0])


RELEASE = release_major()


@dataclasses.dataclass(frozen=True)
class Fault:
    """A deliberate failure of release 3 (DEMOAPP_FAULT); value is seconds (slow-start) or a fraction (errors)."""

    mode: str
    value: float = 0.0

    def __str__(self) -> str:
        return self.mode if self.mode in ('crash', 'unhealthy') else '%s:%g' % (self.mode, self.value)


@dataclasses.dataclass(frozen=True)
class Config:
    host: str
    port: int
    secret_key: str
    database_url: str
    shutdown_timeout: float
    fault: Fault | None
    warnings: tuple[str, ...] = ()


def parse_env_file(text: str, source: str = 'env file') -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them: blank lines and # or ; comments skipped, quotes removed."""
    values = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in '#;':
            continue
        if line.startswith('export '):
            line = line[len('export '):].lstrip()
        key, sep, value = line.partition('=')
        key, value = key.strip(), value.strip()
        if not sep or not _ENV_NAME.match(key):
            raise ConfigError('%s line %d: expected KEY=VALUE, got %r' % (source, number, raw))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
            value = value[1:-1]
        values[key] = value
    return values


def read_env_file(path: str) -> dict[str, str]:
    try:
        with open(path, encoding='utf-8') as handle:
            return parse_env_file(handle.read(), path)
    except OSError as exc:
        raise ConfigError('cannot read env file %s: %s' % (path, exc.strerror)) from exc


def environment(environ: t.Mapping[str, str], env_file: str | None = None) -> dict[str, str]:
    """The env file's values (--env-file, else $DEMOAPP_ENV_FILE) under the process environment, which wins."""
    path = env_file or environ.get(ENV_FILE_VARIABLE)
    merged = read_env_file(path) if path else {}
    merged.update(environ)
    return merged


def database_url(environ: t.Mapping[str, str], release: int = RELEASE) -> tuple[str, list[str]]:
    """The database URL this release reads, and the warnings its choice deserves.

    Release 1 reads DATABASE_URI. Release 2 renamed it DATABASE_URL and still accepts the old name, with a warning.
    """
    if release == 1:
        if not environ.get('DATABASE_URI'):
            raise ConfigError('DATABASE_URI is not set (release %s reads the database URL from DATABASE_URI)' % VERSION)
        return environ['DATABASE_URI'], []
    if environ.get('DATABASE_URL'):
        return environ['DATABASE_URL'], []
    if environ.get('DATABASE_URI'):
        return environ['DATABASE_URI'], ['DATABASE_URI is deprecated, use DATABASE_URL']
    raise ConfigError('DATABASE_URL is not set')


def parse_fault(text: str) -> Fault:
    mode, _sep, arg = text.strip().partition(':')
    if mode not in FAULT_MODES:
        raise ConfigError('unknown DEMOAPP_FAULT %r: use one of crash, unhealthy, slow-start:SECONDS, errors:FRACTION' % text)
    if mode in ('crash', 'unhealthy'):
        if arg:
            raise ConfigError('DEMOAPP_FAULT=%s takes no argument' % mode)
        return Fault(mode)
    try:
        value = float(arg)
    except ValueError:
        raise ConfigError('DEMOAPP_FAULT=%s needs a number, as in %s' % (
            text, 'slow-start:5' if mode == 'slow-start' else 'errors:0.3')) from None
    if not math.isfinite(value) or mode == 'slow-start' and value < 0 or mode == 'errors' and not 0 <= value <= 1:
        raise ConfigError('DEMOAPP_FAULT=%s is out of range' % text)
    return Fault(mode, value)


def _number(environ: t.Mapping[str, str], name: str, default: float, kind: t.Callable[[str], t.Any]) -> t.Any:
    text = environ.get(name)
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise ConfigError('%s=%r is not a number' % (name, text)) from None


def load_config(environ: t.Mapping[str, str], release: int = RELEASE) -> Config:
    """Everything `demoapp serve` needs, validated; raises ConfigError with the fix."""
    url, warnings = database_url(environ, release)
    port = _number(environ, 'PORT', DEFAULT_PORT, int)
    if not 0 < port < 65536:
        raise ConfigError('PORT=%s is not a TCP port' % port)
    shutdown_timeout = _number(environ, 'SHUTDOWN_TIMEOUT', DEFAULT_SHUTDOWN_TIMEOUT, float)
    # aiohttp reads a timeout of 0 as none at all: a shutdown could then wait forever.
    if not shutdown_timeout > 0:
        raise ConfigError('SHUTDOWN_TIMEOUT=%s must be a positive number of seconds' % environ['SHUTDOWN_TIMEOUT'])
    secret_key = environ.get('SECRET_KEY', '')
    if not secret_key:
        secret_key = secrets.token_urlsafe(32)
        warnings.append('SECRET_KEY is not set: signing tokens with a random key, which other instances '
                        'do not share and a restart forgets')
    fault = None
    if environ.get('DEMOAPP_FAULT'):
        if release == 3:
            fault = parse_fault(environ['DEMOAPP_FAULT'])
        else:
            warnings.append('DEMOAPP_FAULT is ignored: only release 3 has fault modes')
    return Config(host=environ.get('HOST') or DEFAULT_HOST, port=port, secret_key=secret_key, database_url=url,
                  shutdown_timeout=shutdown_timeout, fault=fault, warnings=tuple(warnings))


def libpq_url(url: str) -> str:
    """psycopg wants a plain libpq URI: drop a SQLAlchemy driver suffix (postgresql+psycopg://)."""
    return re.sub(r'^postgres(ql)?\+\w+://', 'postgresql://', url)


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy (Alembic) must use the psycopg 3 driver, the only one installed."""
    return re.sub(r'^postgres(ql)?(\+\w+)?://', 'postgresql+psycopg://', url)


def apply_env_file(env_file: str | None) -> None:
    """Put an env file's values into this process's environment, under what is already set there."""
    for key, value in environment(os.environ, env_file).items():
        os.environ.setdefault(key, value)
