"""Fixtures for the demo application: its wheelhouse, one venv per release, real app processes and databases."""

from __future__ import annotations

import pytest

from .support import RELEASES, Apps, Databases, build_wheelhouse, install_release


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
