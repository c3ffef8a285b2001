# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Migration safety: which statements of a migration's SQL break code still running during a rolling or
canary deploy (``contract``) or lock a busy table for the length of a scan or rewrite (``blocking``).

Two sources, one rule set named as squawk names its rules: the squawk linter's JSON report when squawk
is installed, else the built-in rules below, which read PostgreSQL statements as alembic renders them
offline. A statement on a table created earlier in the same revision is never a finding: nobody uses
that table yet. Pure functions; running squawk is the caller's business.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t

CONTRACT = 'contract'
BLOCKING = 'blocking'
EXPAND = 'expand'
# A revision whose SQL nobody read (safety off, or env.py could not render it offline): unsafe until shown otherwise.
UNCHECKED = 'unchecked'


@dataclasses.dataclass(frozen=True)
class Rule:
    kind: str
    problem: str
    instead: str


RULES = {
    'ban-drop-column': Rule(CONTRACT, 'drops a column that the running release may still read or write',
                            'drop it in a contract migration run after every old instance is gone'),
    'ban-drop-table': Rule(CONTRACT, 'drops a table that the running release may still use',
                           'drop it in a contract migration run after every old instance is gone'),
    'renaming-column': Rule(CONTRACT, 'renames a column: the running release still uses the old name',
                            'add the new column, write both, backfill, and drop the old one later'),
    'renaming-table': Rule(CONTRACT, 'renames a table: the running release still uses the old name',
                           'create the new table (or a view), move over, and drop the old one later'),
    'adding-required-field': Rule(CONTRACT, 'adds a NOT NULL column without a default: inserts of the running '
                                  'release fail, and the statement fails on a table with rows',
                                  'add it nullable or with a default, backfill, then SET NOT NULL later'),
    'adding-not-nullable-field': Rule(CONTRACT, 'sets NOT NULL: writes of the running release that leave the '
                                      'column empty fail, and the table is scanned under an ACCESS EXCLUSIVE lock',
                                      'add a CHECK (col IS NOT NULL) NOT VALID constraint, VALIDATE it, then '
                                      'SET NOT NULL'),
    'changing-column-type': Rule(CONTRACT, 'changes a column type: the table is rewritten under an ACCESS '
                                 'EXCLUSIVE lock and the running release may not read the new type',
                                 'add a column of the new type, backfill, and switch over in a later release'),
    'require-concurrent-index-creation': Rule(BLOCKING, 'creates an index without CONCURRENTLY: writes to the '
                                              'table block while it builds',
                                              'CREATE INDEX CONCURRENTLY outside a transaction '
                                              '(op.create_index(..., postgresql_concurrently=True) in an '
                                              'autocommit block)'),
    'constraint-missing-not-valid': Rule(BLOCKING, 'adds a constraint without NOT VALID: the whole table is '
                                         'scanned while writes block',
                                         'add it NOT VALID, then VALIDATE CONSTRAINT in a later step'),
    'adding-foreign-key-constraint': Rule(BLOCKING, 'adds a foreign key without NOT VALID: both tables block '
                                          'writes while it is checked',
                                          'add it NOT VALID, then VALIDATE CONSTRAINT in a later step'),
    'disallowed-unique-constraint': Rule(BLOCKING, 'adds a UNIQUE constraint, building its index under an '
                                         'ACCESS EXCLUSIVE lock',
                                         'CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX'),
}

IDENT = r'(?:"(?:[^"]|"")+"|[\w$]+)'
QUALIFIED = r'(%s(?:\s*\.\s*%s)?)' % (IDENT, IDENT)
CREATE_TABLE_RE = re.compile(r'^CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:(?:TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\s+'
                             r'(?:IF\s+NOT\s+EXISTS\s+)?' + QUALIFIED, re.IGNORECASE)
ALTER_TABLE_RE = re.compile(r'^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?' + QUALIFIED + r'\s+(.*)$',
                            re.IGNORECASE | re.DOTALL)
CREATE_INDEX_RE = re.compile(r'^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?.*?\bON\s+(?:ONLY\s+)?' + QUALIFIED,
                             re.IGNORECASE | re.DOTALL)
DROP_TABLE_RE = re.compile(r'^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(.*?)(?:\s+(?:CASCADE|RESTRICT))?$',
                           re.IGNORECASE | re.DOTALL)
CONSTRAINT_WORDS = ('CONSTRAINT', 'CHECK', 'FOREIGN', 'UNIQUE', 'PRIMARY', 'EXCLUDE')


def split_statements(sql: str) -> list[str]:
    """SQL statements without comments, whitespace collapsed; semicolons inside quotes, dollar quotes
    and comments do not split."""
    statements, current, i, n = [], [], 0, len(sql)
    while i < n:
        char = sql[i]
        if sql.startswith('--', i):
            end = sql.find('\n', i)
            i = n if end < 0 else end
            current.append(' ')
            continue
        if sql.startswith('/*', i):
            end = sql.find('*/', i + 2)
            i = n if end < 0 else end + 2
            current.append(' ')
            continue
        if char in ("'", '"'):
            end = i + 1
            while end < n:
                if sql[end] == char:
                    if end + 1 < n and sql[end + 1] == char:
                        end += 2
                        continue
                    break
                end += 1
            current.append(sql[i:end + 1])
            i = end + 1
            continue
        dollar = re.match(r'\$(?:[A-Za-z_]\w*)?\$', sql[i:]) if char == '$' else None
        if dollar:
            tag = dollar.group(0)
            end = sql.find(tag, i + len(tag))
            end = n if end < 0 else end + len(tag)
            current.append(sql[i:end])
            i = end
            continue
        if char == ';':
            statements.append(''.join(current))
            current = []
        else:
            current.append(char)
        i += 1
    statements.append(''.join(current))
    return [' '.join(statement.split()) for statement in statements if statement.strip()]


def unquote_name(name: str) -> str:
    """``public."Users"`` -> ``Users``; ``Users`` -> ``users`` (the table name as PostgreSQL folds it)."""
    last = re.split(r'\s*\.\s*(?=(?:[^"]*"[^"]*")*[^"]*$)', name.strip())[-1]
    if last.startswith('"'):
        return last[1:-1].replace('""', '"')
    return last.lower()


def top_level_split(text: str) -> list[str]:
    """ALTER TABLE actions: commas outside parentheses and quotes separate them."""
    parts, depth, current, quote = [], 0, [], ''
    for char in text:
        if quote:
            if char == quote:
                quote = ''
        elif char in ("'", '"'):
            quote = char
        elif char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
        elif char == ',' and depth == 0:
            parts.append(''.join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append(''.join(current).strip())
    return [part for part in parts if part]


def alter_action_rules(action: str) -> list[str]:
    """Rules broken by one ALTER TABLE action."""
    upper = action.upper()
    words = upper.split()
    if not words:
        return []
    if words[0] == 'DROP':
        return [] if len(words) > 1 and words[1] in ('CONSTRAINT', 'DEFAULT') else ['ban-drop-column']
    if words[0] == 'RENAME':
        if len(words) > 1 and words[1] == 'TO':
            return ['renaming-table']
        return [] if len(words) > 1 and words[1] == 'CONSTRAINT' else ['renaming-column']
    if words[0] == 'ALTER':
        if re.search(r'\bSET\s+NOT\s+NULL\b', upper):
            return ['adding-not-nullable-field']
        if re.search(r'\b(?:SET\s+DATA\s+)?TYPE\b', upper) and not re.search(r'\bSET\s+(DEFAULT|STATISTICS|STORAGE)\b', upper):
            return ['changing-column-type']
        return []
    if words[0] == 'ADD':
        rest = words[1:]
        if rest and rest[0] == 'COLUMN':
            rest = rest[1:]
        if rest and rest[0] in CONSTRAINT_WORDS:
            return constraint_rules(upper)
        found = []
        if re.search(r'\bNOT\s+NULL\b', upper) and not re.search(r'\b(DEFAULT|GENERATED)\b', upper):
            found.append('adding-required-field')
        if re.search(r'\bREFERENCES\b', upper):
            found.append('adding-foreign-key-constraint')
        return found
    return []


def constraint_rules(upper: str) -> list[str]:
    if 'NOT VALID' in upper or 'USING INDEX' in upper:
        return []
    if re.search(r'\bFOREIGN\s+KEY\b', upper):
        return ['constraint-missing-not-valid', 'adding-foreign-key-constraint']
    if re.search(r'\bCHECK\b', upper):
        return ['constraint-missing-not-valid']
    if re.search(r'\bUNIQUE\b', upper):
        return ['disallowed-unique-constraint']
    return []


def builtin_findings(sql: str) -> list[dict[str, str]]:
    """``[{rule, statement}]`` for one revision's SQL, by the built-in rules."""
    created: set[str] = set()
    found = []
    for statement in split_statements(sql):
        create = CREATE_TABLE_RE.match(statement)
        if create:
            created.add(unquote_name(create.group(1)))
            continue
        rules: list[str] = []
        alter = ALTER_TABLE_RE.match(statement)
        index = CREATE_INDEX_RE.match(statement)
        drop = DROP_TABLE_RE.match(statement)
        if alter and unquote_name(alter.group(1)) not in created:
            for action in top_level_split(alter.group(2)):
                rules.extend(alter_action_rules(action))
        elif index and not index.group(1) and unquote_name(index.group(2)) not in created:
            rules.append('require-concurrent-index-creation')
        elif drop:
            names = [unquote_name(name) for name in top_level_split(drop.group(1))]
            if any(name not in created for name in names):
                rules.append('ban-drop-table')
        found.extend({'rule': rule, 'statement': statement} for rule in dict.fromkeys(rules))
    return found


def squawk_findings(report: str, sql: str) -> list[dict[str, str]]:
    """``[{rule, statement}]`` from squawk's ``--reporter json`` output for ``sql``, kept to RULES
    (squawk's style advice, such as prefer-text-field, is not a deploy-safety matter)."""
    lines = sql.splitlines()
    found = []
    for entry in json.loads(report or '[]'):
        rule = entry.get('rule_name')
        if rule not in RULES:
            continue
        first, last = entry.get('line', 0), entry.get('line_end', entry.get('line', 0))
        statement = ' '.join(' '.join(lines[first:last + 1]).split()).rstrip(';') if 0 <= first < len(lines) else ''
        found.append({'rule': rule, 'statement': statement})
    return found


def shorten(statement: str, limit: int = 160) -> str:
    return statement if len(statement) <= limit else statement[:limit - 3] + '...'


def findings_of(revision: dict[str, t.Any], raw: t.Sequence[dict[str, str]], source: str,
                ignore: t.Collection[str]) -> list[dict[str, str]]:
    """Findings of one planned revision with their kind and explanation; ignored rules dropped."""
    return [{'revision': revision['revision'], 'rule': item['rule'], 'kind': RULES[item['rule']].kind,
             'statement': shorten(item['statement']), 'problem': RULES[item['rule']].problem,
             'instead': RULES[item['rule']].instead, 'source': source}
            for item in raw if item['rule'] not in ignore]


def classify(findings: t.Sequence[dict[str, str]], checked: bool) -> str:
    """``unchecked`` when the revision's SQL was not checked, ``contract`` when anything breaks the running
    release, else ``expand``."""
    if not checked:
        return UNCHECKED
    return CONTRACT if any(finding['kind'] == CONTRACT for finding in findings) else EXPAND


def finding_line(finding: dict[str, str], messages: dict[str, str]) -> str:
    revision = finding['revision']
    label = '%s (%s)' % (revision, messages[revision]) if messages.get(revision) else revision
    return 'revision %s %s [%s]: %s' % (label, finding['problem'], finding['rule'], finding['statement'])


def refusal(findings: t.Sequence[dict[str, str]], messages: dict[str, str]) -> str:
    """The failure message of safety=enforce."""
    contract = sorted({f['revision'] for f in findings if f['kind'] == CONTRACT})
    head = ('refusing contract revision%s %s before deploy' % ('s' if len(contract) > 1 else '', ', '.join(contract))
            if contract else 'refusing revisions that block traffic')
    return '%s (safety: enforce): %s. Nothing was applied; fix the migrations, list accepted rules in safety_ignore, ' \
           'or run contract migrations after the deploy with safety: warn' % (
               head, '; '.join(finding_line(f, messages) for f in findings))


def unknown_rules(names: t.Iterable[str]) -> list[str]:
    return sorted(set(names) - set(RULES))
