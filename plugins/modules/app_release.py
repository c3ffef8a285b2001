#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: app_release
short_description: Release folders of a Python application, each with its own virtualenv, and an atomic current link
version_added: 0.1.0
description:
  - Manages C(<app_root>/releases/<version>/) for a Python application. Each release holds its own virtualenv in
    C(venv/), made with O(python) C(-m venv), into which O(requirements) are installed from a O(wheelhouse)
    (offline, C(--no-index --find-links)) or an index; C(pip check) must pass in it.
  - A release is built in a temporary folder under C(releases/) whose name starts with C(.artisan-tmp-),
    checked, renamed to its version, and marked complete last by C(.artisan-release.json) (version, creation
    time, Python, the sha256 of C(pip freeze --all)). A failed venv, install or C(pip check) removes everything
    built, and the message quotes pip's error; the C(current) link is not touched.
  - O(state=current) also points C(<app_root>/current) at the release, by renaming a new symbolic link over the
    old one, so that C(current) always names a complete release. The current and previous releases are read
    from the link and from C(<app_root>/.release-state.json), never from file times.
  - O(keep_releases) prunes the oldest complete releases (by the creation time their markers record), never the
    current, the previous or this task's release, and never a folder that is not a complete release.
  - Changes are serialized per application by a lock (C(<app_root>/.release-lock)); a second task waits for the
    first one up to O(timeout).
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - On the host, a Python with the C(venv) module (Debian and Ubuntu package it as C(python3-venv)).
options:
  app_root:
    description:
      - Folder of the application, holding C(releases/), C(current) and the state file. Created if missing.
    type: path
    required: true
  version:
    description:
      - The release, for example V(2.0.0); the folder's name. Letters, digits and C(. _ + -).
      - With O(state=current), V(previous) is the same as O(state=rollback).
      - Required unless O(state=rollback) or O(state=query).
    type: str
  state:
    description:
      - V(present) makes sure the release is installed and complete (built when it is not).
      - V(current) does the same and points C(current) at it.
      - V(rollback) points C(current) at the previous release, which then becomes the previous one in turn.
      - V(absent) removes the release; refused for the current one.
      - V(query) only reads the current and previous releases and the list of releases, changing and creating
        nothing, with no lock taken (the C(facts) of the C(deploy_systemd) role). A missing O(app_root) reads as
        no release at all.
    type: str
    choices: [present, current, rollback, absent, query]
    default: present
  requirements:
    description:
      - What pip installs into a new release's virtualenv, one requirement specifier or file per item, for
        example V(demoapp==2.0.0). Needed to build a release; not used when the release is complete.
    type: list
    elements: str
  wheelhouse:
    description:
      - Folder of wheels on the host to install from, offline (C(--no-index --find-links)).
    type: path
  index_url:
    description:
      - Package index to install from instead of pip's default (C(--index-url)). Can hold credentials, so it is
        never shown.
    type: str
  pip_args:
    description:
      - More arguments of C(pip install), one list item per argument, for example
        V([--extra-index-url, https://pypi.internal/simple]) or V([--constraint, /srv/app/constraints.txt]).
      - Passwords in URLs (C(https://user:token@host/)) are masked in RV(commands) and messages.
    type: list
    elements: str
  python:
    description:
      - Interpreter that creates the virtualenvs (a name on E(PATH) or an absolute path), for example V(python3.11).
    type: str
    default: python3
  owner:
    description:
      - User that owns the release's files (name or uid), for example the unprivileged user the application runs
        as. Changing it needs root. Defaults to the user the module runs as.
    type: str
  group:
    description:
      - Group that owns the release's files (name or gid).
    type: str
  mode:
    description:
      - Mode of the release folder, as an octal string such as V('0750'). Files inside keep the modes Python and
        pip give them (readable by everyone with the usual umask 022).
    type: str
  keep_releases:
    description:
      - Keep at most this many complete releases, newest first by creation time; older ones are deleted. The
        current release, the previous one and this task's release are always kept, even beyond this number.
    type: int
  service:
    description:
      - With O(state=query), also reads the systemd service that runs the release, in the same call, so that a role
        telling whether a host has anything left to do needs no more tasks (the C(facts) of C(deploy_systemd)).
      - Not allowed with the other states.
    type: dict
    suboptions:
      name:
        description:
          - The unit, for example V(demoapp.service); its C(ActiveState) is returned.
        type: str
        required: true
      unit_file:
        description:
          - Its unit file, compared with O(service.content) (the content only; owner and mode are not compared).
        type: path
      content:
        description:
          - What O(service.unit_file) should hold, for example the unit as the role's template renders it.
        type: str
  timeout:
    description:
      - Seconds each command (venv, pip) may take, and the longest this task waits for another task that holds
        the application's lock.
    type: int
    default: 900
extends_documentation_fragment:
  - artisan.upgrade.attributes
attributes:
  check_mode:
    support: full
    details: Reads the releases, the link and the state file, checks that O(python), O(owner) and O(group) exist,
      and reports what would be built, switched and pruned; runs neither venv nor pip.
  diff_mode:
    support: full
    details: The current and previous releases and the list of releases (incomplete ones marked), before and after.
  idempotent:
    support: full
    details: A complete release is not built again; switching to the current release changes nothing.
notes:
  - A virtualenv records its own path (script shebangs, activate scripts, C(pyvenv.cfg)); after the rename from the
    temporary folder these are rewritten to the release's path, and the bytecode is compiled there, before the
    release is marked complete.
  - A folder C(releases/<version>) without a complete marker is the leftover of an interrupted run. It is never
    switched to nor pruned; building that version again replaces it. Temporary folders of other versions are left
    alone.
  - Point the service at C(<app_root>/current/venv/bin/...), and keep the environment file and data outside
    C(releases/).
seealso:
  - module: artisan.upgrade.env_file
    description: Data-driven edits of the application's environment file.
"""

EXAMPLES = r"""
- name: Install demoapp 2.0.0 from the wheelhouse into its own release and make it current
  artisan.upgrade.app_release:
    app_root: /srv/demoapp
    version: "2.0.0"
    state: current
    requirements: ["demoapp==2.0.0"]
    wheelhouse: /srv/wheelhouse
    python: python3.11
    owner: demoapp
    group: demoapp
    keep_releases: 3
  register: release

- name: Prepare the next release without switching (for example on every host before a rolling restart)
  artisan.upgrade.app_release:
    app_root: /srv/demoapp
    version: "3.0.0"
    requirements: ["demoapp==3.0.0"]
    index_url: "https://{{ pypi_user }}:{{ pypi_token }}@pypi.internal/simple"

- name: Go back to the release that was current before
  artisan.upgrade.app_release:
    app_root: /srv/demoapp
    state: rollback

- name: Read which release is current and which was before, changing nothing
  artisan.upgrade.app_release:
    app_root: /srv/demoapp
    state: query
  register: releases

- name: Read the releases, the state of the unit and whether its file is as the role renders it, in one call
  artisan.upgrade.app_release:
    app_root: /srv/demoapp
    state: query
    service:
      name: demoapp.service
      unit_file: /etc/systemd/system/demoapp.service
      content: "{{ lookup('ansible.builtin.template', 'demoapp.service.j2') }}"
  register: releases

- name: Remove a release that failed its smoke test
  artisan.upgrade.app_release:
    app_root: /srv/demoapp
    version: "3.0.0"
    state: absent
"""

RETURN = r"""
current:
  description: The release C(current) points to after the task (or would, in check mode); null when there is none.
  returned: always
  type: str
  sample: 2.0.0
previous:
  description: The release that was current before the last switch; the target of O(state=rollback).
  returned: always
  type: str
  sample: 1.0.0
version:
  description: The release this task is about (for O(state=rollback), the one switched to; for O(state=query),
    the current one).
  returned: success
  type: str
  sample: 2.0.0
release_path:
  description: Folder of that release.
  returned: success
  type: str
  sample: /srv/demoapp/releases/2.0.0
releases:
  description: Every release folder after the task, oldest first, incomplete ones last.
  returned: success
  type: list
  elements: dict
  sample: [{version: 1.0.0, complete: true, created: "2026-11-26T16:01:02.123456Z"},
           {version: 2.0.0, complete: true, created: "2026-11-26T16:03:04.654321Z"}]
service:
  description: With O(service), the unit's C(ActiveState) and whether its unit file holds O(service.content)
    (null when no unit file was given; false when the file is missing).
  returned: state is query and service is given
  type: dict
  sample: {name: demoapp.service, active_state: active, unit_file_matches: true}
pruned:
  description: Releases deleted by O(keep_releases) (or that would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: [0.9.0]
commands:
  description: The commands run, as shell-quoted lines (O(index_url) is masked).
  returned: always
  type: list
  elements: str
  sample: ["/usr/bin/python3.11 -m venv /srv/demoapp/releases/.artisan-tmp-1a2b3c4d-2.0.0/venv",
           "/srv/demoapp/releases/.artisan-tmp-1a2b3c4d-2.0.0/venv/bin/python -m pip install --no-compile --no-index
            --find-links /srv/wheelhouse demoapp==2.0.0"]
duration:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 21.4
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.artisan.upgrade.plugins.module_utils import _app_release as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _app_release_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def argument_spec():
    return dict(
        app_root=dict(type='path', required=True),
        version=dict(type='str'),
        state=dict(type='str', choices=['present', 'current', 'rollback', 'absent', 'query'], default='present'),
        requirements=dict(type='list', elements='str'),
        wheelhouse=dict(type='path'),
        index_url=dict(type='str', no_log=True),
        pip_args=dict(type='list', elements='str'),
        python=dict(type='str', default='python3'),
        owner=dict(type='str'),
        group=dict(type='str'),
        mode=dict(type='str'),
        keep_releases=dict(type='int'),
        timeout=dict(type='int', default=900),
        service=dict(type='dict', options=dict(
            name=dict(type='str', required=True),
            unit_file=dict(type='path'),
            content=dict(type='str'),
        )),
    )


def option_errors(params):
    """Constraints the argument spec cannot express; the first broken one, or None."""
    version = params['version']
    if params['state'] not in ('rollback', 'query') and not version:
        return 'state %s needs the version of a release' % params['state']
    if params['state'] == 'rollback' and version:
        return 'state rollback switches to the previous release: leave version out, or use state current with it'
    if params['state'] == 'query' and version:
        return 'state query reads the current and previous releases: leave version out'
    if params['service'] and params['state'] != 'query':
        return 'service is read by state query only, got state %s' % params['state']
    if params['service'] and (params['service']['unit_file'] is None) != (params['service']['content'] is None):
        return 'service.unit_file and service.content go together: the file and what it should hold'
    if version and not (params['state'] == 'current' and version == 'previous'):
        error = decide.version_error(version)
        if error:
            return error
    if params['keep_releases'] is not None and params['keep_releases'] < 1:
        return 'keep_releases must be 1 or more, got %d' % params['keep_releases']
    if params['timeout'] < 1:
        return 'timeout must be 1 second or more'
    if params['mode'] is not None:
        try:
            mode = int(params['mode'], 8)
        except ValueError:
            mode = -1
        if not 0 <= mode <= 0o7777:
            return "mode must be an octal string such as '0750', got %r" % params['mode']
    return decide.source_error(params)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = dict(module.params)
    run = Run(secrets=[params['index_url']] + decide.url_passwords(params['pip_args'] or []))
    error = option_errors(params)
    if error:
        module.fail_json(**run.failure(ModuleFailure(error)))
    if params['mode'] is not None:
        params['mode'] = int(params['mode'], 8)
    action = actions.Action(params, module.check_mode, module.warn, run)
    try:
        result = actions.perform(action)
    except ModuleFailure as exc:
        module.fail_json(**run.failure(exc))
    except OSError as exc:
        module.fail_json(**run.failure(ModuleFailure('%s: %s' % (exc.filename or 'file system', exc.strerror or exc))))
    if not module._diff:
        result.pop('diff')
    changed, msg = result.pop('changed'), result.pop('msg')
    module.exit_json(**run.envelope(changed, msg, **result))


if __name__ == '__main__':
    main()
