"""Offline stand-in for the get-pip.py script ansible-test downloads to bootstrap pip in its venvs.

ansible-test runs it with pip's install arguments (e.g. ``pip==25.2 --no-setuptools --no-wheel``);
it installs pip from the wheel that the harness cached beside this file.
"""

import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GET_PIP_ONLY_OPTIONS = ('--no-setuptools', '--no-wheel')


def main() -> int:
    wheels = sorted(glob.glob(os.path.join(HERE, 'pip-*-py3-none-any.whl')))
    if not wheels:
        sys.stderr.write('no pip wheel cached in %s\n' % HERE)
        return 1
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    command = [sys.executable, os.path.join(wheels[-1], 'pip'), 'install', '--no-index', '--find-links', HERE] + args
    return subprocess.call(command)


if __name__ == '__main__':
    sys.exit(main())
