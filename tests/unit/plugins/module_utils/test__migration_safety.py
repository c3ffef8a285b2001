# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Migration safety rules on SQL as alembic renders it offline, and squawk's report mapped to the same rules."""

from __future__ import annotations

import json

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _migration_safety as safety

from ansible_collections.artisan.upgrade.tests.unit.plugins.module_utils.squawk_outputs import REPORT, SQL

# demoapp's 0002 (expand) as `alembic upgrade 0001:0002 --sql` renders it: nothing unsafe.
EXPAND_0002 = """BEGIN;

-- Running upgrade 0001 -> 0002

ALTER TABLE users ADD COLUMN display_name VARCHAR(200);

UPDATE users SET display_name = full_name WHERE display_name IS NULL;

CREATE TABLE audit_log (
    id BIGSERIAL NOT NULL,
    user_id INTEGER,
    action VARCHAR(64) NOT NULL,
    detail TEXT DEFAULT '' NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_audit_log_user_id FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE SET NULL
);

CREATE INDEX ix_audit_log_user_id ON audit_log (user_id);

UPDATE alembic_version SET version_num='0002' WHERE alembic_version.version_num = '0001';

COMMIT;
"""

# Every rule of SQL (the squawk fixture) as the built-in rules see them, in order.
EXPECTED = [
    ('adding-not-nullable-field', 'ALTER TABLE users ALTER COLUMN email SET NOT NULL'),
    ('constraint-missing-not-valid', 'ALTER TABLE users ADD CONSTRAINT ck_x CHECK (id > 0)'),
    ('constraint-missing-not-valid', 'ALTER TABLE posts ADD CONSTRAINT fk_x FOREIGN KEY(user_id) REFERENCES users (id)'),
    ('adding-foreign-key-constraint', 'ALTER TABLE posts ADD CONSTRAINT fk_x FOREIGN KEY(user_id) REFERENCES users (id)'),
    ('changing-column-type', 'ALTER TABLE users ALTER COLUMN email TYPE TEXT'),
    ('renaming-column', 'ALTER TABLE users RENAME full_name TO name'),
    ('renaming-table', 'ALTER TABLE users RENAME TO people'),
    ('ban-drop-table', 'DROP TABLE posts'),
    ('adding-required-field', 'ALTER TABLE users ADD COLUMN n integer NOT NULL'),
    ('disallowed-unique-constraint', 'ALTER TABLE users ADD CONSTRAINT uq UNIQUE (email)'),
    ('require-concurrent-index-creation', 'CREATE UNIQUE INDEX ix ON users (email)'),
    ('adding-foreign-key-constraint', 'ALTER TABLE users ADD COLUMN k integer REFERENCES posts(id)'),
]


def pairs(found):
    return [(item['rule'], item['statement']) for item in found]


def test_the_expand_migration_has_no_findings():
    assert safety.builtin_findings(EXPAND_0002) == []


def test_builtin_rules_find_what_squawk_finds_on_the_same_sql():
    builtin = pairs(safety.builtin_findings(SQL))
    assert builtin == EXPECTED
    squawk = pairs(safety.squawk_findings(json.dumps(REPORT), SQL))
    # squawk (recorded) finds the same, and also calls a UNIQUE constraint one that lacks NOT VALID.
    assert set(squawk) - set(builtin) == {('constraint-missing-not-valid', 'ALTER TABLE users ADD CONSTRAINT uq UNIQUE (email)')}
    assert set(builtin) <= set(squawk)


def test_squawk_style_advice_is_not_a_finding():
    rules = {item['rule'] for item in safety.squawk_findings(json.dumps(REPORT), SQL)}
    assert not rules & {'prefer-bigint-over-int', 'require-lock-timeout', 'require-statement-timeout'}
    assert safety.squawk_findings('[]', 'SELECT 1;') == []


@pytest.mark.parametrize('sql, rules', [
    ('ALTER TABLE users DROP COLUMN full_name', ['ban-drop-column']),
    ('ALTER TABLE "Users" DROP "Full Name", ADD COLUMN x int', ['ban-drop-column']),
    ('ALTER TABLE users DROP CONSTRAINT uq_users_email', []),
    ('ALTER TABLE users ALTER COLUMN name DROP DEFAULT', []),
    ('ALTER TABLE users ALTER COLUMN n SET DATA TYPE bigint', ['changing-column-type']),
    ('ALTER TABLE users ALTER COLUMN n SET DEFAULT 0', []),
    ('ALTER TABLE users ADD COLUMN n int NOT NULL DEFAULT 0', []),
    ('ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES t (id) NOT VALID', []),
    ('ALTER TABLE users ADD CONSTRAINT uq UNIQUE USING INDEX ix', []),
    ('CREATE INDEX CONCURRENTLY ix ON users (email)', []),
    ('CREATE INDEX ix ON public.users USING btree (lower(email))', ['require-concurrent-index-creation']),
    ('DROP TABLE IF EXISTS old_posts CASCADE', ['ban-drop-table']),
    ("INSERT INTO notes VALUES ('ALTER TABLE users DROP COLUMN x; DROP TABLE y')", []),
    ("DO $$ BEGIN EXECUTE 'DROP TABLE y'; END $$", []),
    ('-- DROP TABLE y;\n/* ALTER TABLE users DROP COLUMN x; */ SELECT 1', []),
])
def test_builtin_rules_on_single_statements(sql, rules):
    assert [item['rule'] for item in safety.builtin_findings(sql)] == rules


def test_statements_on_tables_created_in_the_same_revision_are_not_findings():
    sql = ('CREATE TABLE IF NOT EXISTS "Events" (id int); CREATE INDEX ix ON "Events" (id); '
           'ALTER TABLE "Events" ADD COLUMN at timestamptz NOT NULL; DROP TABLE "Events"; DROP TABLE events')
    assert pairs(safety.builtin_findings(sql)) == [('ban-drop-table', 'DROP TABLE events')]


def test_split_statements_respects_quotes_dollar_quotes_and_comments():
    sql = "SELECT 'a;b'; SELECT \"x;y\" FROM t; DO $f$ BEGIN; END $f$; -- c;\nSELECT 1 /* ; */"
    assert safety.split_statements(sql) == ["SELECT 'a;b'", 'SELECT "x;y" FROM t', 'DO $f$ BEGIN; END $f$', 'SELECT 1']


def test_findings_are_classified_ignored_and_explained():
    revision = {'revision': '0003', 'message': 'contract'}
    raw = safety.builtin_findings('ALTER TABLE users DROP COLUMN full_name; CREATE INDEX ix ON users (x)')
    found = safety.findings_of(revision, raw, 'builtin', ignore=())
    assert [(f['rule'], f['kind']) for f in found] == [('ban-drop-column', 'contract'),
                                                       ('require-concurrent-index-creation', 'blocking')]
    assert safety.classify(found, True) == 'contract'
    assert safety.classify(found[1:], True) == 'expand'
    assert safety.findings_of(revision, raw, 'builtin', ignore={'ban-drop-column'}) == found[1:]
    message = safety.refusal(found, {'0003': 'drop full_name'})
    assert message.startswith('refusing contract revision 0003 before deploy (safety: enforce): revision 0003 '
                              '(drop full_name) drops a column')
    assert '[ban-drop-column]: ALTER TABLE users DROP COLUMN full_name' in message
    assert safety.refusal(found[1:], {}).startswith('refusing revisions that block traffic')
    assert safety.unknown_rules(['ban-drop-column', 'nope']) == ['nope']


@pytest.mark.parametrize('checked, findings, label', [
    (True, [], 'expand'),
    (True, [{'kind': 'blocking'}], 'expand'),
    (True, [{'kind': 'contract'}], 'contract'),
    # safety off, or SQL that could not be rendered: nothing was checked, whatever the (empty) findings say
    (False, [], 'unchecked'),
])
def test_a_revision_is_expand_only_when_its_sql_was_checked(checked, findings, label):
    assert safety.classify(findings, checked) == label
