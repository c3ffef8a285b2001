"""The simulator's fixtures (kubesim.testing), from the installed kubesim package: a simulated cluster per test."""

from kubesim.testing import kubesim, kubesim_docker, register_markers  # noqa: F401  pylint: disable=unused-import


def pytest_configure(config):
    register_markers(config)
