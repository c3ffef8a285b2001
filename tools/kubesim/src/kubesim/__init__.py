"""kubesim: a Kubernetes API simulator that the kubernetes Python client and kubectl talk to over HTTP."""

from .clock import Clock
from .simulator import Simulator, kubeconfig_text

__all__ = ['Clock', 'Simulator', 'kubeconfig_text']
