"""The demo application as tests use it: installed releases, running processes, and what they answer."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import hashlib
import hmac
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import time
import typing as t

import requests

REPO = pathlib.Path(__file__).resolve().parents[3]
CACHE = pathlib.Path(os.environ.get('ARTISAN_CACHE') or REPO / '.cache')
BUILD_WHEELS = REPO / 'examples' / 'demoapp' / 'build-wheels.sh'
WHEELHOUSE = CACHE / 'wheelhouse'
RELEASES = ('1.0.0', '2.0.0', '3.0.0')
HEADS = {'1.0.0': '0001', '2.0.0': '0002', '3.0.0': '0003'}
SECRET_KEY = 'integration-tests-signing-key-of-forty-bytes'
DEMO_USER = {'username': 'test@example.com', 'password': 'password'}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def python311() -> str:
    """The same CPython 3.11 the wheel build uses (scripts/lib.sh find_python): one search, one answer."""
    proc = subprocess.run(['bash', '-c', '. "$0/scripts/lib.sh" && find_python 3.11 ARTISAN_PYTHON311', str(REPO)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or 'no Python 3.11 with venv found: set ARTISAN_PYTHON311')
    return proc.stdout.strip()


def build_wheelhouse() -> pathlib.Path:
    proc = subprocess.run([str(BUILD_WHEELS)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError('build-wheels.sh failed (rc=%d):\n%s%s' % (proc.returncode, proc.stdout, proc.stderr))
    return WHEELHOUSE


@contextlib.contextmanager
def file_lock(path: pathlib.Path) -> t.Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def sha256_file(path: pathlib.Path) -> str:
    with open(path, 'rb') as handle:
        return hashlib.file_digest(handle, 'sha256').hexdigest()


@dataclasses.dataclass(frozen=True)
class Release:
    """One release installed offline from the wheelhouse into a venv of its own, as a host or an image would."""

    version: str
    venv: pathlib.Path

    @property
    def head(self) -> str:
        return HEADS[self.version]

    @property
    def major(self) -> int:
        return int(self.version.split('.')[0])

    def bin(self, name: str) -> str:
        return str(self.venv / 'bin' / name)

    def database_env(self, dsn: str) -> dict[str, str]:
        """The variable this release reads the database URL from."""
        return {'DATABASE_URI' if self.major == 1 else 'DATABASE_URL': dsn}

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([self.bin('demoapp'), *args], env=base_env(env), capture_output=True, text=True,
                              timeout=timeout, check=False)

    def migrate(self, dsn: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = self.run('migrate', *args, env=self.database_env(dsn))
        if check and proc.returncode != 0:
            raise AssertionError('demoapp %s migrate %s failed (rc=%d):\n%s%s'
                                 % (self.version, ' '.join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc


def pip_install(venv: pathlib.Path, wheelhouse: pathlib.Path, *args: str) -> None:
    proc = subprocess.run([str(venv / 'bin' / 'pip'), 'install', '-q', '--disable-pip-version-check', '--no-index',
                           '--find-links', str(wheelhouse), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError('offline pip install %s failed:\n%s%s' % (' '.join(args), proc.stdout, proc.stderr))


def install_release(version: str, wheelhouse: pathlib.Path) -> Release:
    """A venv with demoapp==version installed offline, cached under .cache; safe across concurrent runs.

    A new build of the app alone is reinstalled into the existing venv; new dependencies make a new venv.
    """
    root = CACHE / 'demoapp-venvs'
    venv = root / version
    wheel = wheelhouse / ('demoapp-%s-py3-none-any.whl' % version)
    deps_key = ' '.join(sha256_file(REPO / 'examples' / 'demoapp' / name) for name in ('constraints.txt', 'pyproject.toml'))
    app_key = sha256_file(wheel)
    deps_marker, app_marker = venv / '.artisan-deps', venv / '.artisan-app'
    with file_lock(root / ('%s.lock' % version)):
        if not (deps_marker.exists() and deps_marker.read_text(encoding='utf-8') == deps_key):
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([python311(), '-m', 'venv', str(venv)], check=True, capture_output=True)
            pip_install(venv, wheelhouse, str(wheel))
            deps_marker.write_text(deps_key, encoding='utf-8')
        elif not (app_marker.exists() and app_marker.read_text(encoding='utf-8') == app_key):
            pip_install(venv, wheelhouse, '--no-deps', '--force-reinstall', str(wheel))
        app_marker.write_text(app_key, encoding='utf-8')
    return Release(version, venv)


def base_env(extra: t.Mapping[str, str | None] | None = None) -> dict[str, str | None]:
    """A clean environment: nothing of the test runner's (DATABASE_URL, ...) leaks into the app."""
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'LANG': 'C.UTF-8', 'PYTHONUNBUFFERED': '1'}
    env.update(extra or {})
    return env


class AppProcess:
    """`demoapp serve` of one release as a real process on a free 127.0.0.1 port; output goes to a log file."""

    def __init__(self, release: Release, env: dict[str, str | None], log_path: pathlib.Path, args: t.Sequence[str] = (),
                 port: int | None = None) -> None:
        self.release = release
        self.port = port or free_port()
        # None in env unsets a variable, to leave it to an env file.
        merged = base_env({'HOST': '127.0.0.1', 'PORT': str(self.port), 'SECRET_KEY': SECRET_KEY, **env})
        self.env = {key: value for key, value in merged.items() if value is not None}
        self.log_path = log_path
        self.args = list(args)
        self.proc: subprocess.Popen | None = None
        self.started = 0.0

    @property
    def base_url(self) -> str:
        return 'http://127.0.0.1:%d' % self.port

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> 'AppProcess':
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen([self.release.bin('demoapp'), 'serve', *self.args], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.started = time.monotonic()
        return self

    def log(self) -> str:
        return self.log_path.read_text(encoding='utf-8', errors='replace')

    def wait_live(self, timeout: float = 30) -> 'AppProcess':
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('demoapp %s exited with %s before answering /health:\n%s'
                                     % (self.release.version, self.proc.returncode, self.log()))
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(self.url('/health'), timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        raise AssertionError('demoapp %s did not answer /health within %s s:\n%s' % (self.release.version, timeout, self.log()))

    def wait_exit(self, timeout: float = 20) -> int:
        return self.proc.wait(timeout=timeout)

    def get(self, path: str, **kwargs: t.Any) -> requests.Response:
        kwargs.setdefault('timeout', 10)
        return requests.get(self.url(path), **kwargs)

    def post(self, path: str, **kwargs: t.Any) -> requests.Response:
        kwargs.setdefault('timeout', 10)
        return requests.post(self.url(path), **kwargs)

    def login(self, username: str = DEMO_USER['username'], password: str = DEMO_USER['password']) -> str:
        response = self.post('/api/auth/login', json={'username': username, 'password': password})
        assert response.status_code == 200, response.text
        return response.json()['access_token']

    def me(self, token: str) -> requests.Response:
        return self.get('/api/users/me', headers={'Authorization': 'Bearer ' + token})

    def metrics(self) -> 'Metrics':
        response = self.get('/metrics')
        assert response.status_code == 200, response.text
        return Metrics.parse(response.text)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc is None:
            return None
        self.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


class Apps:
    """Starts app processes and stops every one of them at teardown."""

    def __init__(self, releases: dict[str, Release], log_dir: pathlib.Path) -> None:
        self.releases = releases
        self.log_dir = log_dir
        self.started: list[AppProcess] = []

    def start(self, version: str, env: dict[str, str | None] | None = None, dsn: str | None = None, wait: bool = True,
              args: t.Sequence[str] = (), port: int | None = None) -> AppProcess:
        release = self.releases[version]
        full_env: dict[str, str | None] = dict(release.database_env(dsn)) if dsn else {}
        full_env.update(env or {})
        log_path = self.log_dir / ('demoapp-%s-%d.log' % (version, len(self.started)))
        app = AppProcess(release, full_env, log_path, args, port).start()
        self.started.append(app)
        return app.wait_live() if wait else app

    def start_together(self, versions: t.Sequence[str], dsns: t.Sequence[str]) -> list[AppProcess]:
        """Several servers, started at once and then waited for: start-up is mostly imports, on two cores."""
        apps = [self.start(version, dsn=dsn, wait=False) for version, dsn in zip(versions, dsns)]
        return [app.wait_live() for app in apps]

    def stop_all(self) -> None:
        for app in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                app.stop()


class Databases:
    """Databases owned by the app role, made for a module or a test and dropped afterwards."""

    def __init__(self, postgres: t.Any, prefix: str) -> None:
        self.postgres = postgres
        self.prefix = prefix
        self.names: list[str] = []

    def create(self) -> str:
        name = '%s_%d_%d' % (self.prefix, os.getpid(), len(self.names))
        self.postgres.create_database(name)
        self.names.append(name)
        return name

    def drop_all(self) -> None:
        for name in self.names:
            self.postgres.drop_database(name)


class Metrics:
    """Samples of a Prometheus text exposition: {(name, frozenset of label pairs): value}."""

    _LINE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>.*)\})? (?P<value>\S+)$')
    _LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

    def __init__(self, samples: dict[tuple[str, frozenset], float]) -> None:
        self.samples = samples

    @classmethod
    def parse(cls, text: str) -> 'Metrics':
        samples = {}
        for line in text.splitlines():
            if not line or line.startswith('#'):
                continue
            match = cls._LINE.match(line)
            assert match, 'not a Prometheus sample: %r' % line
            labels = frozenset(cls._LABEL.findall(match.group('labels') or ''))
            samples[(match.group('name'), labels)] = float(match.group('value'))
        return cls(samples)

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels, 0 when absent (a counter not yet incremented)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def label_values(self, name: str, label: str) -> set[str]:
        return {dict(labels).get(label) for sample, labels in self.samples if sample == name} - {None}


def jwt_token(claims: dict[str, t.Any], key: str) -> str:
    """An HS256 JWT made by hand, to show the app checks the signature and expiry rather than trusting any token."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')
    signing_input = b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode()) + '.' + b64(json.dumps(claims).encode())
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + '.' + b64(signature)


def jwt_claims(token: str, key: str) -> dict[str, t.Any]:
    """The claims of an HS256 token, after checking its signature against key."""
    signing_input, _sep, signature = token.rpartition('.')
    expected = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(base64.urlsafe_b64decode(signature + '=' * (-len(signature) % 4)), expected), \
        'token not signed with SECRET_KEY'
    payload = signing_input.split('.')[1]
    return json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))


def columns(postgres: t.Any, database: str, table: str) -> set[str]:
    rows = postgres.query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                          'AND table_name = %s', [table], dbname=database)
    return {row[0] for row in rows}


def tables(postgres: t.Any, database: str) -> set[str]:
    rows = postgres.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", dbname=database)
    return {row[0] for row in rows}


def revision(postgres: t.Any, database: str) -> list[str] | None:
    if 'alembic_version' not in tables(postgres, database):
        return None
    return [row[0] for row in postgres.query('SELECT version_num FROM alembic_version', dbname=database)]


def wait_for(predicate: t.Callable[[], t.Any], timeout: float = 10, interval: float = 0.1) -> t.Any:
    """The first truthy result of predicate within timeout, else an AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError('condition not met within %s s' % timeout)
        time.sleep(interval)
