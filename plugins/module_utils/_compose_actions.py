# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What compose_service and compose_stack_info do, in order; decisions come from ``_compose``, I/O from
``_compose_engine``, nginx steps from canary_shift's nginx provider (``_canary_nginx``)."""

from __future__ import annotations

import os
import time
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _compose as decide
from ansible_collections.artisan.upgrade.plugins.module_utils._canary import CanarySpecError
from ansible_collections.artisan.upgrade.plugins.module_utils._canary_nginx import NginxHost, NginxShift
from ansible_collections.artisan.upgrade.plugins.module_utils._compose_engine import (
    ComposeCli, Engine, compose_files, read_text, write_text)
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import DockerTransport
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

POLL = 0.5


class Stack:
    """One compose project: its files, its model as Compose reads it, and its containers."""

    def __init__(self, params: dict[str, t.Any], run: Run, engine: Engine | None = None) -> None:
        self.project_dir = os.path.abspath(params['project_src'])
        if not os.path.isdir(self.project_dir):
            raise ModuleFailure('project_src %s is not a folder' % self.project_dir)
        self.files = compose_files(self.project_dir, params.get('files'))
        self.env_path = os.path.join(self.project_dir, params.get('env_file') or '.env')
        self.cli = ComposeCli(self.project_dir, self.files, params.get('project_name'), run)
        self.engine = engine or Engine(run)
        self.load()

    def load(self) -> None:
        self.model = self.cli.config()
        self.name = self.model['name']
        self.cli.project_name = self.name
        self.effective = {name: spec.get('image') for name, spec in (self.model.get('services') or {}).items()}

    def raw_images(self) -> dict[str, str]:
        raw = self.cli.config(interpolate=False)
        return {name: spec.get('image') for name, spec in (raw.get('services') or {}).items()}

    def check_services(self, services: list[str]) -> None:
        unknown = [s for s in services if s not in self.effective]
        if unknown:
            raise ModuleFailure('service(s) %s not found in compose project %s (its services: %s)'
                                % (', '.join(unknown), self.name, ', '.join(sorted(self.effective))))

    def containers(self, service: str) -> list[dict[str, t.Any]]:
        return self.engine.containers(self.name, service)

    def running(self, service: str) -> list[dict[str, t.Any]]:
        return [c for c in self.containers(service) if (c.get('State') or {}).get('Running')]

    def describe(self) -> dict[str, t.Any]:
        """The project and each service's configured image and running containers (image IDs and digests)."""
        services = {}
        for name in sorted(self.effective):
            containers = self.containers(name)
            summaries = []
            for container in containers:
                image = self.engine.image(container.get('Image')) or {}
                summaries.append(decide.container_summary(container, image.get('RepoDigests')))
            running = [s for s in summaries if s['status'] == 'running']
            image_ids = sorted({s['image_id'] for s in running})
            services[name] = dict(image=self.effective[name], version=decide.service_version(containers),
                                  image_ids=image_ids, image_id=image_ids[0] if len(image_ids) == 1 else None,
                                  containers=summaries, running=len(running))
        return dict(project_name=self.name, project_dir=self.project_dir, files=self.files, env_file=self.env_path,
                    services=services)


def info(params: dict[str, t.Any], run: Run) -> dict[str, t.Any]:
    """What compose_stack_info reports: the project and its (or the wanted) services."""
    stack = Stack(params, run)
    wanted = params.get('services') or []
    stack.check_services(wanted)
    described = stack.describe()
    if wanted:
        described['services'] = {name: described['services'][name] for name in wanted}
    return described


class Deploy:
    """One compose_service task: images resolved, files edited, containers replaced one at a time."""

    def __init__(self, params: dict[str, t.Any], check_mode: bool, warn: t.Callable[[str], None], run: Run,
                 engine: Engine | None = None, sleep: t.Callable[[float], None] = time.sleep,
                 clock: t.Callable[[], float] = time.monotonic) -> None:
        self.params = params
        self.check_mode = check_mode
        self.warn = warn
        self.run = run
        self.sleep = sleep
        self.clock = clock
        self.stack = Stack(params, run, engine)
        self.engine = self.stack.engine
        self.services = params['services']
        self.stack.check_services(self.services)

    def wanted_images(self) -> dict[str, str]:
        pins = self.params.get('image_ids') or {}
        unknown = sorted(set(pins) - set(self.services))
        if unknown:
            raise ModuleFailure('image_ids names service(s) %s that are not in services' % ', '.join(unknown))
        images = self.params.get('images') or {}
        wanted = {}
        for service in self.services:
            wanted[service] = images.get(service) or self.params.get('image') or self.stack.effective[service]
            if not wanted[service]:
                raise ModuleFailure('service %s has no image in the compose files and none was given' % service)
        return wanted

    def resolve(self, wanted: dict[str, str]) -> tuple[dict[str, str | None], list[str], list[str]]:
        """Each service's target image ID; the tags to move back to a pinned ID and the images to pull."""
        pins = self.params.get('image_ids') or {}
        targets: dict[str, str | None] = {}
        retags: list[tuple[str, str]] = []
        pulls: list[str] = []
        for service in self.services:
            ref = wanted[service]
            present = self.engine.image(ref)
            pin = pins.get(service)
            if pin:
                pinned = self.engine.image(pin)
                if pinned is None:
                    raise ModuleFailure('image %s (pinned for %s) is not on this host any more; it cannot be restored '
                                        'without a registry that still has it' % (pin, service))
                targets[service] = pinned['Id']
                if (present is None or present['Id'] != pinned['Id']) and (ref, pinned['Id']) not in retags:
                    retags.append((ref, pinned['Id']))
                continue
            if decide.pull_needed(self.params['pull'], present is not None, False):
                if ref not in pulls:
                    pulls.append(ref)
                targets[service] = None
                continue
            if present is None:
                raise ModuleFailure('image %s for service %s is not on this host and pull is %s; build or load it first, '
                                    'or set pull to missing' % (ref, service, self.params['pull']))
            targets[service] = present['Id']
        self.retags = retags
        return targets, ['%s -> %s' % (ref, image_id) for ref, image_id in retags], pulls

    def plan_files(self, wanted: dict[str, str]) -> decide.ImagePlan:
        texts = {path: read_text(path) for path in self.stack.files}
        try:
            spots = decide.last_spots([decide.image_spots(texts[path], path) for path in self.stack.files])
            plan = decide.plan_images(wanted, self.stack.effective, self.stack.raw_images(), texts, spots,
                                      read_text(self.stack.env_path), self.stack.env_path)
        except decide.ComposeError as exc:
            raise ModuleFailure(str(exc)) from None
        running = {s: len(self.stack.running(s)) for s in plan.changed_services if s not in self.services}
        extra = decide.bystanders(plan.changed_services, self.services, running)
        if extra:
            raise ModuleFailure('setting the image of %s would also change the image of running service(s) %s (they share '
                                'the image line or its variable); list them in services too'
                                % (', '.join(self.services), ', '.join(extra)))
        return plan

    def perform(self) -> dict[str, t.Any]:
        wanted = self.wanted_images()
        plan = self.plan_files(wanted)
        targets, retag_lines, pulls = self.resolve(wanted)
        befores = {path: read_text(path) for path in plan.files}
        containers = {s: self.stack.containers(s) for s in self.services}
        replace = {s: [c['Name'].lstrip('/') for c in decide.outdated(containers[s], targets[s])]
                   if targets[s] or self.check_mode else [] for s in self.services}
        before = {s: dict(image=self.stack.effective[s], image_ids=sorted({c['Image'] for c in containers[s]
                                                                           if c['State'].get('Running')}),
                          version=decide.service_version(containers[s])) for s in self.services}
        result: dict[str, t.Any] = dict(
            project_name=self.stack.name, before=before, images=wanted, image_ids=dict(targets), via=plan.via,
            also_changed=[s for s in plan.changed_services if s not in self.services], replaced={s: [] for s in self.services},
            changes=decide.summary(plan, retag_lines, pulls, replace), nginx=[],
            diff=[dict(before_header=path, after_header=path, before=befores[path], after=text)
                  for path, text in sorted(plan.files.items())])
        rolling = self.params['rollout'] == 'rolling'
        result['changed'] = bool(plan.files or retag_lines or pulls or (rolling and any(replace.values())))
        if self.check_mode or not result['changed']:
            result['msg'] = ('would change: %s' % '; '.join(result['changes']) if result['changed'] and self.check_mode
                             else 'services %s already run their images' % ', '.join(self.services))
            return result
        for ref, image_id in self.retags:
            repository, tag = decide.split_image(ref)
            self.engine.tag(image_id, ref, repository, tag)
        for ref in pulls:
            repository, tag = decide.split_image(ref)
            self.engine.pull(ref, repository, tag)
        for service in self.services:
            if targets[service] is None:
                targets[service] = (self.engine.image(wanted[service]) or {}).get('Id')
        result['image_ids'] = dict(targets)
        self.write_files(plan.files, befores, wanted)
        if rolling:
            try:
                for service in self.services:
                    self.roll(service, targets[service], result)
            except ModuleFailure as exc:
                for path, text in befores.items():
                    write_text(path, text)
                exc.msg += ('; the compose files were put back as they were' if befores else '')
                done = {s: names for s, names in result['replaced'].items() if names}
                if done:
                    exc.msg += ('; already replaced with the new image: %s (roll them back with the previous image_ids)'
                                % '; '.join('%s: %s' % (s, ', '.join(n)) for s, n in sorted(done.items())))
                exc.context = dict(result, changed=True, **exc.context)
                raise
        replaced = sum(len(names) for names in result['replaced'].values())
        result['msg'] = 'services %s set to %s; %d container(s) replaced one at a time' % (
            ', '.join(self.services), ', '.join(sorted(set(wanted.values()))), replaced)
        return result

    def write_files(self, files: dict[str, str], befores: dict[str, str], wanted: dict[str, str]) -> None:
        for path, text in files.items():
            write_text(path, text)
        if not files:
            return
        self.stack.load()
        wrong = {s: self.stack.effective.get(s) for s in self.services if self.stack.effective.get(s) != wanted[s]}
        if wrong:
            for path, text in befores.items():
                write_text(path, text)
            raise ModuleFailure('after the edit Compose still reads %s (a variable set in the environment of the task wins '
                                'over %s); the files were put back' % (
                                    ', '.join('%s: %s' % item for item in sorted(wrong.items())), self.stack.env_path))

    # --- rolling replacement --------------------------------------------------------------------------------

    def roll(self, service: str, image_id: str | None, result: dict[str, t.Any]) -> None:
        for old in decide.outdated(self.stack.containers(service), image_id):
            old_name = old['Name'].lstrip('/')
            new = self.start_new(service)
            try:
                self.wait_healthy(service, new)
                self.shift_nginx(service, old, new, result)
            except ModuleFailure:
                self.engine.remove(new['Id'])
                raise
            self.engine.stop(old['Id'], self.params.get('stop_timeout'))
            self.engine.remove(old['Id'])
            result['replaced'][service].append(old_name)

    def start_new(self, service: str) -> dict[str, t.Any]:
        before = {c['Id'] for c in self.stack.containers(service)}
        running = len(self.stack.running(service))
        self.stack.cli.scale_up(service, running + 1)
        created = [c for c in self.stack.containers(service) if c['Id'] not in before]
        if len(created) != 1:
            raise ModuleFailure('docker compose up --scale %s=%d made %d new container(s) instead of one'
                                % (service, running + 1, len(created)))
        return created[0]

    def wait_healthy(self, service: str, new: dict[str, t.Any]) -> None:
        started = self.clock()
        deadline = started + self.params['health_timeout']
        name = new['Name'].lstrip('/')
        while True:
            state = (self.engine.inspect(new['Id']) or {}).get('State') or {}
            verdict = decide.health(state)
            if verdict in ('healthy', 'running'):
                if verdict == 'running':
                    self.warn('service %s has no healthcheck: its new container %s counts as ready once running'
                              % (service, name))
                self.run.record('docker inspect %s  # %s after %.1fs' % (name, verdict, self.clock() - started))
                return
            # unhealthy is not final: a start slower than the image's start period may still pass a later check.
            if verdict == 'exited' or self.clock() >= deadline:
                logs = self.engine.logs(new['Id'], self.params['log_lines'])
                raise ModuleFailure(decide.unhealthy_message(service, name, new['Config'].get('Image'), verdict, state, logs,
                                                             self.clock() - started),
                                    health_log=decide.health_log(state, 10), logs=logs.splitlines())
            self.sleep(POLL)

    def nginx_container(self) -> dict[str, t.Any] | None:
        options = self.params.get('nginx')
        if not options:
            return None
        if options.get('container'):
            found = self.engine.inspect(options['container'])
        else:
            running = self.stack.running(options['service'])
            found = running[0] if running else None
        if not found or not (found.get('State') or {}).get('Running'):
            raise ModuleFailure('the nginx container (%s) is not running: the old containers cannot be taken out of nginx'
                                % (options.get('container') or 'service %s' % options.get('service')))
        return found

    def address(self, container: dict[str, t.Any], nginx: dict[str, t.Any]) -> str:
        shared = decide.shared_network(container, nginx)
        if shared is None:
            raise ModuleFailure('container %s shares no network with the nginx container %s'
                                % (container['Name'].lstrip('/'), nginx['Name'].lstrip('/')))
        return '%s:%d' % (shared[1], self.params['nginx']['port'])

    def shift_nginx(self, service: str, old: dict[str, t.Any], new: dict[str, t.Any], result: dict[str, t.Any]) -> None:
        nginx = self.nginx_container()
        if nginx is None:
            return
        options = self.params['nginx']
        pool = options.get('pool') or self.services
        serving = [self.address(c, nginx) for s in pool for c in self.stack.running(s)]
        new_address = self.address(self.engine.inspect(new['Id']) or new, nginx)
        split = decide.backend_split(serving, self.address(old, nginx), new_address)
        params = dict(weight=split['weight'], force=False, nginx=dict(
            include_path=options['include_path'], upstream=options['upstream'], stable=split['stable'],
            canary=split['canary'], drain=split['drain'], mode='weights', sticky_by='client_address', sticky_name=None,
            split_variable=None, upstream_directives=None, previous_path=None, require_running=True,
            config=options['config'], binary='nginx', reload='docker_kill', service='nginx',
            reload_timeout=options['reload_timeout'], probe_backends=False))
        host = NginxHost(DockerTransport(nginx['Id']), 'nginx', options['config'], task=self.run)
        try:
            shifted = NginxShift(params, host, check_mode=False, warn=self.warn).perform()
        except CanarySpecError as exc:
            raise ModuleFailure('nginx split for %s: %s' % (service, exc)) from None
        result['nginx'].append(dict(service=service, out=old['Name'].lstrip('/'), into=new['Name'].lstrip('/'),
                                    backends=split['stable'] + split['canary'], msg=shifted['msg']))
