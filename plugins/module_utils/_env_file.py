# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""KEY=VALUE files as systemd's ``EnvironmentFile=`` reads them: parse, edit and render, line by line.

Supported, with systemd's meaning (src/basic/env-file.c): blank lines; comments starting with ``#`` or
``;`` after optional whitespace; ``KEY=VALUE`` with whitespace around the key and after ``=`` ignored;
unquoted values (trailing whitespace dropped, ``\\c`` is ``c``, quotes inside are literal); values made of
single-quoted (literal) and double-quoted parts (``\\"``, ``\\\\``, ``\\$`` and ``\\``` unescaped, any
other backslash kept), whitespace between the parts ignored.

Refused, because editing them line by line could change what systemd reads: anything spanning lines
(a trailing backslash, an unclosed quote, a comment ending in a backslash, whose meaning changed in
systemd 254), lines that are not ``KEY=VALUE``, keys systemd drops as invalid (``export KEY=...``
included), carriage returns and NUL bytes.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils._run import MASK, ModuleFailure

KEY_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')
# Values made only of these are written unquoted; anything else is double-quoted.
PLAIN_VALUE_RE = re.compile(r'[A-Za-z0-9_@%+=:,./-]+\Z')
DOUBLE_QUOTE_ESCAPED = '"\\`$'
WHITESPACE = ' \t'


@dataclasses.dataclass(frozen=True)
class Line:
    """One line of the file: its text as read (or as rendered), and for an assignment its key and value."""

    text: str
    key: str | None = None
    value: str | None = None


@dataclasses.dataclass(frozen=True)
class EnvFile:
    lines: tuple[Line, ...]
    final_newline: bool = True

    def values(self) -> dict[str, str]:
        """What systemd sets: the last assignment of a key wins."""
        return {line.key: line.value for line in self.lines if line.key is not None}  # type: ignore[misc]

    def keys(self) -> list[str]:
        return list(self.values())


def key_error(key: str) -> str | None:
    if not KEY_RE.match(key):
        return ('%r is not a valid environment variable name (letters, digits and _, not starting with a digit): '
                'systemd ignores it' % key)
    return None


def parse_value(raw: str) -> str:
    """The value systemd reads from the text after ``=`` of one line; ModuleFailure for a multi-line value."""
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n and raw[i] in WHITESPACE:
        i += 1
    while i < n:
        c = raw[i]
        if c == "'":
            end = raw.find("'", i + 1)
            if end < 0:
                raise ModuleFailure('unclosed single quote: the value continues on the next line')
            out.append(raw[i + 1:end])
            i = end + 1
        elif c == '"':
            i += 1
            while True:
                if i >= n:
                    raise ModuleFailure('unclosed double quote: the value continues on the next line')
                c = raw[i]
                if c == '"':
                    i += 1
                    break
                if c == '\\':
                    if i + 1 >= n:
                        raise ModuleFailure('backslash at the end of the line: the value continues on the next line')
                    nxt = raw[i + 1]
                    out.append(nxt if nxt in DOUBLE_QUOTE_ESCAPED else '\\' + nxt)
                    i += 2
                else:
                    out.append(c)
                    i += 1
        else:
            return ''.join(out) + _unquoted(raw[i:])
        while i < n and raw[i] in WHITESPACE:
            i += 1
    return ''.join(out)


def _unquoted(raw: str) -> str:
    """An unquoted rest of line: backslash takes the next character literally, trailing whitespace goes."""
    out: list[str] = []
    keep = 0  # length of out up to its last escaped or non-blank character
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == '\\':
            if i + 1 >= len(raw):
                raise ModuleFailure('backslash at the end of the line: the value continues on the next line')
            out.append(raw[i + 1])
            keep = len(out)
            i += 2
            continue
        out.append(c)
        if c not in WHITESPACE:
            keep = len(out)
        i += 1
    return ''.join(out[:keep])


def parse_line(text: str) -> Line:
    stripped = text.lstrip(WHITESPACE)
    if not stripped:
        return Line(text)
    if stripped[0] in '#;':
        if text.endswith('\\'):
            raise ModuleFailure('a comment ending in a backslash continues on the next line up to systemd 253 and not '
                                'from 254: remove the backslash')
        return Line(text)
    if '=' not in stripped:
        raise ModuleFailure('not a KEY=VALUE line (systemd ignores it): make it a comment or remove it')
    key, raw = stripped.split('=', 1)
    key = key.rstrip(WHITESPACE)
    error = key_error(key)
    if error:
        raise ModuleFailure(error)
    return Line(text, key, parse_value(raw))


def parse(text: str) -> EnvFile:
    """The file's lines; ModuleFailure naming the first line this parser does not take (see the module doc)."""
    if '\0' in text:
        raise ModuleFailure('the file holds a NUL byte: not a text environment file')
    final_newline = text.endswith('\n') or not text
    body = text[:-1] if text.endswith('\n') else text
    lines = []
    for number, raw in enumerate(body.split('\n') if body else [], start=1):
        try:
            if '\r' in raw:
                raise ModuleFailure('carriage return (Windows line ends?): systemd reads it as a line break')
            lines.append(parse_line(raw))
        except ModuleFailure as exc:
            raise ModuleFailure('line %d: %s' % (number, exc.msg), line=number) from None
    return EnvFile(tuple(lines), final_newline)


def quote(value: str) -> str:
    """The text after ``=`` that systemd reads back as ``value``."""
    if '\n' in value or '\r' in value or '\0' in value:
        raise ModuleFailure('values with line breaks or NUL bytes cannot be written on one line')
    if value == '' or PLAIN_VALUE_RE.match(value):
        return value
    return '"%s"' % ''.join('\\' + c if c in DOUBLE_QUOTE_ESCAPED else c for c in value)


def assignment(key: str, value: str) -> Line:
    return Line('%s=%s' % (key, quote(value)), key, value)


def render(env: EnvFile) -> str:
    text = '\n'.join(line.text for line in env.lines)
    return text + '\n' if env.lines and env.final_newline else text


def render_masked(env: EnvFile, secret_keys: t.Iterable[str]) -> str:
    """The file as ``render`` writes it, with the value of every secret key replaced by the mask."""
    secret = set(secret_keys)
    masked = [Line('%s=%s' % (line.key, MASK)) if line.key in secret else line for line in env.lines]
    return render(EnvFile(tuple(masked), env.final_newline))


def _rename_line(line: Line, new: str) -> Line:
    """The same line with another key: the value's text is kept exactly as written."""
    start = line.text.index(line.key)  # type: ignore[arg-type]
    return Line(line.text[:start] + new + line.text[start + len(line.key):], new, line.value)  # type: ignore[arg-type]


def rename(env: EnvFile, old: str, new: str) -> tuple[EnvFile, str | None]:
    """Rename ``old`` to ``new``; once renamed nothing changes. Both present: refused unless values are equal,
    then ``old`` goes."""
    values = env.values()
    if old not in values:
        return env, None
    if new in values:
        if values[old] != values[new]:
            raise ModuleFailure('cannot rename %s to %s: both are set, to different values; remove one of them (or '
                                'list it under remove) first' % (old, new), conflict=[old, new])
        return remove(env, old)[0], 'removed %s (same value as %s)' % (old, new)
    lines = tuple(_rename_line(line, new) if line.key == old else line for line in env.lines)
    return dataclasses.replace(env, lines=lines), 'renamed %s to %s' % (old, new)


def remove(env: EnvFile, key: str) -> tuple[EnvFile, str | None]:
    if key not in env.values():
        return env, None
    return dataclasses.replace(env, lines=tuple(line for line in env.lines if line.key != key)), 'removed %s' % key


def set_value(env: EnvFile, key: str, value: str) -> tuple[EnvFile, str | None]:
    """Set ``key``: its last assignment is rewritten in place (earlier ones, which systemd overrides, go),
    or a line is appended."""
    values = env.values()
    if values.get(key) == value and sum(line.key == key for line in env.lines) == 1:
        return env, None
    new = assignment(key, value)
    if key not in values:
        return EnvFile(env.lines + (new,), True), 'added %s' % key
    last = max(index for index, line in enumerate(env.lines) if line.key == key)
    lines = tuple(new if index == last else line for index, line in enumerate(env.lines)
                  if line.key != key or index == last)
    return dataclasses.replace(env, lines=lines), 'set %s' % key


def edit_errors(renames: t.Mapping[str, str], set_values: t.Mapping[str, str], remove_keys: t.Iterable[str]) -> str | None:
    """Inputs that cannot be applied: the first problem, or None."""
    for key in list(renames) + list(renames.values()) + list(set_values) + list(remove_keys):
        error = key_error(key) if isinstance(key, str) else '%r is not a string' % (key,)
        if error:
            return error
    targets = list(renames.values())
    for old, new in renames.items():
        if old == new:
            return 'renames: %s is renamed to itself' % old
        if new in renames:
            return 'renames: %s is both renamed from and to (chains are ambiguous): rename each key once' % new
        if targets.count(new) > 1:
            return 'renames: several keys are renamed to %s' % new
    both = set(set_values) & set(remove_keys)
    if both:
        return 'keys both set and removed: %s' % ', '.join(sorted(both))
    for key, value in set_values.items():
        if not isinstance(value, str):
            return 'set: the value of %s must be a string, got %s (quote it in YAML)' % (key, type(value).__name__)
        try:
            quote(value)
        except ModuleFailure as exc:
            return 'set: %s: %s' % (key, exc.msg)
    return None


def edit(env: EnvFile, renames: t.Mapping[str, str], set_values: t.Mapping[str, str],
         remove_keys: t.Iterable[str]) -> tuple[EnvFile, list[str]]:
    """Apply renames, then removals, then settings; the new file and what changed, in order."""
    error = edit_errors(renames, set_values, list(remove_keys))
    if error:
        raise ModuleFailure(error)
    changes: list[str] = []
    steps: list[tuple[t.Callable[..., tuple[EnvFile, str | None]], tuple[str, ...]]] = []
    steps += [(rename, (old, new)) for old, new in renames.items()]
    steps += [(remove, (key,)) for key in remove_keys]
    steps += [(set_value, (key, value)) for key, value in set_values.items()]
    for step, args in steps:
        env, change = step(env, *args)
        if change:
            changes.append(change)
    return env, changes
