# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release directories of an application: names, completeness, the ``current`` link, previous, pruning.

Pure decisions only; ``_app_release_actions`` touches the file system and runs Python and pip.
Layout under ``app_root``: ``releases/<version>/`` (a virtualenv in ``venv/`` and the marker
``.artisan-release.json`` written last), ``current`` -> ``releases/<version>`` (relative link) and
``.release-state.json`` (current and previous, so previous survives runs and a rollback).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import re
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

RELEASES_DIR = 'releases'
CURRENT_LINK = 'current'
STATE_FILE = '.release-state.json'
LOCK_FILE = '.release-lock'
MARKER = '.artisan-release.json'
VENV_DIR = 'venv'
TEMP_PREFIX = '.artisan-tmp-'
MARKER_SCHEMA = 'artisan.upgrade/app_release/v1'
STATE_SCHEMA = 'artisan.upgrade/app_release-state/v1'
URL_PASSWORD_RE = re.compile(r'://[^/@:\s]+:([^/@\s]+)@')
VERSION_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._+-]*\Z')
RESERVED = ('previous', 'current')


@dataclasses.dataclass(frozen=True)
class Release:
    """A folder under releases/: complete when its marker names its version."""

    version: str
    complete: bool
    created: str | None = None

    def as_result(self) -> dict[str, t.Any]:
        return {'version': self.version, 'complete': self.complete, 'created': self.created}


def version_error(version: str) -> str | None:
    if version in RESERVED:
        return 'version %r is a word this module reserves: name a release' % version
    if not VERSION_RE.match(version) or len(version) > 128:
        return ('version %r cannot name a release folder: letters, digits and . _ + -, starting with a letter or '
                'digit' % version)
    return None


def temp_name(version: str, token: str) -> str:
    return '%s%s-%s' % (TEMP_PREFIX, token, version)


def is_temp_of(name: str, version: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith('-' + version) and len(name) > len(TEMP_PREFIX) + len(version) + 1


def release_from(name: str, marker: t.Any) -> Release | None:
    """The release a folder entry is, given its parsed marker (None when missing or unreadable);
    None for entries that are not releases (temporary folders, hidden files)."""
    if name.startswith('.') or version_error(name):
        return None
    if isinstance(marker, dict) and marker.get('schema') == MARKER_SCHEMA and marker.get('version') == name:
        return Release(name, True, marker.get('created'))
    return Release(name, False)


def order(releases: t.Iterable[Release]) -> list[Release]:
    """Oldest first by the creation time their markers record (never file times); incomplete ones last."""
    return sorted(releases, key=lambda r: (not r.complete, r.created or '', natural_key(r.version)))


def natural_key(version: str) -> tuple[t.Any, ...]:
    return tuple((0, int(part), '') if part.isdigit() else (1, 0, part) for part in re.split(r'[.+-]', version))


def current_from_link(target: str | None, app_root: str) -> str | None:
    """The version ``current`` points to; ModuleFailure when it points outside releases/."""
    if target is None:
        return None
    resolved = os.path.normpath(os.path.join(app_root, target))
    parent, version = os.path.split(resolved)
    if parent != os.path.normpath(os.path.join(app_root, RELEASES_DIR)) or version_error(version):
        raise ModuleFailure('%s points to %s, not to a release under %s: move it away (or point it to a release) so '
                            'this module can manage it' % (os.path.join(app_root, CURRENT_LINK), target,
                                                           os.path.join(app_root, RELEASES_DIR)),
                            current_target=target)
    return version


def link_target(version: str) -> str:
    """Relative, so that the tree can be moved or mounted elsewhere as a whole."""
    return os.path.join(RELEASES_DIR, version)


def previous_from(state: t.Any, current: str | None) -> str | None:
    """The previous release the state file records, when it still describes the current link."""
    if not isinstance(state, dict) or state.get('schema') != STATE_SCHEMA:
        return None
    previous = state.get('previous')
    if state.get('current') != current or not isinstance(previous, str) or previous == current or version_error(previous):
        return None
    return previous


def state_record(current: str | None, previous: str | None, now: datetime.datetime) -> dict[str, t.Any]:
    return {'schema': STATE_SCHEMA, 'current': current, 'previous': previous, 'switched_at': iso(now)}


@dataclasses.dataclass(frozen=True)
class Switch:
    """What the links become: ``changed`` is False when ``target`` is already current."""

    current: str | None
    previous: str | None
    changed: bool


def plan_switch(current: str | None, previous: str | None, target: str) -> Switch:
    if target == current:
        return Switch(current, previous, False)
    return Switch(target, current, True)


def rollback_target(current: str | None, previous: str | None, releases: t.Mapping[str, Release]) -> str:
    if previous is None:
        raise ModuleFailure('no previous release is recorded (current is %s): name the release to switch to with '
                            'state current and its version' % (current or 'not set'))
    release = releases.get(previous)
    if release is None or not release.complete:
        raise ModuleFailure('the previous release %s is %s: name another release to switch to'
                            % (previous, 'gone' if release is None else 'incomplete'), previous=previous)
    return previous


def choose_pruned(releases: t.Iterable[Release], keep: int, protected: t.Iterable[str | None]) -> list[str]:
    """Complete releases to delete so that at most ``keep`` complete ones remain, oldest first; the
    ``protected`` ones (current, previous, this task's) always remain, even beyond ``keep``."""
    complete = [r for r in order(releases) if r.complete]
    keep_set = {v for v in protected if v}
    room = max(keep - len([r for r in complete if r.version in keep_set]), 0)
    for release in reversed(complete):
        if release.version not in keep_set and room > 0:
            keep_set.add(release.version)
            room -= 1
    return [r.version for r in complete if r.version not in keep_set]


def build_marker(version: str, created: datetime.datetime, python: str, python_version: str,
                 requirements: t.Sequence[str], freeze: str, source: str) -> dict[str, t.Any]:
    return {
        'schema': MARKER_SCHEMA,
        'version': version,
        'created': iso(created),
        'python': python,
        'python_version': python_version,
        'requirements': list(requirements),
        'source': source,
        'pip_freeze_sha256': hashlib.sha256(freeze.encode('utf-8')).hexdigest(),
        'packages': len([line for line in freeze.splitlines() if line.strip()]),
    }


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def pip_error(stdout: str, stderr: str, limit: int = 12) -> str:
    """pip's own words for a failure: its ERROR lines, else the end of its output."""
    lines = [line.rstrip() for line in (stderr + '\n' + stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith('ERROR:')]
    chosen = errors or lines[-limit:]
    return ' | '.join(chosen[-limit:]) or '(no output)'


def view(current: str | None, previous: str | None, releases: t.Iterable[Release]) -> dict[str, t.Any]:
    """The state shown in the diff: the link, previous and every release with its completeness."""
    return {'current': current, 'previous': previous,
            'releases': ['%s%s' % (r.version, '' if r.complete else ' (incomplete)') for r in order(releases)]}


def diff(header: str, before: dict[str, t.Any], after: dict[str, t.Any]) -> dict[str, str]:
    return {'before_header': header, 'after_header': header, 'before': view_text(before), 'after': view_text(after)}


def view_text(state: dict[str, t.Any]) -> str:
    lines = ['current: %s' % (state['current'] or '(none)'), 'previous: %s' % (state['previous'] or '(none)'), 'releases:']
    lines += ['  - %s' % name for name in state['releases']]
    return '\n'.join(lines) + '\n'


def source_error(params: t.Mapping[str, t.Any]) -> str | None:
    if params.get('wheelhouse') and params.get('index_url'):
        return 'wheelhouse and index_url exclude each other: a wheelhouse installs offline (--no-index)'
    return None


def pip_install_args(params: t.Mapping[str, t.Any]) -> list[str]:
    """Arguments of ``pip install`` after the common ones: where from, extra arguments, the requirements."""
    args: list[str] = []
    if params.get('wheelhouse'):
        args += ['--no-index', '--find-links', params['wheelhouse']]
    elif params.get('index_url'):
        args += ['--index-url', params['index_url']]
    return args + list(params.get('pip_args') or []) + list(params['requirements'])


def url_passwords(args: t.Iterable[str]) -> list[str]:
    """Passwords inside URLs of pip arguments (``--extra-index-url https://user:token@host/``), to mask."""
    return [match.group(1) for arg in args for match in URL_PASSWORD_RE.finditer(arg)]


def describe_source(params: t.Mapping[str, t.Any]) -> str:
    if params.get('wheelhouse'):
        return 'wheelhouse %s' % params['wheelhouse']
    if params.get('index_url'):
        return 'index'
    return 'pip default index'
