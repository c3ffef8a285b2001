"""Label and field selectors as the API server parses them (apimachinery labels/fields packages)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import bad_request

_SET_RE = re.compile(r'^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\)|(==|=|!=)\s*([A-Za-z0-9_.-]*))?\s*$')


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # one of: =, !=, in, notin, exists, !exists
    values: tuple[str, ...] = ()

    def matches(self, labels: dict) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == 'exists':
            return present
        if self.operator == '!exists':
            return not present
        if self.operator in ('=', 'in'):
            return present and value in self.values
        # != and notin also match objects without the label, as upstream does.
        return not present or value not in self.values


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside a set's parentheses."""
    terms, depth, current = [], 0, ''
    for char in text:
        if char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
        if char == ',' and depth == 0:
            terms.append(current)
            current = ''
        else:
            current += char
    terms.append(current)
    return [term for term in terms if term.strip()]


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse a labelSelector query string; an empty selector selects everything."""
    requirements = []
    for term in _split_terms(text or ''):
        match = _SET_RE.match(term)
        if not match:
            raise bad_request('unable to parse requirement: found %r, expected a label selector term' % term.strip())
        negated, key, set_op, set_values, eq_op, eq_value = match.groups()
        if set_op:
            if negated:
                raise bad_request('unable to parse requirement: %r' % term.strip())
            values = tuple(value.strip() for value in set_values.split(',') if value.strip())
            requirements.append(Requirement(key, set_op, values))
        elif eq_op:
            if negated:
                raise bad_request('unable to parse requirement: %r' % term.strip())
            requirements.append(Requirement(key, '!=' if eq_op == '!=' else '=', (eq_value,)))
        else:
            requirements.append(Requirement(key, '!exists' if negated else 'exists'))
    return requirements


def labels_match(requirements: list[Requirement], labels: dict | None) -> bool:
    return all(requirement.matches(labels or {}) for requirement in requirements)


def selector_from_label_selector(selector: dict | None) -> list[Requirement]:
    """Convert a metav1.LabelSelector (matchLabels + matchExpressions) to requirements."""
    selector = selector or {}
    requirements = [Requirement(key, '=', (value,)) for key, value in sorted((selector.get('matchLabels') or {}).items())]
    operators = {'In': 'in', 'NotIn': 'notin', 'Exists': 'exists', 'DoesNotExist': '!exists'}
    for expression in selector.get('matchExpressions') or []:
        requirements.append(Requirement(expression['key'], operators[expression['operator']], tuple(expression.get('values') or ())))
    return requirements


def format_label_selector(selector: dict | None) -> str:
    """The labelSelector query string for a metav1.LabelSelector (what kubectl and controllers send)."""
    parts = []
    for requirement in selector_from_label_selector(selector):
        if requirement.operator == '=':
            parts.append('%s=%s' % (requirement.key, requirement.values[0]))
        elif requirement.operator in ('in', 'notin'):
            parts.append('%s %s (%s)' % (requirement.key, requirement.operator, ','.join(requirement.values)))
        elif requirement.operator == 'exists':
            parts.append(requirement.key)
        else:
            parts.append('!' + requirement.key)
    return ','.join(parts)


def parse_field_selector(text: str | None, supported: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Parse a fieldSelector into (path, operator, value); unsupported fields are a 400 as upstream."""
    terms = []
    for term in _split_terms(text or ''):
        match = re.match(r'^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$', term)
        if not match:
            raise bad_request('invalid selector: %r; can\'t understand %r' % (text, term))
        path, operator, value = match.groups()
        if path not in supported:
            raise bad_request('field label not supported: %s' % path)
        terms.append((path, '!=' if operator == '!=' else '=', value))
    return terms


def field_value(obj: dict, path: str) -> str:
    value = obj
    for part in path.split('.'):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def fields_match(terms: list[tuple[str, str, str]], obj: dict) -> bool:
    for path, operator, value in terms:
        equal = field_value(obj, path) == value
        if equal != (operator == '='):
            return False
    return True
