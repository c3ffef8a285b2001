# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the preflight role's decisions (plugins/module_utils/_preflight.py). Each returns what is wrong
and how to override it, or an empty string; documented in the sidecar YAML files beside this one."""

from __future__ import annotations

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.artisan.upgrade.plugins.module_utils import _preflight as decide


def semver_compare(a, other):
    try:
        return decide.compare_semver(str(a), str(other))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def semver_valid(text):
    return decide.parse_semver(text) is not None


def version_problem(target, current=None, channel='stable', allow_downgrade=False):
    return decide.version_problem(target, current, channel, bool(allow_downgrade))


def window_problem(windows, now=None):
    moment = (datetime.datetime.strptime(str(now), '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
              if now else datetime.datetime.now(datetime.timezone.utc))
    return decide.window_problem(list(windows or []), moment)


def compat_problem(matrix, target, python=None, postgresql=None, host=''):
    return decide.compat_problem(list(matrix or []), target, python, postgresql, host)


def promotion_problem(found, app, version, environment, promotion_from=None):
    return decide.promotion_problem(bool(found), app, version, environment, promotion_from)


def heads_problem(heads):
    return decide.heads_problem(heads)


class FilterModule:
    def filters(self):
        return {
            'semver_compare': semver_compare,
            'semver_valid': semver_valid,
            'version_problem': version_problem,
            'window_problem': window_problem,
            'compat_problem': compat_problem,
            'promotion_problem': promotion_problem,
            'heads_problem': heads_problem,
        }
