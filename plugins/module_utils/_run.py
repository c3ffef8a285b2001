# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The result envelope every module returns, and the one failure type that carries context.

Every module answers ``changed``, ``msg``, ``commands`` (what ran, secrets masked: SQL, command
lines, API calls as ``METHOD path``) and ``duration`` (seconds) beside its own keys. A ``Run`` is
created when a module starts, records what runs, and builds that envelope for success and failure
alike, so the release record and the report read every module the same way.
"""

from __future__ import annotations

import time
import typing as t

MASK = '********'


class ModuleFailure(Exception):
    """A failure to report: ``msg`` says what went wrong and what to do, ``context`` joins the result."""

    def __init__(self, msg: str, **context: t.Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.context = context


def mask(text: str, secrets: t.Iterable[str | None]) -> str:
    """``text`` with every secret replaced by the mask, longest first (a password inside a URL)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class Run:
    """One module run: what it ran so far, since when, and which values must never be shown."""

    def __init__(self, secrets: t.Iterable[str | None] = (), clock: t.Callable[[], float] = time.monotonic) -> None:
        self.commands: list[str] = []
        self.secrets = [s for s in secrets if s]
        self.clock = clock
        self.started = clock()

    def add_secret(self, value: str | None) -> None:
        if value and value not in self.secrets:
            self.secrets.append(value)

    def record(self, command: str) -> None:
        """Note something that ran: a command line, an SQL statement or ``METHOD path``."""
        self.commands.append(mask(command, self.secrets))

    def mask(self, text: str) -> str:
        return mask(text, self.secrets)

    @property
    def duration(self) -> float:
        return round(self.clock() - self.started, 3)

    def envelope(self, changed: bool, msg: str, **fields: t.Any) -> dict[str, t.Any]:
        """The module result: its own ``fields`` with the envelope keys, which the fields cannot override."""
        return dict(fields, changed=changed, msg=msg, commands=list(self.commands), duration=self.duration)

    def failure(self, exc: ModuleFailure, **fields: t.Any) -> dict[str, t.Any]:
        """The keyword arguments of ``fail_json`` for ``exc``: nothing changed unless the context says so."""
        context = dict(fields, **exc.context)
        return self.envelope(bool(context.pop('changed', False)), exc.msg, **context)
