# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""canary_shift decisions that need no service: weight maths, backend checks, the nginx include file.

The share of traffic for the new version (the canary) is a whole percentage, 0 to 100. Each
provider turns it into what its router understands; these functions do that and say what changed.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import math
import re
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s_state as state
from ansible_collections.artisan.upgrade.plugins.module_utils._nginx_config import statements

STATE_MARKER = '# artisan.upgrade.canary_shift state: '
NAME_PATTERN = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
HOSTNAME_PATTERN = re.compile(r'^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$')
HEADER_PATTERN = re.compile(r'^[A-Za-z0-9-]+$')
COOKIE_PATTERN = re.compile(r'^[A-Za-z0-9_]+$')


class CanarySpecError(ValueError):
    """The task's options cannot describe a valid traffic split."""


def check_weight(weight: int) -> None:
    if not 0 <= weight <= 100:
        raise CanarySpecError('weight must be a percentage from 0 to 100, got %d' % weight)


def check_backend(address: str) -> None:
    """Accept what nginx's ``server`` takes without a resolver: host:port, [v6]:port or unix:/path."""
    if address.startswith('unix:'):
        if not address[5:].startswith('/'):
            raise CanarySpecError('backend "%s": a unix socket needs an absolute path (unix:/run/app.sock)' % address)
        return
    host, sep, port = address.rpartition(':')
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise CanarySpecError('backend "%s": give host:port with a port from 1 to 65535 (or unix:/path)' % address)
    if host.startswith('[') and host.endswith(']'):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise CanarySpecError('backend "%s": "%s" is not an IPv6 address' % (address, host[1:-1])) from None
        return
    if not HOSTNAME_PATTERN.match(host):
        raise CanarySpecError('backend "%s": "%s" is neither an IP address nor a host name' % (address, host))


def split_weights(weight: int, stable_count: int, canary_count: int) -> tuple[int | None, int | None]:
    """nginx ``weight=`` of each stable and each canary server so the canary side gets ``weight`` %.

    nginx weights are whole numbers of at least 1, so a side with no share gets None (its servers
    are marked ``down``). The smallest integers are used: 10 % over 1+1 servers is 9 and 1.
    """
    if weight == 0:
        return 1, None
    if weight == 100:
        return None, 1
    stable_each = (100 - weight) * canary_count
    canary_each = weight * stable_count
    common = math.gcd(stable_each, canary_each)
    return stable_each // common, canary_each // common


def check_directive(directive: str) -> str:
    """An extra directive for the upstream blocks, without its final ``;``; nginx -t judges the rest."""
    text = directive.strip().rstrip(';').strip()
    if not text or any(c in text for c in '{};\n#'):
        raise CanarySpecError('upstream directive "%s": give one simple directive such as "keepalive 32"' % directive)
    return text


@dataclasses.dataclass
class NginxSplit:
    """What the include file must say; built by ``nginx_split()`` from the task's options."""

    upstream: str
    weight: int
    stable: list[str]
    canary: list[str]
    drain: list[str]
    mode: str = 'weights'
    sticky_key: str = ''
    directives: list[str] = dataclasses.field(default_factory=list)
    variable: str = ''  # set by split_clients in sticky mode; '' means <upstream>_upstream

    def active(self, side: str) -> list[str]:
        return [a for a in getattr(self, side) if a not in self.drain]

    def share(self, side: str) -> int:
        return self.weight if side == 'canary' else 100 - self.weight

    def state(self) -> dict[str, t.Any]:
        """The facts the file records about itself, so a later run reports the share it replaces."""
        state = dict(weight=self.weight, mode=self.mode, upstream=self.upstream, stable=self.stable,
                     canary=self.canary, drain=self.drain, sticky_key=self.sticky_key or None)
        # Only when set: a file without them keeps the state line earlier versions wrote.
        if self.variable:
            state['split_variable'] = self.variable
        if self.directives:
            state['directives'] = self.directives
        return state

    def split_variable(self) -> str:
        return self.variable or '%s_upstream' % self.upstream


def sticky_key(sticky_by: str, name: str | None) -> str:
    """The nginx expression split_clients hashes: a cookie, a request header or the client address."""
    if sticky_by == 'client_address':
        return '${remote_addr}'
    if not name:
        raise CanarySpecError('sticky_by=%s needs sticky_name (the %s to split on)' % (sticky_by, sticky_by))
    if sticky_by == 'cookie':
        if not COOKIE_PATTERN.match(name):
            raise CanarySpecError('cookie name "%s": letters, digits and _ only (nginx reads it as $cookie_%s)' % (name, name))
        return '${cookie_%s}' % name
    if not HEADER_PATTERN.match(name):
        raise CanarySpecError('header name "%s": letters, digits and - only' % name)
    return '${http_%s}' % name.lower().replace('-', '_')


def nginx_split(weight: int, upstream: str, stable: list[str], canary: list[str], drain: list[str] | None = None,
                mode: str = 'weights', sticky_by: str = 'client_address', sticky_name: str | None = None,
                directives: list[str] | None = None, variable: str | None = None) -> NginxSplit:
    """Check every option up front and return the split they describe."""
    check_weight(weight)
    if not NAME_PATTERN.match(upstream):
        raise CanarySpecError('upstream "%s": letters, digits and _ only, not starting with a digit' % upstream)
    variable = (variable or '').lstrip('$')
    if variable and mode != 'sticky':
        raise CanarySpecError('split_variable names the variable split_clients sets, so it needs mode=sticky')
    if variable and not NAME_PATTERN.match(variable):
        raise CanarySpecError('split_variable "%s": letters, digits and _ only, not starting with a digit' % variable)
    if not stable or not canary:
        raise CanarySpecError('give at least one stable and one canary backend')
    for address in list(stable) + list(canary) + list(drain or []):
        check_backend(address)
    both = set(stable) & set(canary)
    if both:
        raise CanarySpecError('backend(s) %s listed as both stable and canary' % ', '.join(sorted(both)))
    unknown = set(drain or []) - set(stable) - set(canary)
    if unknown:
        raise CanarySpecError('drain names backend(s) %s that are neither stable nor canary' % ', '.join(sorted(unknown)))
    split = NginxSplit(upstream=upstream, weight=weight, stable=list(stable), canary=list(canary), drain=list(drain or []),
                       mode=mode, sticky_key=sticky_key(sticky_by, sticky_name) if mode == 'sticky' else '',
                       directives=[check_directive(d) for d in directives or []],
                       variable='' if variable == '%s_upstream' % upstream else variable)
    for side in ('stable', 'canary'):
        if split.share(side) and not split.active(side):
            raise CanarySpecError('every %s backend is drained, so %d %% of the traffic would have nowhere to go'
                                  % (side, split.share(side)))
    return split


def _server_lines(split: NginxSplit, side: str, weight_each: int | None) -> list[str]:
    lines = []
    for address in getattr(split, side):
        if address in split.drain or weight_each is None:
            lines.append('    server %s down;' % address)
        elif weight_each == 1:
            lines.append('    server %s;' % address)
        else:
            lines.append('    server %s weight=%d;' % (address, weight_each))
    return lines


def _upstream_block(name: str, servers: list[str], directives: list[str]) -> list[str]:
    return ['upstream %s {' % name] + servers + ['    %s;' % d for d in directives] + ['}']


def render_nginx(split: NginxSplit) -> str:
    """The include file (http context): one weighted upstream, or split_clients over two upstreams."""
    lines = ['# Managed by artisan.upgrade.canary_shift: a change made here is overwritten on its next run.',
             STATE_MARKER + json.dumps(split.state(), sort_keys=True)]
    if split.mode == 'weights':
        stable_each, canary_each = split_weights(split.weight, len(split.active('stable')), len(split.active('canary')))
        servers = _server_lines(split, 'stable', stable_each) + _server_lines(split, 'canary', canary_each)
        lines += _upstream_block(split.upstream, servers, split.directives)
    else:
        for side in ('stable', 'canary'):
            lines += _upstream_block('%s_%s' % (split.upstream, side), _server_lines(split, side, 1), split.directives)
        lines.append('split_clients "%s" $%s {' % (split.sticky_key, split.split_variable()))
        if 0 < split.weight < 100:
            lines.append('    %d%% %s_canary;' % (split.weight, split.upstream))
        lines.append('    * %s_%s;' % (split.upstream, 'stable' if split.weight < 100 else 'canary'))
        lines.append('}')
    return '\n'.join(lines) + '\n'


def recorded_state(text: str | None) -> dict[str, t.Any] | None:
    """The state line of an include file this module wrote; None for a missing or foreign file."""
    for line in (text or '').splitlines():
        if line.startswith(STATE_MARKER):
            try:
                state = json.loads(line[len(STATE_MARKER):])
            except ValueError:
                return None
            return state if isinstance(state, dict) else None
    return None


@dataclasses.dataclass
class LiveInclude:
    """What an include file holds, as far as rewriting it as a whole needs to know."""

    upstreams: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # name: its servers
    directives: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # name: its other directives
    variables: list[str] = dataclasses.field(default_factory=list)  # what its split_clients set
    maps: list[str] = dataclasses.field(default_factory=list)  # what its maps set
    others: list[str] = dataclasses.field(default_factory=list)  # any other top-level statement


def _statement_text(text: str, start: int, end: int) -> str:
    return ' '.join(text[start:end].rstrip(';{').split())


def read_include(text: str | None) -> LiveInclude:
    """The upstreams, split_clients and anything else of an include file (hand-written or not)."""
    found, text = LiveInclude(), text or ''
    block = None
    for statement in statements(text):
        if statement.depth == 0:
            block = statement
            if statement.name == 'upstream' and statement.args:
                found.upstreams[statement.args[0]], found.directives[statement.args[0]] = [], []
            elif statement.name in ('split_clients', 'map') and len(statement.args) == 2:
                (found.variables if statement.name == 'split_clients' else found.maps).append(statement.args[1].lstrip('$'))
            else:
                found.others.append(_statement_text(text, statement.start, statement.end))
        elif statement.depth == 1 and block is not None and block.name == 'upstream' and block.args:
            side = found.upstreams if statement.name == 'server' else found.directives
            side[block.args[0]].append(_statement_text(text, statement.start, statement.end))
    return found


def kept_directives(live: LiveInclude) -> list[str]:
    """The upstreams' directives other than ``server``, to carry into the new file; the same set must fit all."""
    kept: list[str] = []
    for directives in live.directives.values():
        kept += [d for d in directives if d not in kept]
    names = [d.split()[0] for d in kept]
    clashing = sorted({n for n in names if names.count(n) > 1})
    if clashing:
        raise CanarySpecError('the upstreams of the live file set %s differently (%s); the new upstreams share one set of '
                              'directives: give it as nginx.upstream_directives'
                              % (', '.join(clashing), '; '.join(d for d in kept if d.split()[0] in clashing)))
    return kept


def check_rewritable(live: LiveInclude, path: str, split: NginxSplit) -> None:
    """Refuse a file holding more than upstreams and the split's variable: rewriting it would delete the rest."""
    others = live.others + ['map setting $%s' % v for v in live.maps if split.mode != 'sticky' or v != split.split_variable()]
    if others:
        raise CanarySpecError('%s holds more than upstreams and split_clients (%s); this module rewrites the file as a '
                              'whole and would delete them: move them to another file first' % (path, '; '.join(others)))


def takeover_warning(live: LiveInclude, path: str, kept: list[str]) -> str:
    """What a first run replaces in a file this module did not write."""
    replaced = ['upstream %s (%s)' % (name, '; '.join(servers) or 'no server')
                for name, servers in live.upstreams.items()]
    replaced += ['split_clients setting $%s' % variable for variable in live.variables]
    replaced += ['map setting $%s' % variable for variable in live.maps]
    return ('taking over %s, which canary_shift did not write: replaced %s; kept in every upstream: %s (see the diff)'
            % (path, ', '.join(replaced) or 'nothing', ', '.join(kept) or 'no other directive'))


def shift_summary(before: dict[str, t.Any] | None, after: dict[str, t.Any]) -> list[str]:
    """Human lines saying what a shift changes, for ``changes`` and ``msg``."""
    if before is None:
        return ['canary weight set to %d %% (no earlier split recorded)' % after['weight']]
    changes = []
    if before.get('weight') != after['weight']:
        changes.append('canary weight %s %% -> %d %%' % (before.get('weight'), after['weight']))
    for key in ('mode', 'sticky_key', 'split_variable', 'stable', 'canary', 'drain', 'directives'):
        if before.get(key) != after.get(key):
            changes.append('%s %s -> %s' % (key, before.get(key), after.get(key)))
    return changes or ['include file rewritten (its content differed from the rendered split)']


# --- Kubernetes -----------------------------------------------------------------------------------

INGRESS_ANNOTATION = 'nginx.ingress.kubernetes.io/'
CANARY_ANNOTATIONS = ('canary', 'canary-weight', 'canary-by-header', 'canary-by-header-value', 'canary-by-cookie')


def replica_split(weight: int, total: int) -> dict[str, int]:
    """Replicas per side for a constant total; the canary gets round(total x weight), halves rounded up."""
    check_weight(weight)
    if total < 1:
        raise CanarySpecError('total replicas must be 1 or more, got %d' % total)
    canary = int(math.floor(total * weight / 100 + 0.5))
    return dict(stable=total - canary, canary=canary)


def check_failure_grace(grace: int) -> None:
    if grace < 0:
        raise CanarySpecError('k8s_replicas.failure_grace must be 0 or more seconds, got %d' % grace)


class AvailabilityWatch(state.PodSuspects):
    """k8s_replicas' wait for a Deployment it scaled up, judged at a given time.

    Done once ``replicas`` pods are available (the scale observed). Given up when the Deployment is deleted
    or past its progress deadline, or when one of its pods has shown a failure reason (crash loop, image
    pull error, missing Secret) for ``grace`` seconds: PodSuspects' rules, as k8s_rollout's, so a release
    that crashes ends the wait after the grace instead of the timeout.
    """

    def __init__(self, name: str, replicas: int, grace: float) -> None:
        super().__init__(grace)
        self.name = name
        self.replicas = replicas

    def verdict(self, deployment: dict[str, t.Any] | None, now: float) -> bool | str:
        """True when available, a message saying why waiting is pointless, else False."""
        if deployment is None:
            return 'the Deployment was deleted'
        if state.deployment_available(deployment, self.replicas):
            return True
        exceeded = state.progress_deadline_exceeded(deployment)
        if exceeded:
            return exceeded.get('message') or 'progress deadline exceeded'
        expired = self.expired(now)
        if expired:
            return 'pods of %s are failing (failure_grace %gs): %s' % (
                self.name, self.grace, '; '.join(state.describe_suspect(s, now) for s in expired))
        return False


def replica_weight(replicas: dict[str, int]) -> float | None:
    """The canary's share of the pods, in percent (what a router without weights gives it)."""
    total = replicas['stable'] + replicas['canary']
    return round(100.0 * replicas['canary'] / total, 2) if total else None


def scale_steps(current: dict[str, int], desired: dict[str, int]) -> list[tuple[str, int, bool]]:
    """(side, replicas, wait) in a safe order: grow a side and wait for it, only then shrink the other."""
    grow = [(side, n, True) for side, n in desired.items() if n > current[side]]
    shrink = [(side, n, False) for side, n in desired.items() if n < current[side]]
    return grow + shrink


def canary_annotations(weight: int, header: str | None = None, header_value: str | None = None,
                       cookie: str | None = None) -> dict[str, str | None]:
    """The ingress-nginx canary annotations; None removes one this module no longer wants."""
    check_weight(weight)
    if header_value and not header:
        raise CanarySpecError('header_value needs header (the request header to route on)')
    wanted = {'canary': 'true', 'canary-weight': str(weight), 'canary-by-header': header,
              'canary-by-header-value': header_value, 'canary-by-cookie': cookie}
    return {INGRESS_ANNOTATION + name: wanted[name] for name in CANARY_ANNOTATIONS}


def check_ingress_removal(weight: int) -> None:
    """The canary Ingress is removed only once it sends nothing: at weight 0."""
    if weight != 0:
        raise CanarySpecError('state=absent removes the canary Ingress and needs weight 0, got %d' % weight)


def annotations_to_change(live: dict[str, str] | None, wanted: dict[str, str | None]) -> dict[str, str | None]:
    live = live or {}
    return {key: value for key, value in wanted.items() if live.get(key) != value}


def ingress_weight(annotations: dict[str, str] | None) -> int | None:
    """The canary weight an Ingress's annotations give, None when it is not a canary Ingress."""
    annotations = annotations or {}
    if annotations.get(INGRESS_ANNOTATION + 'canary') != 'true':
        return None
    try:
        return int(annotations.get(INGRESS_ANNOTATION + 'canary-weight', '0'))
    except ValueError:
        return None


def _canary_backend(backend: dict[str, t.Any], service: str, port: int | str | None) -> dict[str, t.Any]:
    if 'service' not in backend:
        return backend
    live_port = backend['service'].get('port') or {}
    if port is None:
        new_port = live_port
    else:
        new_port = {'number': int(port)} if str(port).isdigit() else {'name': str(port)}
    return {'service': {'name': service, 'port': new_port}}


def canary_ingress_spec(main_spec: dict[str, t.Any], service: str, port: int | str | None) -> dict[str, t.Any]:
    """The main Ingress's hosts and paths (ingress-nginx pairs them) with every backend on the canary Service."""
    spec = json.loads(json.dumps(main_spec))
    if spec.get('defaultBackend'):
        spec['defaultBackend'] = _canary_backend(spec['defaultBackend'], service, port)
    for rule in spec.get('rules') or []:
        for path in (rule.get('http') or {}).get('paths') or []:
            path['backend'] = _canary_backend(path['backend'], service, port)
    return spec


def labels(values: dict[str, t.Any]) -> dict[str, str]:
    """Label values as the API wants them (YAML may have read ``version: 2`` as a number)."""
    return {str(key): str(value) for key, value in (values or {}).items()}


def service_selector(weight: int, stable: dict[str, str], canary: dict[str, str]) -> dict[str, str]:
    """The selector of a blue-green switch; a Service sends everything to one side, so only 0 or 100."""
    if weight not in (0, 100):
        raise CanarySpecError('provider k8s_service switches all traffic: weight must be 0 (stable) or 100 (canary), '
                              'got %d' % weight)
    if not stable or not canary or stable == canary:
        raise CanarySpecError('stable_selector and canary_selector must be two different, non-empty label sets')
    return dict(canary if weight == 100 else stable)


def selector_weight(selector: dict[str, str] | None, stable: dict[str, str], canary: dict[str, str]) -> int | None:
    selector = selector or {}
    return 100 if selector == canary else 0 if selector == stable else None
