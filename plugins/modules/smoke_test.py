#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smoke_test
short_description: Verify a service with many HTTP, WebSocket, TCP and metrics checks in one task
version_added: 0.1.0
description:
  - Runs every check of O(checks) in rounds. The task passes once every required check passed in
    O(consecutive_successes) rounds in a row, and fails at the O(timeout) deadline with one line per
    failing check.
  - Built for the verification step of an upgrade, where the new version needs time to become
    ready and a flapping service must not pass. Values captured from one check (a login token) are
    used by later ones, so a login, token, authenticated call sequence is one task.
  - The module only reads; it never reports a change and runs unchanged in check mode.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - requests
  - websockets >= 11 (only for O(checks[].type=websocket))
options:
  base_url:
    description:
      - URL that the O(checks[].path) of checks are relative to, for example V(http://127.0.0.1:8000).
      - WebSocket checks use it with V(ws://) or V(wss://) instead of V(http://) or V(https://).
      - Also the default host of TCP checks.
    type: str
  checks:
    description:
      - The checks to run, in order, each round.
      - In every string of a check, V({name}) is replaced with the value captured as V(name) by an earlier
        check of the same round (see O(checks[].capture)). A check whose value was not captured is not sent.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Name shown in the results and failure message; unique in the suite. Defaults to the type and the path or port.
        type: str
      type:
        description:
          - V(http) sends one request and checks the response.
          - V(websocket) connects, sends O(checks[].send) and waits for replies meeting O(checks[].expect).
          - V(tcp) only opens a connection.
          - V(metrics) reads a Prometheus text endpoint twice, O(checks[].window) seconds apart, and
            checks the ratio of two counters' increases, for example 5xx responses over all responses.
        type: str
        choices: [http, websocket, tcp, metrics]
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
      query:
        description:
          - Query string parameters.
        type: dict
      headers:
        description:
          - Request headers (also sent with the WebSocket handshake) that hold no secret. They are shown as
            they are in the task's arguments (C(invocation), C(-vvv)), and their values mask nothing in the result.
          - A header whose name mentions a credential (C(Authorization), C(Proxy-Authorization), C(Cookie),
            C(X-Api-Key), C(X-Auth-Token), anything with token, key, secret, session, cookie, auth, ...) is
            refused here unless its value is built from captured values, such as V(Bearer {token}) (the captured
            value is masked like every secret capture); give it in O(checks[].secret_headers) instead.
        type: dict
      secret_headers:
        description:
          - Request headers that carry credentials, sent with O(checks[].headers). Ansible hides their values
            from the task's arguments (C(no_log)), and the module masks them (the part after an
            authentication scheme such as V(Bearer) or V(Basic)) as V(********) in check messages, the
            failure message and report files.
          - A header name must not be in both O(checks[].headers) and O(checks[].secret_headers).
        type: dict
      body:
        description:
          - Request body, encoded as O(checks[].body_format) says.
          - The values of its fields named like credentials (C(password), C(secret), C(token), ...) are hidden from
            the task's arguments (C(invocation), C(-vvv)) and masked as V(********) in messages and reports, so a
            login check can send a password.
        type: raw
      body_format:
        description:
          - V(json) sends O(checks[].body) as JSON, V(form) as form fields, V(raw) as it is.
        type: str
        choices: [json, form, raw]
        default: json
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
      assert_json:
        description:
          - Assertions on the JSON response, each on one path (V($.a.b[0].c)) with exactly one of
            O(checks[].assert_json[].equals), O(checks[].assert_json[].contains),
            O(checks[].assert_json[].matches) or O(checks[].assert_json[].exists).
        type: list
        elements: dict
        suboptions:
          path:
            description: JSON path of the value.
            type: str
            required: true
          equals:
            description: The value must equal this (a number also equals its string form).
            type: raw
          contains:
            description: The string must contain this, or the list this item, or the object this key.
            type: raw
          matches:
            description: Regular expression the value (as a string) must contain a match for.
            type: str
          exists:
            description: Whether the path must exist.
            type: bool
      assert_headers:
        description:
          - Response headers that must be present, each with a regular expression its value must match.
        type: dict
      capture:
        description:
          - Values to capture from the JSON response, for use as V({name}) in later checks. Each item maps
            a V(name) to a JSON path, or to a dictionary with C(path) (the JSON path) and C(secret) (a
            boolean); see the examples.
          - The value of a secret capture is replaced by V(********) wherever the module would show it - in
            check messages, the failure message and report files. Other captured values are shown as they are.
          - C(secret) defaults to V(true) for what an authentication flow yields - a capture whose name or
            JSON path mentions a credential (token, secret, password, key, session, cookie, auth, jwt, ...)
            or whose value a later check sends in a request header - and to V(false) for other values, so a
            captured V(200) or V(ok) never masks the numbers and words of the result.
        type: dict
      send:
        description:
          - Messages a WebSocket check sends after connecting; objects are sent as JSON text.
        type: list
        elements: raw
      expect:
        description:
          - Replies a WebSocket check waits for, in order. Each item has a C(json) key (the reply is a JSON
            object holding this subset) or a C(regex) key (the reply contains a match). Other messages in
            between are ignored.
        type: list
        elements: dict
      max_ms:
        description:
          - Latency budget in milliseconds; a slower response fails the check. For WebSocket checks,
            the budget of the whole exchange (defaults to O(request_timeout)).
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
      numerator:
        description:
          - Metrics check - the counter whose increase is divided, as a C(name) and optional C(labels), a
            dictionary of label to regular expression; the samples whose labels fully match are summed.
        type: dict
      denominator:
        description:
          - Metrics check - the counter whose increase divides, in the same form. No increase at all over
            the window fails the check as "no samples".
        type: dict
      max_ratio:
        description:
          - Metrics check - the highest acceptable ratio, between 0 and 1 (V(0.01) is 1 %).
        type: float
      window:
        description:
          - Metrics check - seconds between the two reads of the endpoint. A round is given this much
            beyond the O(timeout) deadline, so the last round can complete its measurement.
        type: float
        default: 5
      required:
        description:
          - When V(false), a failure of this check is reported but does not fail the task.
        type: bool
        default: true
  expect_version:
    description:
      - The version that should be running. Adds a check that O(version_path) answers JSON whose
        O(version_field) equals it, so a rollout that left the old version serving does not pass.
    type: str
  version_path:
    description:
      - Path of the version endpoint for O(expect_version).
    type: str
    default: /version
  version_field:
    description:
      - JSON path of the version in the answer of O(version_path).
    type: str
    default: $.version
  timeout:
    description:
      - Deadline in seconds for the whole suite to pass. No wait goes past it and the last round starts at
        the deadline itself, so a service that becomes ready before the deadline passes.
      - Every request, WebSocket exchange, TCP connect and metrics read gets at most the time its round
        has left (see O(request_timeout)). A round ends at the deadline, or 1 second plus the O(checks[].window)
        of its metrics checks after it started if that is later; so the task ends at most that long after
        the deadline.
    type: float
    default: 60
  interval:
    description:
      - Seconds to wait after a failed round; doubled after each further failure up to O(max_interval).
      - Also the wait between passing rounds when O(consecutive_successes) is more than 1.
    type: float
    default: 1
  max_interval:
    description:
      - Longest wait between two rounds, in seconds. It bounds how late readiness is noticed - a service
        that becomes ready is seen passing within O(max_interval) (plus the time of one round) - and must
        not be less than O(interval).
    type: float
    default: 10
  consecutive_successes:
    description:
      - Number of passing rounds in a row needed before the suite passes.
    type: int
    default: 1
  request_timeout:
    description:
      - Timeout of one request or connection attempt, in seconds; shortened to the time left before the
        O(timeout) deadline.
    type: float
    default: 5
  validate_certs:
    description:
      - Verify TLS certificates of HTTPS and WSS URLs.
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle to verify TLS certificates with, instead of the system store.
    type: path
  client_cert:
    description:
      - Client certificate (PEM) for services that require mutual TLS.
    type: path
  client_key:
    description:
      - Private key (PEM) of O(client_cert), when the certificate file does not hold it.
    type: path
  report_path:
    description:
      - Also write the results to this file, for CI systems. It is written in check mode too, as it is
        output, not managed state.
      - It holds the same results as the task, secret captured values and secret header values masked the same way.
    type: path
  report_format:
    description:
      - Format of O(report_path). Defaults to V(junit) for a V(.xml) file, else V(json).
      - V(json) holds C(checks), C(totals), C(rounds) and C(duration) (seconds) as the task returns them; V(junit) gives
        every time in seconds too.
    type: str
    choices: [junit, json]
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
  - Secret captured values are masked by the module itself, not through Ansible's C(no_log) replacement,
    which would also mask every equal number and word of the result. For the same reason only
    O(checks[].secret_headers) is C(no_log); a plain header such as C(X-Env) set to V(ok) leaves the result intact.
seealso:
  - module: ansible.builtin.uri
    description: A single HTTP request per task.
"""

EXAMPLES = r"""
- name: Verify the new version is up, serving, and the one deployed
  artisan.upgrade.smoke_test:
    base_url: http://127.0.0.1:8000
    expect_version: "{{ app_version }}"
    timeout: 120
    consecutive_successes: 3
    report_path: /var/tmp/smoke-report.xml
    checks:
      - name: liveness
        path: /health
      - name: readiness
        path: /api/system/health
        assert_json:
          - {path: $.status, equals: ok}
      - name: API root
        path: /api
        max_ms: 500
      - name: login
        method: POST
        path: /api/auth/login
        body: {username: test@example.com, password: "{{ smoke_password }}"}
        capture:
          token: $.access_token  # secret by default: masked wherever the module shows it
          user_id: {path: $.user.id, secret: false}
      - name: who am I
        path: /api/users/me
        headers:
          Authorization: Bearer {token}
        assert_json:
          - {path: $.email, equals: test@example.com}
      - name: admin API with a key from the vault
        path: /api/admin/stats
        secret_headers:
          X-Api-Key: "{{ vault_admin_api_key }}"  # hidden from -vvv and invocation, masked in messages and reports
        headers:
          X-Smoke-Test: "true"
      - name: protected without a token
        path: /api/users/me
        status: ["401"]
      - name: websocket ping
        type: websocket
        path: /ws
        send: [{type: ping}]
        expect: [{json: {type: pong}}]
        required: false
      - name: error ratio under 1 %
        type: metrics
        path: /metrics
        window: 10
        numerator: {name: http_requests_total, labels: {status: "5.."}}
        denominator: {name: http_requests_total}
        max_ratio: 0.01
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
      description: HTTP status code, or null for other types and requests that got no response.
      type: int
      sample: 200
    latency_ms:
      description: Time the request, exchange or connection took, in milliseconds.
      type: float
      sample: 12.5
    attempts:
      description: How many times the check ran.
      type: int
      sample: 3
    message:
      description: Why the check failed, or V(ok). Secret captured values and secret header values in it are
        replaced by V(********).
      type: str
      sample: status 503, expected 200-299
    ratio:
      description: Metrics checks - the measured ratio, or null when there were no samples.
      type: float
      sample: 0.002
      returned: for metrics checks
totals:
  description: Counts over the last round.
  returned: always
  type: dict
  sample: {total: 4, passed: 4, failed: 0, failed_required: 0}
captured:
  description: Names of the values captured in the last round (the values are not returned).
  returned: always
  type: list
  elements: str
  sample: [token]
rounds:
  description: Number of rounds run.
  returned: always
  type: int
  sample: 2
report_path:
  description: Where the report was written.
  returned: when O(report_path) is set
  type: str
  sample: /var/tmp/smoke-report.xml
commands:
  description:
    - What the task ran, in order (command lines shell-quoted, SQL statements, Kubernetes API calls as C(METHOD path),
      HTTP requests as C(METHOD URL)), with secrets (passwords, tokens, URLs that hold them) replaced by C(********).
      Returned on failure and in check mode too.
    - smoke_test lists each request it sent once, in the order first sent, with how often it was sent when more
      than once; TCP checks as C(TCP host:port). Header values never appear; secret captured values are masked.
  returned: always
  type: list
  elements: str
  sample: ["POST http://127.0.0.1:8080/login", "GET http://127.0.0.1:8080/health  # sent 3 times", "TCP 127.0.0.1:5432"]
duration:
  description: Seconds the task took, as a float. Returned on failure and in check mode too.
  returned: always
  type: float
  sample: 1.53
"""

import os
import tempfile
import time
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.artisan.upgrade.plugins.module_utils import _http, _prometheus, _smoke
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

CHECK_OPTIONS = dict(
    name=dict(type='str'),
    type=dict(type='str', choices=['http', 'websocket', 'tcp', 'metrics'], default='http'),
    path=dict(type='str'),
    url=dict(type='str'),
    method=dict(type='str', default='GET'),
    query=dict(type='dict'),
    headers=dict(type='dict'),
    secret_headers=dict(type='dict', no_log=True),
    body=dict(type='raw'),
    body_format=dict(type='str', choices=['json', 'form', 'raw'], default='json'),
    status=dict(type='list', elements='str'),
    body_regex=dict(type='str'),
    assert_json=dict(type='list', elements='dict', options=dict(
        path=dict(type='str', required=True),
        equals=dict(type='raw'),
        contains=dict(type='raw'),
        matches=dict(type='str'),
        exists=dict(type='bool'),
    )),
    assert_headers=dict(type='dict'),
    capture=dict(type='dict'),
    send=dict(type='list', elements='raw'),
    expect=dict(type='list', elements='dict'),
    max_ms=dict(type='int'),
    follow_redirects=dict(type='bool', default=True),
    host=dict(type='str'),
    port=dict(type='int'),
    numerator=dict(type='dict'),
    denominator=dict(type='dict'),
    max_ratio=dict(type='float'),
    window=dict(type='float', default=5),
    required=dict(type='bool', default=True),
)


class Prober:
    """Runs one check against the service within the seconds the suite has left; the decisions are
    _smoke's, the I/O is _http's."""

    def __init__(self, module, session, run):
        self.module = module
        self.session = session
        self.run = run
        self.request_timeout = module.params['request_timeout']
        self.default_host = urlsplit(module.params['base_url'] or '').hostname or '127.0.0.1'
        self.tls = None
        # Secret captured values of every round, masked in the result and reports. Not no_log_values:
        # Ansible would mask every equal string and number, so a captured "1" or "ok" garbled the result.
        self.secrets = set()
        # Every request sent, for the result's commands (masked and counted at the end).
        self.requests = []

    def sent(self, check):
        self.requests.append(_smoke.request_line(check, self.default_host))

    def __call__(self, check, budget):
        return getattr(self, check['type'])(check, budget)

    def http(self, check, budget):
        self.sent(check)
        response = _http.http_probe(self.session, check, min(self.request_timeout, budget))
        captured = {}
        error = response.error
        if error is None:
            error, captured = _smoke.evaluate_http(check, response.status, response.body, response.latency_ms, response.headers)
        self.secrets.update(_smoke.secret_forms(check, captured))
        return dict(ok=error is None, status=response.status, latency_ms=round(response.latency_ms, 1),
                    message=error or 'ok', captured=captured)

    def websocket(self, check, budget):
        if _http.websocket_connect is None:
            missing = missing_required_lib('websockets >= 11', reason='for websocket checks')
            if check.get('required', True):
                self.module.fail_json(**self.run.failure(ModuleFailure(missing)))
            # An optional check (the runbook's WebSocket ping) fails alone: the host may lack the library.
            return dict(ok=False, status=None, latency_ms=0.0, message=missing)
        if self.tls is None:
            params = self.module.params
            self.tls = _http.ssl_context(params['validate_certs'], params['ca_path'], params['client_cert'], params['client_key'])
        exchange = check['max_ms'] / 1000 if check.get('max_ms') else self.request_timeout
        self.sent(check)
        latency, error = _http.websocket_exchange(check, min(exchange, budget), self.tls, _smoke.message_matches,
                                                  _smoke.describe_expectation)
        return dict(ok=error is None, status=None, latency_ms=round(latency, 1), message=error or 'ok')

    def tcp(self, check, budget):
        self.sent(check)
        latency, error = _http.tcp_probe(check.get('host') or self.default_host, check['port'], min(self.request_timeout, budget))
        return dict(ok=error is None, status=None, latency_ms=round(latency, 1), message=error or 'ok')

    def metrics(self, check, budget):
        ends = time.monotonic() + budget
        scrapes = []
        for scrape in range(2):
            if scrape:
                time.sleep(check['window'])
            # The first read leaves room for the window; the second gets what is left of the budget.
            left = ends - time.monotonic() - (0 if scrape else check['window'])
            if left <= 0:
                return dict(ok=False, status=None, latency_ms=0.0, ratio=None,
                            message='no time left before the deadline to read the metrics over a %s window'
                            % _http.seconds(check['window']))
            self.sent(check)
            response = _http.http_probe(self.session, dict(check, method='GET', body=None), min(self.request_timeout, left))
            error = response.error or (None if response.status == 200 else 'status %d from the metrics endpoint' % response.status)
            if error is None:
                try:
                    scrapes.append(_prometheus.parse(response.body))
                except _prometheus.ExpositionError as exc:
                    error = str(exc)
            if error:
                return dict(ok=False, status=response.status, latency_ms=round(response.latency_ms, 1), message=error, ratio=None)
        ratio, numerator, denominator = _prometheus.counter_ratio(scrapes[0], scrapes[1], check['numerator'], check['denominator'])
        error = _smoke.evaluate_ratio(check, ratio, numerator, denominator)
        return dict(ok=error is None, status=200, latency_ms=round(response.latency_ms, 1), message=error or 'ok',
                    ratio=None if ratio is None else round(ratio, 6))


def write_report(path, report_format, results, rounds, elapsed):
    """Write atomically, so a CI system never reads half a report."""
    report_format = report_format or ('junit' if path.endswith('.xml') else 'json')
    content = (_smoke.junit_report(results, elapsed) if report_format == 'junit'
               else _smoke.json_report(results, rounds, elapsed))
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix='.smoke-report-')
    with os.fdopen(handle, 'w') as stream:
        stream.write(content)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            base_url=dict(type='str'),
            checks=dict(type='list', elements='dict', required=True, options=CHECK_OPTIONS,
                        mutually_exclusive=[('path', 'url')]),
            expect_version=dict(type='str'),
            version_path=dict(type='str', default='/version'),
            version_field=dict(type='str', default='$.version'),
            timeout=dict(type='float', default=60),
            interval=dict(type='float', default=1),
            max_interval=dict(type='float', default=10),
            consecutive_successes=dict(type='int', default=1),
            request_timeout=dict(type='float', default=5),
            validate_certs=dict(type='bool', default=True),
            ca_path=dict(type='path'),
            client_cert=dict(type='path'),
            client_key=dict(type='path', no_log=False),
            report_path=dict(type='path'),
            report_format=dict(type='str', choices=['junit', 'json']),
        ),
        required_by={'client_key': 'client_cert'},
        supports_check_mode=True,
    )
    run = Run()

    def refuse(msg, **fields):
        module.fail_json(**run.failure(ModuleFailure(msg), **fields))

    if _http.requests is None:
        refuse(missing_required_lib('requests'))
    params = module.params
    if not params['checks']:
        refuse('checks is empty: give at least one check to run')
    if params['consecutive_successes'] < 1:
        refuse('consecutive_successes must be 1 or more, got %d' % params['consecutive_successes'])
    if min(params['timeout'], params['request_timeout'], params['interval']) <= 0:
        refuse('timeout, request_timeout and interval must be positive numbers of seconds')
    if params['max_interval'] < params['interval']:
        refuse('max_interval (%g) must not be less than interval (%g)' % (params['max_interval'], params['interval']))
    checks = list(params['checks'])
    # A password sent in a body is hidden from the task's arguments (invocation, -vvv), whatever happens next.
    body_secrets = _smoke.credential_body_values(checks)
    module.no_log_values.update(body_secrets)
    if params['expect_version']:
        checks.append(_smoke.version_check(params['expect_version'], params['version_path'], params['version_field']))
    try:
        checks = _smoke.normalize_suite(checks, params['base_url'])
    except _smoke.CheckSpecError as exc:
        # A refused credential must not show in clear in the task's arguments (invocation) either.
        module.no_log_values.update(_smoke.credential_header_values(checks))
        refuse(str(exc))

    session = _http.new_session(params['validate_certs'], params['ca_path'], params['client_cert'], params['client_key'])
    prober = Prober(module, session, run)
    prober.secrets.update(_smoke.secret_header_forms(checks))
    prober.secrets.update(body_secrets)
    results, rounds, elapsed, captures = _smoke.run_suite(
        checks, prober, params['timeout'], params['interval'], params['max_interval'],
        params['consecutive_successes'], time.monotonic, time.sleep)
    # Everything below (result, message, report files) is built from the masked results.
    results = _smoke.mask(results, prober.secrets)
    for request in _smoke.mask(_smoke.count_repeats(prober.requests), prober.secrets):
        run.record(request)
    report = dict(checks=results, totals=_smoke.summarize(results), rounds=rounds, captured=sorted(captures))
    if params['report_path']:
        try:
            write_report(params['report_path'], params['report_format'], results, rounds, elapsed)
        except OSError as exc:
            refuse('cannot write the report to %s: %s' % (params['report_path'], exc), **report)
        report['report_path'] = params['report_path']
    if _smoke.required_failures(results):
        refuse(_smoke.failure_message(results, rounds, elapsed), **report)
    module.exit_json(**run.envelope(False, '%d check(s) passed' % len(results), **report))


if __name__ == '__main__':
    main()
