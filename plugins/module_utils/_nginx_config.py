# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading nginx's own view of its configuration, without a running nginx.

A candidate include file is validated by ``nginx -t`` on a copy of the whole live configuration
in which that one file is replaced: ``nginx -T`` prints every file the configuration loads, and
``flatten()`` inlines each ``include`` the way nginx would, putting the candidate's text where the
live file's was. nginx then judges the result exactly as it would judge a reload.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import posixpath
import re
import typing as t

DUMP_HEADER = re.compile(r'^# configuration file (.+):$', re.MULTILINE)
MAX_DEPTH = 32


class NginxConfigError(ValueError):
    """The configuration cannot be read the way this module needs."""


def parse_dump(text: str) -> dict[str, str]:
    """``nginx -T`` standard output as {file path: content}, in the order nginx read the files."""
    headers = list(DUMP_HEADER.finditer(text))
    files = {}
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        files[header.group(1)] = text[header.end() + 1:end]
    return files


@dataclasses.dataclass
class Statement:
    name: str
    args: list[str]
    start: int  # offset of the directive name
    end: int  # offset just after its ';' (or '{')
    depth: int


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    quote, pos, value = text[pos], pos + 1, []
    while pos < len(text) and text[pos] != quote:
        if text[pos] == '\\' and pos + 1 < len(text):
            pos += 1
        value.append(text[pos])
        pos += 1
    return ''.join(value), pos + 1


def statements(text: str) -> t.Iterator[Statement]:
    """Every simple directive and block opening of one file, with where it sits in the text."""
    pos, depth, words, start = 0, 0, [], -1
    while pos < len(text):
        char = text[pos]
        if char == '#':
            newline = text.find('\n', pos)
            pos = len(text) if newline < 0 else newline + 1
        elif char.isspace():
            pos += 1
        elif char in ';{}':
            if words and char != '}':
                yield Statement(words[0], words[1:], start, pos + 1, depth)
            depth += {'{': 1, '}': -1}.get(char, 0)
            words, start, pos = [], -1, pos + 1
        else:
            if not words:
                start = pos
            if char in '"\'':
                word, pos = _read_quoted(text, pos)
            else:
                end = pos
                while end < len(text) and not text[end].isspace() and text[end] not in ';{}':
                    end += 1
                word, pos = text[pos:end], end
            words.append(word)


def _matches(pattern: str, path: str) -> bool:
    """glob(3) semantics as nginx uses them: per path component, a leading dot only matches a dot."""
    pattern_parts, path_parts = pattern.split('/'), path.split('/')
    if len(pattern_parts) != len(path_parts):
        return False
    return all(fnmatch.fnmatchcase(name, part) and (not name.startswith('.') or part.startswith('.'))
               for part, name in zip(pattern_parts, path_parts))


def included_files(pattern: str, conf_dir: str, known: t.Iterable[str]) -> list[str]:
    """Files of ``known`` an ``include`` argument loads, in nginx's (sorted glob) order."""
    full = posixpath.normpath(posixpath.join(conf_dir, pattern))
    return sorted(p for p in set(known) if _matches(full, posixpath.normpath(p)))


def loaded_by(main: str, files: dict[str, str], path: str) -> str | None:
    """The ``include`` (and the file holding it) of a loaded configuration that would also load ``path``."""
    conf_dir = posixpath.dirname(main)
    for name, text in files.items():
        for statement in statements(text):
            if statement.name == 'include' and len(statement.args) == 1 \
                    and included_files(statement.args[0], conf_dir, [path]):
                return 'include %s; in %s' % (statement.args[0], name)
    return None


def flatten(main: str, files: dict[str, str], replace: str, replacement: str) -> tuple[str, int]:
    """The main configuration with every include inlined and file ``replace`` swapped for ``replacement``.

    Returns the text and how many includes loaded ``replace`` (0 means the live configuration never
    loads that file, so validating a candidate for it would prove nothing).
    """
    conf_dir = posixpath.dirname(main)
    known = dict(files, **{replace: replacement})
    loads = 0

    def expand(path: str, depth: int) -> str:
        nonlocal loads
        if depth > MAX_DEPTH:
            raise NginxConfigError('includes nested deeper than %d levels from %s' % (MAX_DEPTH, main))
        text = known[path]
        loads += path == replace
        pieces, last = [], 0
        for statement in statements(text):
            if statement.name != 'include' or len(statement.args) != 1:
                continue
            pieces.append(text[last:statement.start])
            inlined = [expand(p, depth + 1) for p in included_files(statement.args[0], conf_dir, known)]
            pieces.append('\n'.join(inlined) + '\n')
            last = statement.end
        pieces.append(text[last:])
        return ''.join(pieces)

    if main not in files:
        raise NginxConfigError('nginx -T did not print %s' % main)
    flat = expand(main, 0)
    return flat, loads


def main_directive(text: str, name: str) -> str | None:
    """The argument of a main-context directive (``pid``, ``user``) of a flattened configuration."""
    for statement in statements(text):
        if statement.depth == 0 and statement.name == name and statement.args:
            return statement.args[0]
    return None


def compiled_options(version_output: str) -> dict[str, str]:
    """``--prefix=...`` style options from ``nginx -V`` (it prints them on standard error)."""
    return dict(m.groups() for m in re.finditer(r'--([a-z-]+)=(\S+)', version_output))


def pid_path(flat_config: str, version_output: str) -> str:
    """Where the master writes its pid: the ``pid`` directive, else the compiled-in default."""
    options = compiled_options(version_output)
    path = main_directive(flat_config, 'pid') or options.get('pid-path') or 'logs/nginx.pid'
    return posixpath.join(options.get('prefix', '/'), path)


def parse_pids(text: str) -> set[int]:
    return {int(word) for word in text.split() if word.isdigit()}
