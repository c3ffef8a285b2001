# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decision logic of smoke_test: what a check expects, whether a result meets it, when to stop."""

from __future__ import annotations

import json
import re
import typing as t
import xml.etree.ElementTree as ET
from urllib.parse import urlencode, urlsplit, urlunsplit

from ansible.module_utils.parsing.convert_bool import boolean

DEFAULT_STATUS = '200-299'
PLACEHOLDER = re.compile(r'\{([A-Za-z_][A-Za-z0-9_]*)\}')
MISSING = object()
MASK = '********'
# A capture whose name or JSON path says credential is secret unless the user says otherwise.
CREDENTIAL = re.compile(r'token|secret|passw|pwd|key|session|cookie|auth|credential|jwt|bearer|otp', re.IGNORECASE)
# What a plain credential header may hold besides captured values: an auth scheme (Bearer) or a cookie name.
SCHEME_OR_COOKIE_NAME = re.compile(r'\s*(?:[A-Za-z][\w.-]*(?:\s+|=))?\s*')
AUTH_SCHEME = re.compile(r'^\s*[A-Za-z][\w.-]*\s+(?=\S)')
# A message quoting a response cut short may hold the start of a secret; shorter starts are too common to mask.
MIN_MASKED_PART = 6


class CheckSpecError(ValueError):
    """A check definition that cannot be run; the message names the check and the bad field."""


def parse_status_spec(spec: t.Any) -> list[tuple[int, int]]:
    """Turn ``200``, ``'2xx'``, ``'200-299'`` or a list of those into inclusive ranges."""
    items = spec if isinstance(spec, list) else [spec]
    ranges = []
    for item in items:
        text = str(item).strip().lower()
        match = re.fullmatch(r'([1-5])xx', text)
        if match:
            base = int(match.group(1)) * 100
            ranges.append((base, base + 99))
            continue
        match = re.fullmatch(r'(\d{3})(?:\s*-\s*(\d{3}))?', text)
        if not match:
            raise ValueError("status %r is not a code (200), a class (2xx) or a range (200-299)" % (item,))
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if not 100 <= low <= high <= 599:
            raise ValueError('status range %r is outside 100-599 or reversed' % (item,))
        ranges.append((low, high))
    return ranges


def status_matches(status: int, ranges: list[tuple[int, int]]) -> bool:
    return any(low <= status <= high for low, high in ranges)


def join_url(base_url: str, path: str, websocket: bool = False) -> str:
    """A check's ``url`` wins; otherwise its ``path`` is appended to ``base_url`` with exactly one slash.

    WebSocket checks take the scheme from ``base_url`` too: http becomes ws, https becomes wss.
    """
    if re.match(r'^[a-z][a-z0-9+.-]*://', path, re.IGNORECASE):
        return path
    if not base_url:
        return path
    url = base_url.rstrip('/') + '/' + path.lstrip('/')
    if websocket:
        url = re.sub(r'^http', 'ws', url, flags=re.IGNORECASE)
    return url


_PATH_STEP = re.compile(r'\.?([^.\[\]]+)|\[(\d+)\]|\[[\'"]([^\'"]+)[\'"]\]')


def parse_json_path(path: str) -> list[str | int]:
    """``$.items[0].name`` (or ``items.0.name``) -> ['items', 0, 'name']."""
    text = path.strip()
    text = text[1:] if text.startswith('$') else text
    steps: list[str | int] = []
    position = 0
    while position < len(text):
        match = _PATH_STEP.match(text, position)
        if not match:
            raise ValueError('JSON path %r is not of the form $.a.b[0].c' % path)
        key, index, quoted = match.groups()
        if index is not None:
            steps.append(int(index))
        elif quoted is not None:
            steps.append(quoted)
        else:
            steps.append(int(key) if key.isdigit() else key)
        position = match.end()
    return steps


def lookup(document: t.Any, path: str) -> t.Any:
    """The value at a JSON path, or MISSING."""
    current = document
    for step in parse_json_path(path):
        if isinstance(step, int) and isinstance(current, list) and -len(current) <= step < len(current):
            current = current[step]
        elif isinstance(current, dict) and str(step) in current:
            current = current[str(step)]
        else:
            return MISSING
    return current


def substitute(value: t.Any, captures: dict[str, t.Any]) -> t.Any:
    """Replace ``{name}`` with captured values in strings, recursively; unknown names stay as they are."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: str(captures[m.group(1)]) if m.group(1) in captures else m.group(0), value)
    if isinstance(value, list):
        return [substitute(item, captures) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, captures) for key, item in value.items()}
    return value


def _check_regex(where: str, field: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise CheckSpecError('%s: %s does not compile: %s' % (where, field, exc)) from None


def _check_paths(where: str, field: str, paths: t.Iterable[str]) -> None:
    for path in paths:
        try:
            parse_json_path(path)
        except ValueError as exc:
            raise CheckSpecError('%s: %s: %s' % (where, field, exc)) from None


def _normalize_http(where: str, check: dict[str, t.Any], result: dict[str, t.Any]) -> None:
    status = check.get('status') or DEFAULT_STATUS
    result['status_text'] = ', '.join(str(s) for s in status) if isinstance(status, list) else str(status)
    try:
        result['status_ranges'] = parse_status_spec(status)
    except ValueError as exc:
        raise CheckSpecError('%s: %s' % (where, exc)) from None
    if check.get('body_regex'):
        _check_regex(where, 'body_regex', check['body_regex'])
    for assertion in check.get('assert_json') or []:
        kinds = [kind for kind in ('equals', 'contains', 'matches', 'exists') if assertion.get(kind) is not None]
        if len(kinds) != 1:
            raise CheckSpecError('%s: assert_json on %s needs exactly one of equals, contains, matches, exists'
                                 % (where, assertion.get('path')))
        if assertion.get('matches') is not None:
            _check_regex(where, 'assert_json matches', assertion['matches'])
    _check_paths(where, 'assert_json', [a['path'] for a in check.get('assert_json') or []])
    for name, pattern in (check.get('assert_headers') or {}).items():
        _check_regex(where, 'assert_headers[%s]' % name, str(pattern))
    result['capture'] = {var: _normalize_capture(where, var, spec) for var, spec in (check.get('capture') or {}).items()}


def _normalize_capture(where: str, var: str, spec: t.Any) -> dict[str, t.Any]:
    """``$.path`` or ``{path: $.path, secret: bool}`` -> {path, secret}; secret None means "decide from the suite"."""
    if isinstance(spec, str):
        spec = {'path': spec}
    if not isinstance(spec, dict) or not isinstance(spec.get('path'), str) or set(spec) - {'path', 'secret'}:
        raise CheckSpecError('%s: capture %s needs a JSON path, or path and secret (true or false)' % (where, var))
    secret = spec.get('secret')
    if secret is not None:
        try:
            secret = boolean(secret)
        except TypeError:
            raise CheckSpecError('%s: capture %s: secret must be true or false, got %r' % (where, var, secret)) from None
    _check_paths(where, 'capture %s' % var, [spec['path']])
    return {'path': spec['path'], 'secret': secret}


def _normalize_websocket(where: str, check: dict[str, t.Any], result: dict[str, t.Any]) -> None:
    for expected in check.get('expect') or []:
        if not isinstance(expected, dict) or len(set(expected) & {'json', 'regex'}) != 1:
            raise CheckSpecError('%s: each expect item needs exactly one of json (a subset to find) or regex' % where)
        if 'regex' in expected:
            _check_regex(where, 'expect regex', str(expected['regex']))
    if not check.get('send') and not check.get('expect'):
        result['expect'] = []  # a bare connect is a valid WebSocket check


def _normalize_metrics(where: str, check: dict[str, t.Any], result: dict[str, t.Any]) -> None:
    for side in ('numerator', 'denominator'):
        selector = check.get(side)
        if not isinstance(selector, dict) or not selector.get('name'):
            raise CheckSpecError('%s: a metrics check needs %s: {name: <counter>, labels: {label: regex}}' % (where, side))
        for label, pattern in (selector.get('labels') or {}).items():
            _check_regex(where, '%s label %s' % (side, label), str(pattern))
    if check.get('max_ratio') is None:
        raise CheckSpecError('%s: a metrics check needs max_ratio (e.g. 0.01 for 1 %%)' % where)
    if not 0 <= check['max_ratio'] <= 1:
        raise CheckSpecError('%s: max_ratio %s is outside 0-1' % (where, check['max_ratio']))
    result['window'] = check.get('window') if check.get('window') is not None else 5.0
    if result['window'] <= 0:
        raise CheckSpecError('%s: window must be a positive number of seconds' % where)


def normalize_check(index: int, check: dict[str, t.Any], base_url: str | None) -> dict[str, t.Any]:
    """Validate one check up front and fill in its defaults, so no request is sent for a broken suite."""
    kind = check['type']
    name = check.get('name') or '%s %s' % (kind, check.get('path') or check.get('url') or check.get('port') or index)
    where = 'check %d (%s)' % (index + 1, name)
    result = dict(check, name=name)
    if kind in ('http', 'websocket', 'metrics'):
        target = check.get('url') or check.get('path')
        if not target:
            raise CheckSpecError('%s: %s %s check needs path or url' % (where, 'an' if kind == 'http' else 'a', kind))
        result['url'] = join_url(base_url or '', target, websocket=kind == 'websocket')
        scheme = r'^wss?://' if kind == 'websocket' else r'^https?://'
        if not re.match(scheme, result['url'], re.IGNORECASE):
            raise CheckSpecError('%s: %r is not %s URL; set base_url or give a full url'
                                 % (where, result['url'], 'a ws(s)' if kind == 'websocket' else 'an http(s)'))
    if kind == 'http':
        _normalize_http(where, check, result)
    elif kind == 'websocket':
        _normalize_websocket(where, check, result)
    elif kind == 'metrics':
        _normalize_metrics(where, check, result)
    elif kind == 'tcp':
        if not check.get('port'):
            raise CheckSpecError('%s: a tcp check needs port' % where)
        if not 0 < check['port'] < 65536:
            raise CheckSpecError('%s: port %s is outside 1-65535' % (where, check['port']))
    return result


def normalize_suite(checks: list[dict[str, t.Any]], base_url: str | None) -> list[dict[str, t.Any]]:
    normalized = [normalize_check(i, c, base_url) for i, c in enumerate(checks)]
    names = [c['name'] for c in normalized]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CheckSpecError('check names must be unique; repeated: %s' % ', '.join(duplicates))
    declared = {var for check in normalized for var in check.get('capture') or {}}
    for index, check in enumerate(normalized):
        _check_headers('check %d (%s)' % (index + 1, check['name']), check, declared)
    in_headers = {var for check in normalized for option in ('headers', 'secret_headers')
                  for var in PLACEHOLDER.findall(json.dumps(check.get(option) or {}))}
    for check in normalized:
        for var, spec in (check.get('capture') or {}).items():
            if spec['secret'] is None:
                spec['secret'] = is_credential(var, spec['path'], var in in_headers)
    return normalized


def literal_parts(text: str, declared: t.Iterable[str]) -> list[str]:
    """The text around the ``{name}`` placeholders of captured values (other braces are sent as they are)."""
    parts, position = [], 0
    for match in PLACEHOLDER.finditer(text):
        if match.group(1) in declared:
            parts.append(text[position:match.start()])
            position = match.end()
    parts.append(text[position:])
    return parts


def _check_headers(where: str, check: dict[str, t.Any], declared: set[str]) -> None:
    """Refuse a credential written into the plain ``headers``: Ansible hides only no_log options from the
    task's arguments (``invocation``, -vvv), so it belongs in ``secret_headers``. Building one from captured
    values (``Authorization: Bearer {token}``) is fine: the captured token is masked like every secret capture."""
    plain = check.get('headers') or {}
    secret = check.get('secret_headers') or {}
    both = sorted({name.lower() for name in plain} & {name.lower() for name in secret})
    if both:
        raise CheckSpecError('%s: header %s is given in both headers and secret_headers; keep one'
                             % (where, ', '.join(both)))
    for name, value in plain.items():
        literal = ''.join(literal_parts(str(value), declared))
        if CREDENTIAL.search(name) and not SCHEME_OR_COOKIE_NAME.fullmatch(literal):
            raise CheckSpecError(
                '%s: header %s carries a credential, and plain headers are shown in the task\'s arguments '
                '(-vvv, invocation); give it in secret_headers instead (headers may only build it from captured '
                'values, as in "Bearer {token}")' % (where, name))


def credential_header_values(checks: list[dict[str, t.Any]]) -> set[str]:
    """The values of the plain headers named like credentials, to hide when such a header is refused."""
    return {str(value) for check in checks for name, value in (check.get('headers') or {}).items()
            if CREDENTIAL.search(name) and str(value)}


def credential_body_values(checks: list[dict[str, t.Any]]) -> set[str]:
    """The values of JSON or form body fields named like credentials (a login's ``password``), to hide from the
    task's arguments and mask in messages: a login check sends the password in its body."""
    return {str(value) for check in checks if isinstance(check.get('body'), dict)
            for name, value in check['body'].items()
            if CREDENTIAL.search(str(name)) and isinstance(value, (str, int)) and str(value)}


def secret_header_forms(checks: list[dict[str, t.Any]]) -> set[str]:
    """The texts of secret header values as messages may quote them (plain or JSON-escaped): the credential
    after its scheme (Bearer, Basic), without the captured values it holds, which are masked as captures."""
    declared = {var for check in checks for var in check.get('capture') or {}}
    forms = set()
    for check in checks:
        for value in (check.get('secret_headers') or {}).values():
            for part in literal_parts(AUTH_SCHEME.sub('', str(value), count=1), declared):
                part = part.strip()
                forms.update({part, json.dumps(part)[1:-1]} if part else set())
    return forms


def is_credential(var: str, path: str, sent_in_a_header: bool) -> bool:
    """The default of a capture's ``secret``: what an auth flow yields (a token by its name, or a value
    later sent in a request header, such as ``Authorization: Bearer {token}``) is secret; other values are not."""
    return sent_in_a_header or bool(CREDENTIAL.search(var) or CREDENTIAL.search(path))


def secret_forms(check: dict[str, t.Any], captured: dict[str, t.Any]) -> set[str]:
    """The texts of the secret values captured by a check, as messages may quote them (plain or JSON-escaped)."""
    forms = set()
    for var, value in captured.items():
        if not check['capture'][var]['secret']:
            continue
        encoded = json.dumps(value)
        # A string's JSON form without its quotes, so that a masked message keeps them.
        forms.update({str(value), encoded[1:-1] if isinstance(value, str) else encoded})
    return {form for form in forms if form}


def _mask_text(text: str, secret: str) -> str:
    """Mask each occurrence of the secret, and of its first MIN_MASKED_PART or more characters."""
    if len(secret) <= MIN_MASKED_PART:
        return text.replace(secret, MASK)
    parts, position = [], 0
    while True:
        found = text.find(secret[:MIN_MASKED_PART], position)
        if found < 0:
            break
        end = found + MIN_MASKED_PART
        while end - found < len(secret) and end < len(text) and text[end] == secret[end - found]:
            end += 1
        parts.extend((text[position:found], MASK))
        position = end
    parts.append(text[position:])
    return ''.join(parts)


def mask(value: t.Any, secrets: t.Iterable[str]) -> t.Any:
    """Replace secret texts in every string of a result; numbers, booleans and keys stay as they are.

    Messages quote responses cut to a few dozen characters, so the start of a secret is masked too.
    """
    ordered = sorted(set(secrets), key=len, reverse=True)
    if isinstance(value, str):
        for secret in ordered:
            value = _mask_text(value, secret)
        return value
    if isinstance(value, list):
        return [mask(item, ordered) for item in value]
    if isinstance(value, dict):
        return {key: mask(item, ordered) for key, item in value.items()}
    return value


def version_check(expect_version: str, version_path: str, version_field: str) -> dict[str, t.Any]:
    """The implicit check behind ``expect_version``: the running version is the deployed one."""
    return {'name': 'version is %s' % expect_version, 'type': 'http', 'path': version_path,
            'assert_json': [{'path': version_field, 'equals': expect_version}], 'required': True}


def _json_assertion_failure(document: t.Any, assertion: dict[str, t.Any]) -> str | None:
    path = assertion['path']
    value = lookup(document, path)
    if assertion.get('exists') is not None:
        if (value is not MISSING) != bool(assertion['exists']):
            return '%s %s' % (path, 'is missing' if assertion['exists'] else 'exists but should not')
        return None
    if value is MISSING:
        return '%s is missing' % path
    if assertion.get('equals') is not None:
        expected = assertion['equals']
        # Options arrive as strings from templates; compare 2 with "2" as a person would.
        if value != expected and str(value) != str(expected):
            return '%s is %s, expected %s' % (path, json.dumps(value), json.dumps(expected))
    elif assertion.get('contains') is not None:
        needle = str(assertion['contains'])
        if isinstance(value, list):
            found = needle in [str(item) for item in value]
        else:
            found = needle in (value if isinstance(value, dict) else str(value))
        if not found:
            return '%s (%s) does not contain %s' % (path, json.dumps(value)[:80], json.dumps(assertion['contains']))
    elif assertion.get('matches') is not None:
        if not re.search(assertion['matches'], str(value)):
            return '%s (%s) does not match %r' % (path, json.dumps(value)[:80], assertion['matches'])
    return None


def parse_json_body(body: str) -> t.Any:
    try:
        return json.loads(body)
    except ValueError:
        return MISSING


def evaluate_http(check: dict[str, t.Any], status: int, body: str, latency_ms: float,
                  headers: dict[str, str] | None = None) -> tuple[str | None, dict[str, t.Any]]:
    """Return (why the response fails the check or None, values captured from it)."""
    if not status_matches(status, check['status_ranges']):
        return 'status %d, expected %s' % (status, check['status_text']), {}
    if check.get('body_regex') and not re.search(check['body_regex'], body):
        return 'body does not match %r' % check['body_regex'], {}
    lowered = {key.lower(): value for key, value in (headers or {}).items()}
    for name, pattern in (check.get('assert_headers') or {}).items():
        actual = lowered.get(name.lower())
        if actual is None:
            return 'header %s is missing' % name, {}
        if not re.search(str(pattern), actual):
            return 'header %s is %r, expected to match %r' % (name, actual, str(pattern)), {}
    document = MISSING
    if check.get('assert_json') or check.get('capture'):
        document = parse_json_body(body)
        if document is MISSING:
            return 'body is not JSON: %r' % body[:80], {}
    for assertion in check.get('assert_json') or []:
        failure = _json_assertion_failure(document, assertion)
        if failure:
            return failure, {}
    captured = {}
    for var, spec in (check.get('capture') or {}).items():
        value = lookup(document, spec['path'])
        if value is MISSING:
            return 'cannot capture %s: %s is missing from the response' % (var, spec['path']), {}
        captured[var] = value
    if check.get('max_ms') is not None and latency_ms > check['max_ms']:
        return 'took %.1f ms, budget %d ms' % (latency_ms, check['max_ms']), {}
    return None, captured


def message_matches(expected: dict[str, t.Any], message: str) -> bool:
    """A WebSocket reply meets an expectation: a regex search, or a JSON object holding the given subset."""
    if 'regex' in expected:
        return re.search(str(expected['regex']), message) is not None
    document = parse_json_body(message)
    return _contains_subset(document, expected['json'])


def _contains_subset(document: t.Any, subset: t.Any) -> bool:
    if isinstance(subset, dict):
        return isinstance(document, dict) and all(
            key in document and _contains_subset(document[key], value) for key, value in subset.items())
    return document == subset or (not isinstance(document, (dict, list)) and str(document) == str(subset))


def describe_expectation(expected: dict[str, t.Any]) -> str:
    return 'regex %r' % expected['regex'] if 'regex' in expected else json.dumps(expected['json'], sort_keys=True)


def evaluate_ratio(check: dict[str, t.Any], ratio: float | None, numerator: float, denominator: float) -> str | None:
    if ratio is None:
        return ('no samples: %s did not increase over %ss (is the service getting traffic, and is the metric name right?)'
                % (check['denominator']['name'], check['window']))
    if ratio > check['max_ratio']:
        return 'ratio %.4f (%g of %g) is above max_ratio %g' % (ratio, numerator, denominator, check['max_ratio'])
    return None


def required_failures(results: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    return [r for r in results if not r['ok'] and r['required']]


def next_delay(delay: float, max_delay: float) -> float:
    """Back off between rounds (doubling) so a slow start is not hammered, capped at ``max_delay``."""
    return min(delay * 2, max_delay)


def summarize(results: list[dict[str, t.Any]]) -> dict[str, int]:
    return {
        'total': len(results),
        'passed': sum(1 for r in results if r['ok']),
        'failed': sum(1 for r in results if not r['ok']),
        'failed_required': len(required_failures(results)),
    }


def failure_message(results: list[dict[str, t.Any]], rounds: int, elapsed: float) -> str:
    """One line per failed required check, so the reason is readable in an Ansible failure."""
    lines = ['%s: %s' % (r['name'], r['message']) for r in required_failures(results)]
    return 'smoke test failed after %d round(s) in %.1f s; %d required check(s) failing:\n%s' % (
        rounds, elapsed, len(lines), '\n'.join(lines))


def run_round(checks: list[dict[str, t.Any]], probe: t.Callable[[dict[str, t.Any], float], dict[str, t.Any]],
              attempts: dict[str, int], time_left: t.Callable[[], float] = lambda: float('inf'),
              ) -> tuple[list[dict[str, t.Any]], dict[str, t.Any]]:
    """Run every check once, in order; values captured by one check fill ``{name}`` in later ones.

    ``probe(check, budget)`` gets the seconds ``time_left()`` says the round still has; a check with
    none left is not sent. A check that needs a value an earlier check failed to capture is not sent
    either (it would only fail for a confusing reason, such as a 401) and says which value is missing.
    """
    declared = {var for check in checks for var in (check.get('capture') or {})}
    captures: dict[str, t.Any] = {}
    results = []
    for check in checks:
        attempts[check['name']] += 1
        wanted = set(PLACEHOLDER.findall(json.dumps(check, default=str))) & declared
        missing = sorted(wanted - set(captures))
        budget = time_left()
        if missing:
            outcome = dict(ok=False, status=None, latency_ms=0.0,
                           message='not run: %s not captured by an earlier check' % ', '.join(missing))
        elif budget <= 0:
            outcome = dict(ok=False, status=None, latency_ms=0.0, message='not run: no time left before the deadline')
        else:
            outcome = probe(substitute(check, captures), budget)
        captures.update(outcome.pop('captured', None) or {})
        results.append(dict(outcome, name=check['name'], type=check['type'],
                            required=check.get('required', True), attempts=attempts[check['name']]))
    return results, captures


# The round that starts at the deadline still needs time for its requests; so does a metrics window.
ROUND_ALLOWANCE = 1.0


def round_allowance(checks: list[dict[str, t.Any]]) -> float:
    """Seconds every round may take, even past the deadline: a short allowance plus the metrics windows."""
    return ROUND_ALLOWANCE + sum(float(c.get('window') or 0) for c in checks if c['type'] == 'metrics')


def run_suite(
    checks: list[dict[str, t.Any]],
    probe: t.Callable[[dict[str, t.Any], float], dict[str, t.Any]],
    timeout: float,
    interval: float,
    max_interval: float,
    consecutive_successes: int,
    clock: t.Callable[[], float],
    sleep: t.Callable[[float], None],
) -> tuple[list[dict[str, t.Any]], int, float, dict[str, t.Any]]:
    """Run every check in rounds until the required ones pass ``consecutive_successes`` rounds in a row
    or the ``timeout`` deadline passes. ``probe(check, budget)`` returns
    ``{ok, status, latency_ms, message[, captured]}`` within ``budget`` seconds.

    Waits never pass the deadline and the last round starts at the deadline itself, so a service that
    becomes ready before it passes. A round ends at the deadline, or ``round_allowance`` after its start
    if that is later. Returns the results of the last round (with per-check attempt counts), the number
    of rounds, the elapsed seconds and the values captured in the last round.
    """
    start = clock()
    deadline = start + timeout
    allowance = round_allowance(checks)
    attempts = {c['name']: 0 for c in checks}
    streak = 0
    rounds = 0
    delay = interval
    while True:
        rounds += 1
        round_end = max(deadline, clock() + allowance)
        results, captures = run_round(checks, probe, attempts, lambda: round_end - clock())
        streak = 0 if required_failures(results) else streak + 1
        now = clock()
        if streak >= consecutive_successes or now >= deadline:
            return results, rounds, now - start, captures
        sleep(min(delay if streak == 0 else interval, deadline - now))
        delay = next_delay(delay, max_interval) if streak == 0 else interval


def junit_report(results: list[dict[str, t.Any]], elapsed: float, suite_name: str = 'smoke_test') -> str:
    """A JUnit XML report (one testcase per check; advisory failures are reported as skipped)."""
    totals = summarize(results)
    suite = ET.Element('testsuite', name=suite_name, tests=str(totals['total']),
                       failures=str(totals['failed_required']), errors='0',
                       skipped=str(totals['failed'] - totals['failed_required']), time='%.3f' % elapsed)
    for result in results:
        case = ET.SubElement(suite, 'testcase', classname='%s.%s' % (suite_name, result['type']), name=result['name'],
                             time='%.3f' % ((result.get('latency_ms') or 0) / 1000))
        if not result['ok']:
            tag = 'failure' if result['required'] else 'skipped'
            ET.SubElement(case, tag, message=result['message'])
    return ET.tostring(suite, encoding='unicode')


def json_report(results: list[dict[str, t.Any]], rounds: int, elapsed: float) -> str:
    return json.dumps({'checks': results, 'totals': summarize(results), 'rounds': rounds,
                       'duration': round(elapsed, 3)}, indent=2, sort_keys=True)


def request_line(check: dict[str, t.Any], default_host: str) -> str:
    """What a check sends, for the ``commands`` of the result: ``METHOD URL`` (query included, user and
    password left out) or ``TCP host:port``. Header values are never part of it; captured values in the URL
    are masked with the rest of the result."""
    if check['type'] == 'tcp':
        return 'TCP %s:%d' % (check.get('host') or default_host, check['port'])
    parts = urlsplit(check['url'])
    netloc = parts.netloc.rpartition('@')[2]
    query = parts.query
    if check['type'] == 'http' and check.get('query'):
        query = '&'.join(filter(None, [query, urlencode(check['query'], doseq=True)]))
    method = (check.get('method') or 'GET') if check['type'] == 'http' else 'GET'
    return '%s %s' % (method.upper(), urlunsplit((parts.scheme, netloc, parts.path, query, '')))


def count_repeats(lines: list[str]) -> list[str]:
    """Each distinct line once, in the order first sent, with how often it was sent when more than once."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    return [line if count == 1 else '%s  # sent %d times' % (line, count) for line, count in counts.items()]
