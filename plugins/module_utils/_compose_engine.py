# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Compose target's one I/O boundary: the ``docker compose`` v2 CLI (argument lists, never a shell) for what
only Compose knows (the project model, creating containers the way Compose does), and the Docker engine API
through the ``docker`` SDK for containers, images, health and logs. Every call is recorded in the task's Run."""

from __future__ import annotations

import json
import os
import shlex
import tempfile
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils._exec import (
    DOCKER_SDK_MISSING, ExecError, _docker_sdk, docker_engine_address, run_process, unreachable_engine_message)
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

DEFAULT_FILES = ('compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml')
OVERRIDE_FILES = {'compose.yaml': 'compose.override.yaml', 'compose.yml': 'compose.override.yml',
                  'docker-compose.yaml': 'docker-compose.override.yaml', 'docker-compose.yml': 'docker-compose.override.yml'}
PROJECT_LABEL = 'com.docker.compose.project'
SERVICE_LABEL = 'com.docker.compose.service'
ONEOFF_LABEL = 'com.docker.compose.oneoff'


def compose_files(project_dir: str, files: list[str] | None) -> list[str]:
    """The compose files as absolute paths: the given ones, else those Compose itself would pick in ``project_dir``."""
    if files:
        return [os.path.join(project_dir, name) for name in files]
    for name in DEFAULT_FILES:
        path = os.path.join(project_dir, name)
        if os.path.exists(path):
            override = os.path.join(project_dir, OVERRIDE_FILES[name])
            return [path] + ([override] if os.path.exists(override) else [])
    raise ModuleFailure('no compose file in %s (looked for %s); give files' % (project_dir, ', '.join(DEFAULT_FILES)))


def read_text(path: str) -> str:
    try:
        with open(path, encoding='utf-8') as handle:
            return handle.read()
    except FileNotFoundError:
        return ''


def write_text(path: str, text: str) -> None:
    """Replace a file atomically (a temporary file beside it, renamed over it), keeping its mode."""
    directory = os.path.dirname(path) or '.'
    mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o644
    handle, temporary = tempfile.mkstemp(prefix='.artisan-', dir=directory)
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as out:
            out.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


class ComposeCli:
    """``docker compose`` for one project: its directory, files and name."""

    def __init__(self, project_dir: str, files: list[str], project_name: str | None, run: Run,
                 binary: str = 'docker') -> None:
        self.project_dir = project_dir
        self.files = files
        self.project_name = project_name
        self.task = run
        self.binary = binary

    def argv(self, *args: str) -> list[str]:
        argv = [self.binary, 'compose', '--project-directory', self.project_dir]
        for path in self.files:
            argv += ['--file', path]
        if self.project_name:
            argv += ['--project-name', self.project_name]
        return argv + list(args)

    def run(self, *args: str, what: str) -> str:
        argv = self.argv(*args)
        result = run_process(argv, dict(os.environ), command=shlex.join(argv))
        self.task.record(result.command)
        if result.rc != 0:
            raise ModuleFailure('%s failed: %s' % (what, result.stderr.strip() or 'rc %d' % result.rc),
                                cmd=result.command, rc=result.rc, stderr=result.stderr)
        return result.stdout_text()

    def config(self, interpolate: bool = True) -> dict[str, t.Any]:
        """The project model as Compose reads it (files merged, anchors and ``extends`` resolved)."""
        args = ['config', '--format', 'json'] + ([] if interpolate else ['--no-interpolate'])
        try:
            text = self.run(*args, what='reading the compose project (docker compose config)')
        except ModuleFailure as exc:
            exc.msg = 'the compose project is invalid: %s' % exc.msg.split(': ', 1)[-1]
            raise
        return json.loads(text)

    def scale_up(self, service: str, count: int) -> None:
        """One more container of ``service`` with its current definition, the running ones left as they are."""
        self.run('up', '--detach', '--no-deps', '--no-recreate', '--no-build', '--pull', 'never',
                 '--scale', '%s=%d' % (service, count), service, what='starting a new container of %s' % service)


class Engine:
    """The Docker engine the task's environment names, through the SDK's low-level client."""

    def __init__(self, run: Run, api: t.Any = None) -> None:
        self.task = run
        self._api = api
        self.address = docker_engine_address(os.environ)

    def api(self) -> t.Any:
        if self._api is None:
            try:
                docker = _docker_sdk()
            except ExecError:
                raise ModuleFailure(DOCKER_SDK_MISSING) from None
            try:
                self._api = docker.APIClient(version=None, **docker.utils.kwargs_from_env())
            except docker.errors.DockerException as exc:
                raise ModuleFailure(unreachable_engine_message(self.address, exc)) from exc
        return self._api

    def _call(self, what: str, record: str | None, call: t.Callable[[], t.Any]) -> t.Any:
        if record:
            self.task.record(record)
        docker = _docker_sdk()
        try:
            return call()
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise ModuleFailure('%s failed: %s' % (what, exc.explanation or exc)) from exc
        except docker.errors.DockerException as exc:
            raise ModuleFailure(unreachable_engine_message(self.address, exc)) from exc

    def containers(self, project: str, service: str | None = None) -> list[dict[str, t.Any]]:
        """Inspections of the project's (or one service's) containers, stopped ones included, one-off runs excluded."""
        labels = ['%s=%s' % (PROJECT_LABEL, project)] + (['%s=%s' % (SERVICE_LABEL, service)] if service else [])
        listed = self._call('listing containers', None,
                            lambda: self.api().containers(all=True, filters={'label': labels})) or []
        found = [self.inspect(item['Id']) for item in listed
                 if (item.get('Labels') or {}).get(ONEOFF_LABEL, 'False') != 'True']
        return [c for c in found if c is not None]

    def inspect(self, container: str) -> dict[str, t.Any] | None:
        return self._call('inspecting container %s' % container, None, lambda: self.api().inspect_container(container))

    def image(self, ref: str) -> dict[str, t.Any] | None:
        return self._call('inspecting image %s' % ref, None, lambda: self.api().inspect_image(ref))

    def tag(self, image_id: str, ref: str, repository: str, tag: str) -> None:
        self._call('tagging %s as %s' % (image_id, ref), 'docker image tag %s %s' % (image_id, ref),
                   lambda: self.api().tag(image_id, repository, tag, force=True))

    def pull(self, ref: str, repository: str, tag: str) -> None:
        def pull() -> None:
            for event in self.api().pull(repository, tag=tag, stream=True, decode=True):
                if event.get('error'):
                    raise ModuleFailure('pulling %s failed: %s' % (ref, event['error']))
        self._call('pulling %s' % ref, 'docker image pull %s' % ref, pull)

    def logs(self, container: str, lines: int) -> str:
        data = self._call('reading the logs of %s' % container, 'docker logs --tail %d %s' % (lines, container),
                          lambda: self.api().logs(container, tail=lines, stdout=True, stderr=True)) or b''
        return data.decode('utf-8', errors='replace')

    def stop(self, container: str, timeout: int | None) -> None:
        """Stop gracefully: the container's stop signal, then its own stop timeout (``stop_grace_period``) unless given."""
        shown = 'docker stop %s%s' % ('--time %d ' % timeout if timeout is not None else '', container)
        self._call('stopping %s' % container, shown,
                   lambda: self.api().stop(container, timeout=timeout) if timeout is not None else self.api().stop(container))

    def remove(self, container: str) -> None:
        self._call('removing %s' % container, 'docker rm --force %s' % container,
                   lambda: self.api().remove_container(container, force=True))
