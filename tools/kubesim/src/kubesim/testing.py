"""pytest fixtures for a simulated cluster, shared by tools/kubesim/tests and tests/integration.

A conftest imports them by name (``from kubesim.testing import kubesim, kubesim_docker``) from the installed
package (tools/kubesim), and registers the marker with ``register_markers(config)``.
"""

from __future__ import annotations

import os

import pytest

from .docker_engine import engine_problem
from .simulator import Simulator


class RunningSimulator:
    """What tests get: the URL, a kubeconfig file, typed clients, the clock and the simulator itself."""

    def __init__(self, simulator: Simulator, kubeconfig: str):
        self.simulator = simulator
        self.url = simulator.url
        self.kubeconfig = kubeconfig
        self.clock = simulator.clock

    def api_client(self):
        return self.simulator.api_client()

    def call(self, function, *args, **kwargs):
        return self.simulator.call(function, *args, **kwargs)

    def service_address(self, name: str, namespace: str = 'default', port: int | None = None):
        return self.simulator.service_address(name, namespace, port)


def register_markers(config) -> None:
    config.addinivalue_line('markers', 'kubesim_nodes(count): number of simulated nodes for the kubesim fixture (default 1)')


@pytest.fixture()
def kubesim(tmp_path, request):
    """A fresh simulator at 20x speed on a free 127.0.0.1 port; fails the test if a controller raised.

    ``@pytest.mark.kubesim_nodes(3)`` gives the cluster three nodes (kubesim-node, kubesim-node2, kubesim-node3).
    """
    marker = request.node.get_closest_marker('kubesim_nodes')
    nodes = marker.args[0] if marker else 1
    simulator = Simulator(speed=float(os.environ.get('KUBESIM_SPEED', '20')), nodes=nodes).start()
    running = RunningSimulator(simulator, simulator.write_kubeconfig(str(tmp_path / 'kubeconfig')))
    yield running
    simulator.stop()
    assert not simulator.manager.errors, simulator.manager.errors


@pytest.fixture()
def kubesim_docker(tmp_path):
    """A simulator whose pods are real containers (docker runtime) at 5x speed; skipped without a Docker engine.

    ``simulator.service_address(name)`` is a Service's proxy, ``simulator.network`` the pods' network.
    Every container and network it made is removed when the test ends.
    """
    if engine_problem(timeout=5):
        pytest.skip('no Docker engine')
    simulator = Simulator(speed=float(os.environ.get('KUBESIM_DOCKER_SPEED', '5')), runtime='docker').start()
    running = RunningSimulator(simulator, simulator.write_kubeconfig(str(tmp_path / 'kubeconfig')))
    yield running
    simulator.stop()
    assert not simulator.manager.errors, simulator.manager.errors
