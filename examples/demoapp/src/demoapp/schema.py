"""What this release knows of the database schema, and whether a database's schema lets it serve."""

from __future__ import annotations

import dataclasses
import os

ALEMBIC_INI = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'alembic.ini')


@dataclasses.dataclass(frozen=True)
class SchemaInfo:
    head: str
    older: frozenset[str]


@dataclasses.dataclass(frozen=True)
class Readiness:
    ready: bool
    state: str
    reason: str


def load_schema_info(ini: str = ALEMBIC_INI) -> SchemaInfo:
    """The head of the migrations this release ships, and the revisions before it, read from the scripts themselves."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(Config(ini))
    head = script.get_current_head()
    return SchemaInfo(head=head, older=frozenset(s.revision for s in script.walk_revisions()) - {head})


def compare(revisions: list[str] | None, info: SchemaInfo) -> Readiness:
    """At or beyond this release's head is ready; behind (or never migrated) is not.

    A revision this release does not know comes from a newer release: expand migrations keep older code working,
    which is what lets old and new instances serve side by side during a rolling upgrade.
    """
    if not revisions:
        return Readiness(False, 'unmigrated', 'database schema is not migrated (no Alembic revision): '
                                              'run `demoapp migrate upgrade head`')
    if info.head in revisions:
        return Readiness(True, 'current', 'database schema is at %s, the revision this release expects' % info.head)
    behind = sorted(set(revisions) & info.older)
    if behind:
        return Readiness(False, 'behind', 'database schema is behind: at %s, this release needs %s: run migrations'
                         % (', '.join(behind), info.head))
    return Readiness(True, 'ahead', 'database schema is at %s, newer than this release\'s %s (backward compatible)'
                     % (', '.join(sorted(revisions)), info.head))
