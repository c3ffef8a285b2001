# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose_oneoff: a kept-alive one-off container of a compose service's definition (its environment and project
network) from another image - the release about to be deployed - so that its migrations can run in it with
``docker exec`` before any serving container changes. Decisions are the pure functions at the top; ``OneOff`` does
the I/O through ``_compose_engine``."""

from __future__ import annotations

import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _compose as decide
from ansible_collections.artisan.upgrade.plugins.module_utils._compose_actions import Stack
from ansible_collections.artisan.upgrade.plugins.module_utils._compose_engine import (
    ONEOFF_LABEL, PROJECT_LABEL, SERVICE_LABEL, Engine)
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

# Marks the containers this module made: only those are ever replaced or removed.
OWNER_LABEL = 'io.artisan-upgrade.oneoff'


def container_spec(model: dict[str, t.Any], project: str, service: str, name: str, image_id: str,
                   command: list[str]) -> dict[str, t.Any]:
    """What to create: the service's environment, user and working folder as Compose reads them, the image given, the
    command as entrypoint (whatever the image's is), no healthcheck (it only waits), on the service's first network."""
    spec = (model.get('services') or {}).get(service) or {}
    environment = spec.get('environment') or {}
    if isinstance(environment, list):
        environment = dict(item.split('=', 1) if '=' in item else (item, None) for item in environment)
    networks = list((spec.get('networks') or {'default': None}).keys())
    declared = model.get('networks') or {}
    network = (declared.get(networks[0]) or {}).get('name') or '%s_%s' % (project, networks[0])
    return dict(
        name=name, image=image_id, entrypoint=command[:1], command=command[1:],
        environment={k: str(v) for k, v in sorted(environment.items()) if v is not None},
        user=spec.get('user') or None, working_dir=spec.get('working_dir') or None,
        labels={PROJECT_LABEL: project, SERVICE_LABEL: service, ONEOFF_LABEL: 'True', OWNER_LABEL: name},
        network=network, healthcheck={'test': ['NONE']})


def plan(existing: dict[str, t.Any] | None, project: str, image_id: str | None, state: str) -> str:
    """keep, create, replace or remove; fails on a container of that name this module did not make."""
    if existing is None:
        return 'create' if state == 'present' else 'keep'
    labels = (existing.get('Config') or {}).get('Labels') or {}
    if labels.get(OWNER_LABEL) is None or labels.get(PROJECT_LABEL) != project:
        raise ModuleFailure('a container named %s exists and is not a one-off container of compose project %s made by '
                            'compose_oneoff; refusing to touch it (choose another name)'
                            % (existing.get('Name', '').lstrip('/'), project))
    if state == 'absent':
        return 'remove'
    running = (existing.get('State') or {}).get('Running')
    return 'keep' if running and existing.get('Image') == image_id else 'replace'


def shown_command(spec: dict[str, t.Any]) -> str:
    """The ``docker run`` doing the same, with the names of the environment variables only (they hold secrets)."""
    return 'docker run --detach --name %s --network %s %s--entrypoint %s %s %s' % (
        spec['name'], spec['network'], ''.join('--env %s ' % key for key in spec['environment']),
        spec['entrypoint'][0], spec['image'], ' '.join(spec['command']))


class OneOffEngine(Engine):
    """The engine calls only this module makes."""

    def run_container(self, spec: dict[str, t.Any]) -> str:
        def create() -> str:
            api = self.api()
            host_config = api.create_host_config(network_mode=spec['network'])
            created = api.create_container(
                spec['image'], command=spec['command'], entrypoint=spec['entrypoint'], name=spec['name'],
                environment=spec['environment'], user=spec['user'], working_dir=spec['working_dir'],
                labels=spec['labels'], host_config=host_config, healthcheck=spec['healthcheck'], detach=True)
            api.start(created['Id'])
            return created['Id']
        return self._call('starting the one-off container %s' % spec['name'], shown_command(spec), create)


def perform(params: dict[str, t.Any], check_mode: bool, run: Run, engine: OneOffEngine | None = None) -> dict[str, t.Any]:
    engine = engine or OneOffEngine(run)
    stack = Stack(params, run, engine)
    service, name, state = params['service'], params['name'], params['state']
    stack.check_services([service])
    image_id, pull = None, False
    ref = params.get('image') or stack.effective[service]
    if state == 'present':
        present = engine.image(ref)
        pull = decide.pull_needed(params['pull'], present is not None, False)
        if present is None and not pull:
            raise ModuleFailure('image %s is not on this host and pull is %s; build or load it first, or set pull to '
                                'missing' % (ref, params['pull']))
        image_id = None if pull else present['Id']
    existing = engine.inspect(name)
    action = plan(existing, stack.name, image_id or '', state)
    result: dict[str, t.Any] = dict(project_name=stack.name, name=name, service=service, image=ref if state == 'present'
                                    else None, image_id=image_id, action=action, changed=action != 'keep')
    if check_mode or action == 'keep':
        verb = {'create': 'would start', 'replace': 'would replace', 'remove': 'would remove', 'keep': ''}[action]
        result['msg'] = ('%s the one-off container %s' % (verb, name) if action != 'keep' else
                         'one-off container %s %s' % (name, 'runs %s' % ref if state == 'present' else 'is absent'))
        return result
    if pull:
        repository, tag = decide.split_image(ref)
        engine.pull(ref, repository, tag)
        image_id = (engine.image(ref) or {}).get('Id')
        if existing is not None and existing.get('Image') == image_id and (existing.get('State') or {}).get('Running'):
            result.update(image_id=image_id, action='keep', changed=True, msg='pulled %s; one-off container %s runs it'
                          % (ref, name))
            return result
        result['image_id'] = image_id
    if existing is not None:
        engine.remove(existing['Id'])
    if action == 'remove':
        result['msg'] = 'removed the one-off container %s' % name
        return result
    spec = container_spec(stack.model, stack.name, service, name, image_id, params['command'])
    result['container_id'] = engine.run_container(spec)
    result['msg'] = '%s the one-off container %s of service %s from %s (%s)' % (
        'started' if action == 'create' else 'replaced', name, service, ref, image_id)
    return result
