# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the Compose target, without I/O: where a service's image is written (an ``image:`` line of a
compose file or a variable of the project's ``.env``), the edits that set it, which containers a rolling
replacement must replace, the nginx split of each step, and what a container's state says about its health.

The compose CLI and the Docker engine are reached by ``_compose_engine`` only.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _env_file

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core on the controller, not on every target
    HAS_YAML = False

# What compose interpolates in a value: ${NAME}, ${NAME:-default} (and the other operators) or $NAME.
VARIABLE = re.compile(r'\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)')
PLAIN_IMAGE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._/:@-]*$')
VERSION_LABEL = 'org.opencontainers.image.version'


class ComposeError(ValueError):
    """The stack or the task's options cannot give what was asked; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class ImageSpot:
    """Where the ``image:`` value of a service is written: a span of one file (shared by services that use
    the same YAML anchor)."""

    path: str
    start: int
    end: int
    raw: str


@dataclasses.dataclass
class ImagePlan:
    """The file edits that give each service its wanted image."""

    files: dict[str, str] = dataclasses.field(default_factory=dict)  # path -> new text, changed files only
    env_values: dict[str, str] = dataclasses.field(default_factory=dict)  # variable -> value, changed ones only
    via: dict[str, str] = dataclasses.field(default_factory=dict)  # service -> how its image is set
    changed_services: list[str] = dataclasses.field(default_factory=list)  # services whose image changes


def _mapping_get(node: t.Any, key: str) -> t.Any:
    """The value node of ``key`` in a YAML mapping node, following ``<<`` merge keys as compose does."""
    if node is None or node.tag != 'tag:yaml.org,2002:map':
        return None
    merged = None
    for key_node, value_node in node.value:
        if key_node.value == key:
            return value_node
        if key_node.value == '<<' and merged is None:
            sources = value_node.value if value_node.tag == 'tag:yaml.org,2002:seq' else [value_node]
            for source in sources:
                merged = _mapping_get(source, key)
                if merged is not None:
                    break
    return merged


def image_spots(text: str, path: str) -> dict[str, ImageSpot]:
    """Each service of one compose file whose ``image:`` is a scalar written in this file, and where."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ComposeError('%s is not valid YAML: %s' % (path, exc)) from None
    services = _mapping_get(root, 'services')
    spots = {}
    if services is None or services.tag != 'tag:yaml.org,2002:map':
        return spots
    for key_node, service_node in services.value:
        image = _mapping_get(service_node, 'image')
        if image is not None and image.tag == 'tag:yaml.org,2002:str':
            spots[key_node.value] = ImageSpot(path, image.start_mark.index, image.end_mark.index, image.value)
    return spots


def image_variable(raw: str) -> tuple[str, str, str] | None:
    """``(prefix, NAME, suffix)`` of an image written as ``prefix${NAME...}suffix``; None without a variable."""
    found = list(VARIABLE.finditer(raw))
    if not found:
        return None
    if len(found) > 1:
        raise ComposeError('the image "%s" is made of several variables (%s); write it with one variable (for example '
                           'myapp:${APP_VERSION}) or without any'
                           % (raw, ', '.join(m.group('name') or m.group('bare') for m in found)))
    match = found[0]
    return raw[:match.start()], match.group('name') or match.group('bare'), raw[match.end():]


def variable_value(raw: str, image: str) -> tuple[str, str]:
    """The variable and the value that make ``raw`` (with one variable) read ``image``."""
    prefix, name, suffix = image_variable(raw) or ('', '', '')
    if not (image.startswith(prefix) and image.endswith(suffix) and len(image) > len(prefix) + len(suffix)):
        raise ComposeError('the image is written "%s", so setting %s can only give images of the form %s<%s>%s, not %s: '
                           'give such an image, or write the image without the variable'
                           % (raw, name, prefix, name, suffix, image))
    return name, image[len(prefix):len(image) - len(suffix)]


def yaml_scalar(value: str, original: str) -> str:
    """``value`` written as the YAML scalar it replaces was (plain, or quoted when it was or must be)."""
    if original[:1] not in ('"', "'") and PLAIN_IMAGE.match(value):
        return value
    return json.dumps(value)


def last_spots(spots_by_file: list[dict[str, ImageSpot]]) -> dict[str, ImageSpot]:
    """For each service, the spot of the last file that writes its image (later files override earlier ones)."""
    found: dict[str, ImageSpot] = {}
    for spots in spots_by_file:
        found.update(spots)
    return found


def plan_images(wanted: dict[str, str], effective: dict[str, str], raw: dict[str, str],
                texts: dict[str, str], spots: dict[str, ImageSpot], env_text: str, env_path: str) -> ImagePlan:
    """The edits that make every service of ``wanted`` run its image, written where the user wrote it.

    ``effective`` and ``raw`` are every service's image after and before interpolation (``docker compose config``
    with and without ``--no-interpolate``); ``texts`` the compose files; ``spots`` where each image is written.
    """
    plan = ImagePlan()
    edits: dict[ImageSpot, str] = {}
    for service in sorted(wanted):
        image = wanted[service]
        written = raw.get(service)
        variable = image_variable(written) if written else None
        if variable:
            name, value = variable_value(written, image)
            plan.via[service] = 'variable %s in %s' % (name, env_path)
            if effective.get(service) == image:
                continue
            if plan.env_values.get(name, value) != value:
                raise ComposeError('services %s need different values of %s; give them one image, or write their images '
                                   'without that shared variable' % (', '.join(sorted(wanted)), name))
            plan.env_values[name] = value
            continue
        spot = spots.get(service)
        if spot is None:
            raise ComposeError('service %s has no "image:" written in the compose files (%s); give it one'
                               % (service, ', '.join(sorted(texts))))
        plan.via[service] = 'image: in %s' % spot.path
        if effective.get(service) == image:
            continue
        if edits.get(spot, image) != image:
            raise ComposeError('services %s share one "image:" line of %s (a YAML anchor) but were given different images'
                               % (', '.join(sorted(s for s, sp in spots.items() if sp == spot and s in wanted)), spot.path))
        edits[spot] = image
    for spot in sorted(edits, key=lambda s: (s.path, -s.start)):
        text = plan.files.get(spot.path, texts[spot.path])
        original = text[spot.start:spot.end]
        plan.files[spot.path] = text[:spot.start] + yaml_scalar(edits[spot], original) + text[spot.end:]
    if plan.env_values:
        env = _env_file.parse(env_text)
        for name, value in sorted(plan.env_values.items()):
            env, _change = _env_file.set_value(env, name, value)
        plan.files[env_path] = _env_file.render(env)
    plan.changed_services = sorted(touched_services(raw, spots, edits, plan.env_values))
    return plan


def touched_services(raw: dict[str, str], spots: dict[str, ImageSpot], edits: dict[ImageSpot, str],
                     variables: dict[str, str]) -> set[str]:
    """Every service whose image the edits change: those sharing an edited anchor or an edited variable too."""
    touched = {service for service, spot in spots.items() if spot in edits and not image_variable(spot.raw)}
    for service, written in raw.items():
        variable = image_variable(written) if written else None
        if variable and variable[1] in variables:
            touched.add(service)
    return touched


def bystanders(touched: t.Iterable[str], wanted: t.Iterable[str], running: dict[str, int]) -> list[str]:
    """Services with running containers whose image would change without being asked for."""
    return sorted(service for service in set(touched) - set(wanted) if running.get(service))


def split_image(ref: str) -> tuple[str, str]:
    """``(repository, tag)`` of an image reference; the tag defaults to ``latest``, a digest counts as the tag."""
    if '@' in ref:
        repository, digest = ref.split('@', 1)
        return repository, digest
    head, sep, tag = ref.rpartition(':')
    if sep and '/' not in tag:
        return head, tag
    return ref, 'latest'


def pull_needed(policy: str, present: bool, pinned: bool) -> bool:
    """Whether to pull an image: never for a pinned ID (the registry may have moved the tag)."""
    if pinned or policy == 'never':
        return False
    return policy == 'always' or not present


def outdated(containers: list[dict[str, t.Any]], image_id: str | None) -> list[dict[str, t.Any]]:
    """The running containers that do not run ``image_id``, oldest first (replaced in that order)."""
    running = [c for c in containers if (c.get('State') or {}).get('Running')]
    return sorted((c for c in running if c.get('Image') != image_id), key=lambda c: c.get('Created') or '')


def health(state: dict[str, t.Any]) -> str:
    """``healthy``, ``starting``, ``unhealthy``, ``exited`` or ``running`` (no healthcheck) from a container's State."""
    if not state.get('Running') or state.get('Restarting'):
        return 'exited'
    status = (state.get('Health') or {}).get('Status')
    return status or 'running'


def health_log(state: dict[str, t.Any], entries: int = 3) -> list[str]:
    """The last results of the healthcheck, as ``exit <code>: <output>``."""
    log = (state.get('Health') or {}).get('Log') or []
    return ['exit %s: %s' % (item.get('ExitCode'), (item.get('Output') or '').strip()[:300]) for item in log[-entries:]]


def unhealthy_message(service: str, container: str, image: str, verdict: str, state: dict[str, t.Any],
                      logs: str, waited: float) -> str:
    """Why the new container of a rolling step was not taken into service, with what it said."""
    if verdict == 'exited':
        what = 'exited (%s, exit code %s)' % (state.get('Status') or 'stopped', state.get('ExitCode'))
    else:
        what = 'was still %s after %ss' % (verdict, round(waited))
    checks = health_log(state)
    return ('the new container %s of service %s (image %s) %s; it was removed and the old container keeps serving. '
            'Health log: %s. Last log lines:\n%s'
            % (container, service, image, what, ' | '.join(checks) or 'none', logs.rstrip() or '(no output)'))


def backend_split(serving: list[str], leaving: str, arriving: str) -> dict[str, t.Any]:
    """The nginx split of one rolling step: the arriving container in, the leaving one out, every other
    serving container kept, each with an even share.

    canary_shift wants a backend on each side: the arriving container is the canary side; with no other
    container (a pool of one) the leaving one stays listed as the drained stable side until the next step.
    """
    others = [address for address in serving if address not in (leaving, arriving)]
    if not others:
        return dict(stable=[arriving], canary=[leaving], drain=[leaving], weight=0)
    return dict(stable=others, canary=[arriving], drain=[], weight=max(1, min(99, round(100 / (len(others) + 1)))))


def container_version(container: dict[str, t.Any]) -> str | None:
    """The version a container runs: its image's OCI version label, else the tag of the image it was made from."""
    labels = (container.get('Config') or {}).get('Labels') or {}
    if labels.get(VERSION_LABEL):
        return labels[VERSION_LABEL]
    _repository, tag = split_image((container.get('Config') or {}).get('Image') or '')
    return None if tag in ('latest', '') or tag.startswith('sha256:') else tag


def service_version(containers: list[dict[str, t.Any]]) -> str | None:
    """The version of a service's running containers when they agree (None when none runs or they differ)."""
    versions = {container_version(c) for c in containers if (c.get('State') or {}).get('Running')}
    return versions.pop() if len(versions) == 1 else None


def container_summary(container: dict[str, t.Any], image_digests: list[str] | None = None) -> dict[str, t.Any]:
    state = container.get('State') or {}
    return dict(name=(container.get('Name') or '').lstrip('/'), id=container.get('Id'), image_id=container.get('Image'),
                image=(container.get('Config') or {}).get('Image'), version=container_version(container),
                status=state.get('Status'), health=health(state) if state.get('Running') else None,
                repo_digests=list(image_digests or []), networks=container_addresses(container))


def container_addresses(container: dict[str, t.Any]) -> dict[str, str]:
    """The container's IP address on each network it is attached to (what nginx on that network reaches)."""
    networks = (container.get('NetworkSettings') or {}).get('Networks') or {}
    return {name: spec['IPAddress'] for name, spec in sorted(networks.items()) if (spec or {}).get('IPAddress')}


def shared_network(container: dict[str, t.Any], nginx: dict[str, t.Any]) -> tuple[str, str] | None:
    """``(network, address)`` of ``container`` on the first network (by name) it shares with the nginx container."""
    mine = (container.get('NetworkSettings') or {}).get('Networks') or {}
    theirs = (nginx.get('NetworkSettings') or {}).get('Networks') or {}
    for name in sorted(set(mine) & set(theirs)):
        if mine[name].get('IPAddress'):
            return name, mine[name]['IPAddress']
    return None


def summary(plan: ImagePlan, retags: list[str], pulls: list[str], replace: dict[str, list[str]]) -> list[str]:
    """What a run changes, one line per kind."""
    lines = ['%s: %s' % (path, 'rewritten') for path in sorted(plan.files)]
    lines += ['tag %s' % item for item in retags]
    lines += ['pull %s' % ref for ref in pulls]
    lines += ['%s: replace %s' % (service, ', '.join(names)) for service, names in sorted(replace.items()) if names]
    return lines
