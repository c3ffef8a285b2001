"""execution-environment.yml: `ansible-builder create` (ansible-builder 3, from PyPI) makes a build context from
it offline - a Containerfile, the collection's Python and system requirements and the collection's tarball. The
image itself needs the base image's registry and the package mirrors, which a test here cannot reach."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import tarfile

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def run(*argv: str, cwd: pathlib.Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, '%s failed (%d):\n%s\n%s' % (argv, done.returncode, done.stdout, done.stderr)
    return done.stdout


def test_ansible_builder_creates_the_build_context(tmp_path):
    definition = yaml.safe_load((REPO / 'execution-environment.yml').read_text(encoding='utf-8'))
    assert definition['version'] == 3
    deps = definition['dependencies']
    # The EE definition, its requirement files and the collection tarball, as a user's checkout has them.
    work = tmp_path / 'ee'
    for name in ('execution-environment.yml', deps['python'], deps['system'], deps['galaxy']):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, work / name)
    run(str(BIN / 'ansible-galaxy'), 'collection', 'build', '--output-path', str(work / 'awx/ee/collections'), str(REPO),
        cwd=work)
    run(str(BIN / 'ansible-builder'), 'create', '-f', 'execution-environment.yml', '-c', 'context',
        '--output-filename', 'Containerfile', cwd=work)

    context = work / 'context'
    containerfile = (context / 'Containerfile').read_text(encoding='utf-8')
    assert 'ARG EE_BASE_IMAGE="%s"' % definition['images']['base_image']['name'] in containerfile
    assert 'ansible-core==' in containerfile and 'ansible-runner==' in containerfile
    assert 'ansible-galaxy collection install' in containerfile
    assert (context / '_build/requirements.txt').read_text() == (REPO / 'requirements.txt').read_text()
    assert (context / '_build/bindep.txt').read_text() == (REPO / 'bindep.txt').read_text()
    assert 'postgresql-client [platform:dpkg]' in (context / '_build/bindep.txt').read_text()

    # The galaxy requirements name the tarball the context carries: the collection at galaxy.yml's version.
    galaxy = yaml.safe_load((REPO / 'galaxy.yml').read_text(encoding='utf-8'))
    (wanted,) = yaml.safe_load((context / '_build/requirements.yml').read_text())['collections']
    assert wanted == {'name': 'collections/artisan-upgrade-%s.tar.gz' % galaxy['version'], 'type': 'file'}
    tarball = context / '_build' / wanted['name']
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {'MANIFEST.json', 'playbooks/upgrade.yml', 'plugins/modules/run_lock.py', 'roles/preflight/tasks/main.yml'} <= names
    assert not any(name.startswith(('awx/ee/collections/', '.cache/', 'tests/output/')) for name in names)
