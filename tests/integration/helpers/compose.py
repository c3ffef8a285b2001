"""Docker Compose v2 projects for tests: unique project names, loopback ports, removed at the end."""

from __future__ import annotations

import os
import subprocess
import time
import typing as t
import uuid


class ComposeProject:
    def __init__(self, project_dir: str, env: dict[str, str] | None = None) -> None:
        self.project_dir = project_dir
        self.name = 'artisan-test-%s' % uuid.uuid4().hex[:8]
        self.env = dict(os.environ, **(env or {}))

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        argv = ['docker', 'compose', '--project-directory', self.project_dir, '-p', self.name] + list(args)
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError('%s failed (rc=%d):\n%s%s' % (' '.join(argv), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def up_healthy(self, deadline: float = 600) -> None:
        """``up -d --wait`` until every service is healthy, bounded: compose gives up at the first unhealthy
        verdict, which a loaded machine gives a container that answers a moment later."""
        end = time.monotonic() + deadline
        while True:
            left = max(30, int(end - time.monotonic()))
            proc = self.run('up', '-d', '--wait', '--wait-timeout', str(left), check=False, timeout=left + 60)
            if proc.returncode == 0:
                return
            if 'is unhealthy' not in proc.stderr or time.monotonic() >= end:
                raise AssertionError('docker compose up -d --wait failed (rc=%d):\n%s%s' % (proc.returncode, proc.stdout, proc.stderr))
            time.sleep(2)

    def container_id(self, service: str) -> str:
        return self.run('ps', '-q', service).stdout.strip()

    def down(self) -> None:
        self.run('down', '--volumes', '--remove-orphans', '--timeout', '10', check=False)

    def leftovers(self, client: t.Any) -> list[str]:
        """Anything still carrying this project's label after down()."""
        selector = {'label': 'com.docker.compose.project=%s' % self.name}
        return ([c.name for c in client.containers.list(all=True, filters=selector)]
                + [n.name for n in client.networks.list(filters=selector)]
                + [v.name for v in client.volumes.list(filters=selector)])
