"""Fixtures for integration tests against real services: PostgreSQL, the Docker engine, nginx, Ansible,
and the demo application (its wheelhouse, one venv per release, real app processes)."""

from __future__ import annotations

import collections
import os
import resource
import shutil
import subprocess

import pytest
# The Kubernetes simulator's fixtures: the kubesim package (tools/kubesim), installed in the test venv.
from kubesim.testing import kubesim, kubesim_docker, register_markers  # noqa: F401  pylint: disable=unused-import

from .demoapp.support import RELEASES, Apps, Databases, build_wheelhouse, install_release
from .helpers import ansible as ansible_helpers
from .helpers.docker import DockerSession, DockerUnavailable, connect
from .helpers.nginx import NginxServer
from .helpers.postgres import PostgresServer


CPU_AT_SETUP = pytest.StashKey[float]()


def pytest_configure(config):
    register_markers(config)


# The files that take longest (make test's --durations), longest first: xdist's --dist loadfile hands out files in
# collection order, and in name order these came last, leaving one worker busy for minutes after the others.
SLOW_FILES_FIRST = (
    'test_rollback_systemd.py', 'test_deploy_systemd.py', 'test_upgrade_systemd.py', 'test_upgrade_compose.py',
    'test_deploy_compose_strategies.py', 'test_upgrade_k8s.py', 'test_deploy_k8s_traffic.py', 'test_deploy_compose.py',
    'test_deploy_k8s.py', 'test_awx_runner.py',
)


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return SLOW_FILES_FIRST.index(name) if name in SLOW_FILES_FIRST else len(SLOW_FILES_FIRST)

    items.sort(key=rank)  # stable: the order within a file, and of the other files, stays


def _cpu_seconds() -> float:
    """CPU time of this process and of every child it has waited for (ansible-playbook and its forks, docker, kubectl)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[CPU_AT_SETUP] = _cpu_seconds()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):
    if call.when == 'teardown' and CPU_AT_SETUP in item.stash:  # the report carries it to xdist's controller
        item.user_properties.append(('cpu_seconds', _cpu_seconds() - item.stash[CPU_AT_SETUP]))


def pytest_terminal_summary(terminalreporter):
    """Wall and CPU seconds per file: on a machine of two cores the CPU a file burns (ansible-playbook runs above
    all) slows every other file running beside it, so the files to make cheaper are the ones at the top."""
    wall, cpu = collections.Counter(), collections.Counter()
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, 'when', None) not in ('setup', 'call', 'teardown'):
                continue
            name = report.nodeid.split('::')[0]
            wall[name] += report.duration
            cpu[name] += sum(value for key, value in report.user_properties if key == 'cpu_seconds')
    if not cpu:
        return
    terminalreporter.write_sep('=', 'CPU seconds per file (this process and the commands it ran; not containers)')
    for name, seconds in cpu.most_common(20):
        terminalreporter.write_line('%7.1f cpu %7.1f wall  %s' % (seconds, wall[name], name))
    terminalreporter.write_line('%7.1f cpu %7.1f wall  in all' % (sum(cpu.values()), sum(wall.values())))


def pytest_sessionstart(session):
    if not os.environ.get('ANSIBLE_COLLECTIONS_PATH'):
        raise pytest.UsageError('ANSIBLE_COLLECTIONS_PATH is not set: run integration tests through '
                                'scripts/gates.sh integration (make test), which points it at this collection')


@pytest.fixture(scope='session')
def postgres():
    """A PostgreSQL cluster for the whole session; tests create their own databases in it."""
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture()
def database(postgres, request):
    """A fresh database owned by the test role, dropped after the test."""
    name = 'test_%s' % request.node.name.lower()[:40].replace('[', '_').replace(']', '').replace('-', '_')
    postgres.create_database(name)
    yield name
    postgres.drop_database(name)


@pytest.fixture(scope='session')
def docker_session():
    """The Docker engine, failing loudly (never skipping) when it is not there; removes what tests made."""
    try:
        client = connect()
    except DockerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    session = DockerSession(client)
    yield session
    session.cleanup()


@pytest.fixture()
def nginx_factory():
    """Start real nginx servers with a given ``server {}`` body (and ``http {}`` directives); all are stopped after the test."""
    servers = []

    def start(server_block: str, http_block: str = '') -> NginxServer:
        server = NginxServer(server_block, http_block).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture()
def run_module():
    return ansible_helpers.run_module


@pytest.fixture()
def run_playbook():
    return ansible_helpers.run_playbook


@pytest.fixture(scope='session')
def demoapp_wheelhouse():
    """The offline wheelhouse of every release and its dependencies (examples/demoapp/build-wheels.sh)."""
    try:
        return build_wheelhouse()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope='session')
def demoapp_releases(demoapp_wheelhouse):
    """{version: Release}: each release installed offline in its own Python 3.11 venv, cached under .cache."""
    try:
        return {version: install_release(version, demoapp_wheelhouse) for version in RELEASES}
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture()
def demoapp(demoapp_releases, tmp_path):
    """Start `demoapp serve` processes for one test: demoapp.start('2.0.0', dsn=...); all get SIGTERM at teardown."""
    apps = Apps(demoapp_releases, tmp_path)
    yield apps
    apps.stop_all()


@pytest.fixture(scope='module')
def module_demoapp(demoapp_releases, tmp_path_factory):
    """Like demoapp, for processes a whole module shares."""
    apps = Apps(demoapp_releases, tmp_path_factory.mktemp('demoapp'))
    yield apps
    apps.stop_all()


@pytest.fixture(scope='module')
def module_databases(postgres, request):
    """Create databases owned by the app role that a whole module shares: module_databases.create()."""
    databases = Databases(postgres, 'demoapp_%s' % request.module.__name__.rsplit('.', 1)[-1][:20])
    yield databases
    databases.drop_all()


@pytest.fixture(scope='module')
def migrated_dsn(demoapp_releases, module_databases, postgres):
    """migrated_dsn('2.0.0'): the URL of a new module database at that release's schema head, as the app role."""
    def make(version: str) -> str:
        url = postgres.dsn(module_databases.create(), 'artisan')
        demoapp_releases[version].migrate(url, 'upgrade', 'head')
        return url
    return make


@pytest.fixture()
def kubectl_docker(kubesim_docker):
    """``kubectl(*args, stdin=None) -> stdout`` against the kubesim_docker cluster: kubectl 1.32 as an independent
    client of the simulator (preinstalled on these machines; the test is skipped without it)."""
    binary = shutil.which('kubectl')
    if binary is None:
        pytest.skip('kubectl is not installed')

    def kubectl(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run([binary, '--kubeconfig', kubesim_docker.kubeconfig, *args], input=stdin,
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, 'kubectl %s: %s' % (' '.join(args), result.stderr)
        return result.stdout

    return kubectl
