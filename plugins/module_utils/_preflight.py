# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight role's decisions, as pure functions: semantic versions and release channels, maintenance
windows, the compatibility matrix, the promotion policy and Alembic heads.

Each ``*_problem`` function returns what is wrong and how to override it, in one message, or '' when all is
well; the role fails with that message before anything changes. The messages name the role's variables.
"""

from __future__ import annotations

import datetime
import re
import typing as t

# semver.org 2.0.0's grammar, with an optional leading "v" as in release tags (v1.1.0-beta.1).
SEMVER = re.compile(
    r'^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)'
    r'(?:-(?P<pre>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?'
    r'(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$')
CHANNELS = ('stable', 'beta')
DAYS = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')
CLOCK = re.compile(r'^([01]?\d|2[0-3]):([0-5]\d)$')
NUMBERS = re.compile(r'^\d+(\.\d+)*')


class Version(t.NamedTuple):
    major: int
    minor: int
    patch: int
    pre: tuple[t.Any, ...]

    @property
    def prerelease(self) -> bool:
        return bool(self.pre)


def parse_semver(text: t.Any) -> Version | None:
    """The version, or None when ``text`` is not a semantic version."""
    match = SEMVER.match(str(text).strip()) if text is not None else None
    if not match:
        return None
    pre = tuple(int(p) if p.isdigit() else p for p in match.group('pre').split('.')) if match.group('pre') else ()
    return Version(int(match.group('major')), int(match.group('minor')), int(match.group('patch')), pre)


def _pre_key(pre: tuple[t.Any, ...]) -> tuple[t.Any, ...]:
    """Sort key of pre-release identifiers: numbers before names, shorter first when equal so far, and a
    release (no identifiers) after all of its pre-releases."""
    if not pre:
        return (1,)
    return (0,) + tuple((0, p, '') if isinstance(p, int) else (1, 0, p) for p in pre)


def compare_semver(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` precedes, equals or follows ``b`` by semver precedence (build metadata ignored)."""
    va, vb = parse_semver(a), parse_semver(b)
    if va is None or vb is None:
        raise ValueError('%r is not a semantic version' % (a if va is None else b))
    ka = (va.major, va.minor, va.patch, _pre_key(va.pre))
    kb = (vb.major, vb.minor, vb.patch, _pre_key(vb.pre))
    return (ka > kb) - (ka < kb)


def version_problem(target: t.Any, current: t.Any = None, channel: str = 'stable', allow_downgrade: bool = False) -> str:
    """Whether ``target`` may be installed over ``current`` on ``channel``."""
    version = parse_semver(target)
    if version is None:
        return ('preflight_target_version %r is not a semantic version (MAJOR.MINOR.PATCH, optionally -PRERELEASE '
                'and +BUILD, such as 2.1.0 or 2.1.0-beta.1): fix preflight_target_version' % target)
    if channel not in CHANNELS:
        return 'preflight_channel %r is not a release channel: use one of %s' % (channel, ', '.join(CHANNELS))
    if version.prerelease and channel == 'stable':
        return ('%s is a pre-release and the release channel is stable, which installs releases only: set '
                'preflight_channel: beta to install pre-releases' % target)
    if current in (None, ''):
        return ''
    if parse_semver(current) is None:
        return ('the running version %r is not a semantic version, so a downgrade cannot be told from an upgrade: '
                'fix preflight_current_version, or leave it empty for a first install' % current)
    if compare_semver(str(target), str(current)) < 0 and not allow_downgrade:
        return ('%s is older than the running %s: refusing to downgrade. Roll back with the rollback playbook, or set '
                'preflight_allow_downgrade: true to install the older version anyway' % (target, current))
    return ''


# --- maintenance windows -------------------------------------------------------------------------

def _minutes(text: t.Any) -> int | None:
    match = CLOCK.match(str(text).strip())
    return int(match.group(1)) * 60 + int(match.group(2)) if match else None


def windows_error(windows: t.Sequence[t.Any]) -> str:
    """What is malformed in ``windows``, or ''."""
    for index, window in enumerate(windows):
        if not isinstance(window, dict):
            return 'preflight_maintenance_windows[%d] is not a dict with days, start and end' % index
        bad_days = [d for d in window.get('days') or DAYS if str(d).lower()[:3] not in DAYS]
        if bad_days:
            return 'preflight_maintenance_windows[%d] has unknown days %s: use %s' % (index, bad_days, ', '.join(DAYS))
        for key in ('start', 'end'):
            if _minutes(window.get(key)) is None:
                return ('preflight_maintenance_windows[%d].%s is %r: give a UTC time as HH:MM'
                        % (index, key, window.get(key)))
    return ''


def window_open(window: dict[str, t.Any], now: datetime.datetime) -> bool:
    """Whether ``now`` (UTC) is inside ``window``; a window whose end is before its start ends the next day."""
    days = [str(d).lower()[:3] for d in window.get('days') or DAYS]
    start, end = _minutes(window['start']), _minutes(window['end'])
    minute = now.hour * 60 + now.minute
    today, yesterday = DAYS[now.weekday()], DAYS[(now.weekday() - 1) % 7]
    if start < end:
        return today in days and start <= minute < end
    return (today in days and minute >= start) or (yesterday in days and minute < end)


def describe_window(window: dict[str, t.Any]) -> str:
    days = window.get('days') or DAYS
    label = 'every day' if len(days) == 7 else ','.join(str(d).capitalize()[:3] for d in days)
    return '%s %s-%s UTC' % (label, window['start'], window['end'])


def window_problem(windows: t.Sequence[t.Any] | None, now: datetime.datetime) -> str:
    """Whether ``now`` is inside one of ``windows`` (no windows: always)."""
    if not windows:
        return ''
    error = windows_error(windows)
    if error:
        return error
    now = now.astimezone(datetime.timezone.utc)
    if any(window_open(w, now) for w in windows):
        return ''
    return ('it is %s UTC, outside every maintenance window (%s): run the upgrade inside a window, or set '
            'preflight_maintenance_windows: [] to upgrade now' % (
                now.strftime('%a %H:%M'), '; '.join(describe_window(w) for w in windows)))


# --- compatibility matrix ------------------------------------------------------------------------

def numbers(text: t.Any) -> tuple[int, ...] | None:
    """``3.11.4`` -> (3, 11, 4); ``15.18 (Debian 15.18-1)`` -> (15, 18); None when it starts with no number."""
    match = NUMBERS.match(str(text).strip()) if text is not None else None
    return tuple(int(p) for p in match.group(0).split('.')) if match else None


def row_matches(pattern: t.Any, version: Version) -> bool:
    """``*``, ``2.x``, ``2.1.x``, ``2.1.3`` against a version (pre-releases match their release's row)."""
    parts = str(pattern).strip().lstrip('v').split('.')
    for part, actual in zip(parts, (version.major, version.minor, version.patch)):
        if part in ('x', 'X', '*'):
            return True
        if not part.isdigit() or int(part) != actual:
            return False
    return True


def _outside(actual: tuple[int, ...], low: t.Any, high: t.Any) -> str:
    """Which bound ``actual`` breaks, compared on as many parts as the bound gives (max 3.12 admits 3.12.9)."""
    lo, hi = numbers(low) if low not in (None, '') else None, numbers(high) if high not in (None, '') else None
    if lo and actual[:len(lo)] < lo:
        return 'older than the minimum %s' % low
    if hi and actual[:len(hi)] > hi:
        return 'newer than the maximum %s' % high
    return ''


def compat_problem(matrix: t.Sequence[dict[str, t.Any]] | None, target: t.Any, python: t.Any = None,
                   postgresql: t.Any = None, host: str = '') -> str:
    """Whether the Python of ``host`` and the PostgreSQL server suit ``target`` by the matrix's first matching row."""
    if not matrix:
        return ''
    version = parse_semver(target)
    if version is None:
        return 'preflight_target_version %r is not a semantic version' % target
    row = next((r for r in matrix if isinstance(r, dict) and row_matches(r.get('versions', '*'), version)), None)
    if row is None:
        return ('no row of preflight_compatibility matches %s: add one (versions: "%d.%d.x") or set '
                'preflight_compatibility: [] to skip the compatibility check' % (target, version.major, version.minor))
    problems = []
    for name, actual, low, high in (('Python', python, row.get('python_min'), row.get('python_max')),
                                    ('PostgreSQL', postgresql, row.get('postgresql_min'), row.get('postgresql_max'))):
        if actual in (None, '') or (low in (None, '') and high in (None, '')):
            continue
        parsed = numbers(actual)
        breach = _outside(parsed, low, high) if parsed else 'unreadable'
        if breach:
            problems.append('%s %s%s is %s' % (name, actual, ' on %s' % host if host and name == 'Python' else '', breach))
    if not problems:
        return ''
    return ('%s: %s needs %s (preflight_compatibility row %r). Upgrade the platform first, or correct the '
            'matrix' % ('; '.join(problems), target, _bounds(row), row.get('versions', '*')))


def _bounds(row: dict[str, t.Any]) -> str:
    parts = []
    for name, key in (('Python', 'python'), ('PostgreSQL', 'postgresql')):
        low, high = row.get(key + '_min'), row.get(key + '_max')
        if low or high:
            parts.append('%s %s..%s' % (name, low or '', high or ''))
    return ' and '.join(parts)


# --- promotion and heads -------------------------------------------------------------------------

def promotion_problem(found: bool, app: str, version: str, environment: str, promotion_from: str | None) -> str:
    """Whether ``version`` may enter ``environment``: it needs a green record in ``promotion_from`` first."""
    if not promotion_from or environment == promotion_from or found:
        return ''
    return ('%s %s has no green release record in %s (a finished, successful, non-check-mode run), and %s accepts only '
            'versions promoted from %s: upgrade %s to %s first, or set preflight_promotion_from: "" to skip the '
            'promotion policy' % (app, version, promotion_from, environment, promotion_from, promotion_from, version))


def heads_problem(heads: t.Sequence[str] | None) -> str:
    """Whether the migration scripts have exactly one head."""
    heads = list(heads or [])
    if len(heads) == 1:
        return ''
    if not heads:
        return 'the migration scripts have no head (no revision found): check preflight_alembic_config and chdir'
    return ('the migration scripts have %d heads (%s): an upgrade to "head" is ambiguous. Merge them '
            '(alembic merge heads) in the release, or set preflight_check_alembic: false' % (len(heads), ', '.join(sorted(heads))))
