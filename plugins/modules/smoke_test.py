#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smoke_test
short_description: Run a suite of HTTP and TCP checks against a service until it passes or a deadline expires
version_added: 0.1.0
description:
  - Runs every check of O(checks) in rounds. The task passes once every required check passed in
    O(consecutive_successes) rounds in a row, and fails at the O(timeout) deadline with one line per
    failing check.
  - Built for the verification step of an upgrade, where the new version needs time to become
    ready and a flapping service must not pass.
  - The module only reads; it never reports a change and runs unchanged in check mode.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - requests
options:
  base_url:
    description:
      - URL that the O(checks[].path) of HTTP checks are relative to, for example V(http://127.0.0.1:8000).
      - Also the default host of TCP checks.
    type: str
  checks:
    description:
      - The checks to run, in order, each round.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Name shown in the results and failure message. Defaults to the type and the path or port.
        type: str
      type:
        description:
          - V(http) sends one request and checks the response; V(tcp) only opens a connection.
        type: str
        choices: [http, tcp]
        default: http
      path:
        description:
          - Path relative to O(base_url). Mutually exclusive with O(checks[].url).
        type: str
      url:
        description:
          - Absolute URL, for a check that does not go to O(base_url).
        type: str
      method:
        description:
          - HTTP method.
        type: str
        default: GET
      headers:
        description:
          - Request headers. They are never returned.
        type: dict
      body:
        description:
          - Request body, sent as JSON.
        type: raw
      status:
        description:
          - Accepted status codes, each a code (V(200)), a class (V(2xx)) or a range (V(200-299)).
          - Defaults to V(200-299).
        type: list
        elements: str
      body_regex:
        description:
          - Regular expression the response body must contain a match for.
        type: str
      max_ms:
        description:
          - Latency budget of one request in milliseconds; a slower response fails the check.
        type: int
      follow_redirects:
        description:
          - Whether redirects are followed before the status is checked.
        type: bool
        default: true
      host:
        description:
          - Host of a TCP check. Defaults to the host of O(base_url).
        type: str
      port:
        description:
          - Port of a TCP check.
        type: int
      required:
        description:
          - When V(false), a failure of this check is reported but does not fail the task.
        type: bool
        default: true
  timeout:
    description:
      - Deadline in seconds for the whole suite to pass.
    type: float
    default: 60
  interval:
    description:
      - Seconds to wait after a failed round; doubled after each further failure up to O(max_interval).
    type: float
    default: 1
  max_interval:
    description:
      - Longest wait between two rounds, in seconds.
    type: float
    default: 10
  consecutive_successes:
    description:
      - Number of passing rounds in a row needed before the suite passes.
    type: int
    default: 1
  request_timeout:
    description:
      - Timeout of one request or connection attempt, in seconds.
    type: float
    default: 5
  validate_certs:
    description:
      - Verify TLS certificates of HTTPS URLs.
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle to verify TLS certificates with, instead of the system store.
    type: path
extends_documentation_fragment:
  - artisan.upgrade.attributes
  - artisan.upgrade.attributes.actiongroup_http
attributes:
  check_mode:
    support: full
    details: Only reads, so it runs the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
notes:
  - Proxy settings from the environment are ignored, so that the service itself is tested.
seealso:
  - module: ansible.builtin.uri
    description: A single HTTP request per task.
"""

EXAMPLES = r"""
- name: Verify the new version is up and serving
  artisan.upgrade.smoke_test:
    base_url: http://127.0.0.1:8000
    timeout: 120
    consecutive_successes: 3
    checks:
      - name: liveness
        path: /health
      - name: readiness
        path: /api/system/health
        body_regex: '"status":\s*"ok"'
      - name: API root
        path: /api
        max_ms: 500
      - name: database port
        type: tcp
        host: 127.0.0.1
        port: 5432
        required: false
  delegate_to: localhost
"""

RETURN = r"""
checks:
  description: Result of each check in the last round.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      sample: readiness
    type:
      description: Type of the check.
      type: str
      sample: http
    ok:
      description: Whether the check passed.
      type: bool
      sample: true
    required:
      description: Whether a failure of this check fails the task.
      type: bool
      sample: true
    status:
      description: HTTP status code, or null for TCP checks and requests that got no response.
      type: int
      sample: 200
    latency_ms:
      description: Time the request or connection took, in milliseconds.
      type: float
      sample: 12.5
    attempts:
      description: How many times the check ran.
      type: int
      sample: 3
    message:
      description: Why the check failed, or V(ok).
      type: str
      sample: status 503, expected 200-299
totals:
  description: Counts over the last round.
  returned: always
  type: dict
  sample: {total: 4, passed: 4, failed: 0, failed_required: 0}
rounds:
  description: Number of rounds run.
  returned: always
  type: int
  sample: 2
duration_ms:
  description: Time the suite took, in milliseconds.
  returned: always
  type: float
  sample: 1534.2
"""

import time
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.artisan.upgrade.plugins.module_utils import _http, _smoke

CHECK_OPTIONS = dict(
    name=dict(type='str'),
    type=dict(type='str', choices=['http', 'tcp'], default='http'),
    path=dict(type='str'),
    url=dict(type='str'),
    method=dict(type='str', default='GET'),
    headers=dict(type='dict'),
    body=dict(type='raw'),
    status=dict(type='list', elements='str'),
    body_regex=dict(type='str'),
    max_ms=dict(type='int'),
    follow_redirects=dict(type='bool', default=True),
    host=dict(type='str'),
    port=dict(type='int'),
    required=dict(type='bool', default=True),
)


def make_probe(module, session):
    request_timeout = module.params['request_timeout']
    default_host = urlsplit(module.params['base_url'] or '').hostname or '127.0.0.1'

    def probe(check):
        if check['type'] == 'tcp':
            latency, error = _http.tcp_probe(check.get('host') or default_host, check['port'], request_timeout)
            return dict(ok=error is None, status=None, latency_ms=round(latency, 1), message=error or 'ok')
        status, body, latency, error = _http.http_probe(session, check, request_timeout)
        if error is None:
            error = _smoke.evaluate_http(check, status, body, latency)
        return dict(ok=error is None, status=status, latency_ms=round(latency, 1), message=error or 'ok')

    return probe


def main():
    module = AnsibleModule(
        argument_spec=dict(
            base_url=dict(type='str'),
            checks=dict(type='list', elements='dict', required=True, options=CHECK_OPTIONS,
                        mutually_exclusive=[('path', 'url')]),
            timeout=dict(type='float', default=60),
            interval=dict(type='float', default=1),
            max_interval=dict(type='float', default=10),
            consecutive_successes=dict(type='int', default=1),
            request_timeout=dict(type='float', default=5),
            validate_certs=dict(type='bool', default=True),
            ca_path=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    if _http.requests is None:
        module.fail_json(msg=missing_required_lib('requests'))
    params = module.params
    if not params['checks']:
        module.fail_json(msg='checks is empty: give at least one check to run')
    if params['consecutive_successes'] < 1:
        module.fail_json(msg='consecutive_successes must be 1 or more, got %d' % params['consecutive_successes'])
    if params['timeout'] <= 0 or params['request_timeout'] <= 0:
        module.fail_json(msg='timeout and request_timeout must be positive numbers of seconds')
    try:
        checks = [_smoke.normalize_check(i, c, params['base_url']) for i, c in enumerate(params['checks'])]
    except _smoke.CheckSpecError as exc:
        module.fail_json(msg=str(exc))

    session = _http.new_session(params['validate_certs'], params['ca_path'])
    results, rounds, elapsed = _smoke.run_suite(
        checks, make_probe(module, session), params['timeout'], params['interval'], params['max_interval'],
        params['consecutive_successes'], time.monotonic, time.sleep)
    report = dict(changed=False, checks=results, totals=_smoke.summarize(results), rounds=rounds,
                  duration_ms=round(elapsed * 1000, 1))
    if _smoke.required_failures(results):
        module.fail_json(msg=_smoke.failure_message(results, rounds, elapsed), **report)
    module.exit_json(msg='%d check(s) passed' % len(results), **report)


if __name__ == '__main__':
    main()
