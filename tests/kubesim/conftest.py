"""Make `kubesim` importable and provide its fixtures (kubesim/testing.py): a simulated cluster per test."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kubesim.testing import kubesim, kubesim_docker, register_markers  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


def pytest_configure(config):
    register_markers(config)
