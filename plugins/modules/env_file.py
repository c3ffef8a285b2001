#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: env_file
short_description: Data-driven edits of a KEY=VALUE environment file as systemd's EnvironmentFile= reads it
version_added: 0.1.0
description:
  - Renames, sets and removes variables of an environment file, keeping its comments, blank lines and order,
    for configuration changes between releases such as C(DATABASE_URI) becoming C(DATABASE_URL).
  - Applies O(renames) first, then O(remove), then O(set) and O(set_secret). A rename is done once; when both
    names are set it is refused unless their values are equal (then the old name goes).
  - Values are compared as systemd reads them, not as written, so C(A="x") and C(A=x) are the same value.
    A set value is written unquoted when it is made of letters, digits and C(_@%+=:,./-), otherwise in
    double quotes with C(\), C("), C($) and C(`) escaped.
  - The file is written to a temporary file beside it and renamed over it, keeping its owner, group, mode and
    SELinux context. The values of O(secret_keys) and O(set_secret) are masked in the diff and the result.
  - 'Parsed as systemd does (C(src/basic/env-file.c)): comments start with C(#) or C(;); whitespace around the key and
    after C(=) is ignored; unquoted values lose trailing whitespace and C(\c) means C(c); single-quoted parts are
    literal; double-quoted parts unescape C(\"), C(\\), C(\$), C(\`) and keep other backslashes; quoted and
    unquoted parts join.'
  - 'Refused rather than risked, with the line number: values or comments continued on the next line (a trailing
    backslash or an unclosed quote), lines that are not C(KEY=VALUE), names systemd drops (C(export KEY=...)
    included), carriage returns and NUL bytes.'
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
options:
  path:
    description:
      - The environment file.
    type: path
    required: true
  renames:
    description:
      - 'Old name to new name, for example V({DATABASE_URI: DATABASE_URL}). Every assignment of the old name is
        renamed in place, its value kept exactly as written.'
    type: dict
    default: {}
  remove:
    description:
      - Names to remove (every assignment of each).
    type: list
    elements: str
    default: []
  set:
    description:
      - Name to value. The last assignment of a name is rewritten in place (earlier ones, which systemd overrides,
        are removed); a new name is appended at the end.
    type: dict
    default: {}
  set_secret:
    description:
      - Like O(set), for values that must never be shown (passwords, signing keys); their names count as
        O(secret_keys).
    type: dict
    default: {}
  secret_keys:
    description:
      - Names whose values are masked in the diff and the result, for example V([DATABASE_URL, SECRET_KEY]).
        A renamed secret stays masked under its new name, and a value renamed to a secret key is masked under its old name.
    type: list
    elements: str
    default: []
  create:
    description:
      - Create the file when it is missing and there is something to set; mode V(0600) unless O(mode) says
        otherwise. With V(false) a missing file is an error.
    type: bool
    default: true
  backup:
    description:
      - Keep a copy of the file as it was, with a timestamp in its name, when it changes.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.files
  - artisan.upgrade.attributes
attributes:
  check_mode:
    support: full
    details: Reads and parses the file and reports the changes it would make; writes nothing.
  diff_mode:
    support: full
    details: The file before and after, with secret values masked.
  idempotent:
    support: full
    details: Once renamed, set or removed, nothing changes on the next run.
seealso:
  - module: artisan.upgrade.app_release
    description: Release folders and the current link of the same application.
  - module: community.general.ini_file
    description: INI files; it does not read values the way systemd does.
"""

EXAMPLES = r"""
- name: Move the configuration to release 2.0.0's names
  artisan.upgrade.env_file:
    path: /etc/demoapp/demoapp.env
    renames:
      DATABASE_URI: DATABASE_URL
    remove: [LEGACY_POOL_SIZE]
    set:
      LOG_LEVEL: info
    secret_keys: [DATABASE_URI, DATABASE_URL, SECRET_KEY]
    backup: true

- name: Rotate the signing key (never shown)
  artisan.upgrade.env_file:
    path: /etc/demoapp/demoapp.env
    set_secret:
      SECRET_KEY: "{{ vault_demoapp_secret_key }}"
    owner: root
    group: demoapp
    mode: "0640"
"""

RETURN = r"""
path:
  description: The environment file.
  returned: always
  type: str
  sample: /etc/demoapp/demoapp.env
changes:
  description: What changed (or would, in check mode), in order.
  returned: success
  type: list
  elements: str
  sample: [renamed DATABASE_URI to DATABASE_URL, removed LEGACY_POOL_SIZE, set LOG_LEVEL]
env:
  description: The variables systemd reads from the file after the task, secret values masked.
  returned: success
  type: dict
  sample: {DATABASE_URL: "********", LOG_LEVEL: info}
backup_file:
  description: The copy of the file as it was, with O(backup=true) when it changed.
  returned: changed and backup
  type: str
  sample: /etc/demoapp/demoapp.env.12345.2026-11-26@16:20:01~
commands:
  description: Always empty; no command runs.
  returned: always
  type: list
  elements: str
  sample: []
duration:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 0.01
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.artisan.upgrade.plugins.module_utils import _env_file as envf
from ansible_collections.artisan.upgrade.plugins.module_utils._run import MASK, ModuleFailure, Run


def argument_spec():
    return dict(
        path=dict(type='path', required=True),
        renames=dict(type='dict', default={}),
        remove=dict(type='list', elements='str', default=[]),
        set=dict(type='dict', default={}),
        set_secret=dict(type='dict', default={}, no_log=True),
        secret_keys=dict(type='list', elements='str', default=[], no_log=False),
        create=dict(type='bool', default=True),
        backup=dict(type='bool', default=False),
    )


def read(path, create, wants_values):
    """The parsed file, or an empty one when it is missing and may be created."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except FileNotFoundError:
        if not create and wants_values:
            raise ModuleFailure('%s does not exist (create is false)' % path) from None
        return None
    except OSError as exc:
        raise ModuleFailure('cannot read %s: %s' % (path, exc.strerror or exc)) from None
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise ModuleFailure('%s is not UTF-8 (byte %d): systemd ignores such values' % (path, exc.start)) from None
    try:
        return envf.parse(text)
    except ModuleFailure as exc:
        raise ModuleFailure('%s: %s' % (path, exc.msg), **exc.context) from None


def write(module, path, text, exists):
    """Write through a private temporary file in the same folder, renamed over the file (atomic_move keeps an
    existing file's owner, group, mode and SELinux context)."""
    folder = os.path.dirname(path) or '.'
    fd, temp = tempfile.mkstemp(dir=folder, prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(text.encode('utf-8'))
            handle.flush()
            os.fsync(handle.fileno())
        if exists:
            module.atomic_move(temp, path, unsafe_writes=module.params['unsafe_writes'])
        else:
            # atomic_move would give a new file the umask's mode; mkstemp's 0600 must hold from the first instant.
            os.rename(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def masked_values(env, secret_keys):
    return {key: MASK if key in secret_keys else value for key, value in env.values().items()}


def main():
    module = AnsibleModule(argument_spec=argument_spec(), add_file_common_args=True, supports_check_mode=True)
    params = module.params
    run = Run(secrets=[v for v in params['set_secret'].values() if isinstance(v, str)])
    # A linked file is edited where it is, and the link stays a link.
    path = os.path.realpath(params['path'])
    set_values = dict(params['set'], **params['set_secret'])
    overlap = set(params['set']) & set(params['set_secret'])
    secret_keys = set(params['secret_keys']) | set(params['set_secret'])
    # A rename moves one value: secret under either name means secret under both.
    secret_keys |= {new for old, new in params['renames'].items() if old in secret_keys}
    secret_keys |= {old for old, new in params['renames'].items() if new in secret_keys}
    try:
        if overlap:
            raise ModuleFailure('keys both in set and set_secret: %s' % ', '.join(sorted(overlap)))
        before = read(path, params['create'], bool(set_values))
        exists = before is not None
        if before is None and not set_values:
            module.exit_json(**run.envelope(False, '%s does not exist and there is nothing to set' % path,
                                            path=params['path'], changes=[], env={}))
        before = before or envf.EnvFile(())
        for key, value in before.values().items():
            if key in secret_keys:
                run.add_secret(value)
        after, changes = envf.edit(before, params['renames'], set_values, params['remove'])
    except ModuleFailure as exc:
        module.fail_json(**run.failure(exc, path=params['path']))
    text = envf.render(after)
    changed = bool(changes) or not exists
    result = dict(path=params['path'], changes=changes, env=masked_values(after, secret_keys))
    if module._diff:
        result['diff'] = dict(before_header=path, after_header=path,
                              before=envf.render_masked(before, secret_keys) if exists else '',
                              after=envf.render_masked(after, secret_keys))
    if changed and not module.check_mode:
        if params['backup'] and exists:
            result['backup_file'] = module.backup_local(path)
        try:
            write(module, path, text, exists)
        except OSError as exc:
            module.fail_json(**run.failure(ModuleFailure('cannot write %s: %s' % (path, exc.strerror or exc)), path=params['path']))
    file_args = module.load_file_common_arguments(params, path=path)
    if exists or not module.check_mode:
        changed = module.set_fs_attributes_if_different(file_args, changed, diff=None)
    msg = '; '.join(changes) if changes else ('owner, group or mode set' if changed else 'no change')
    if not exists:
        msg = 'created %s: %s' % (path, msg)
    if module.check_mode and changed:
        msg = 'check mode, nothing changed; the plan: ' + msg
    module.exit_json(**run.envelope(changed, run.mask(msg), **result))


if __name__ == '__main__':
    main()
