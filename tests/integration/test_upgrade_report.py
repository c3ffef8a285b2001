"""The upgrade_report callback through real ansible-playbook (not ansible-runner: the report goes beside the release
record), on two local hosts with a real HTTP backend for smoke_test, then its page opened in headless Chromium. A
no_log task's result must not reach the report; a task name that is markup must stay text. The report of a real
upgrade.yml run under ansible-runner is checked in test_upgrade_systemd.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from selenium.common.exceptions import NoAlertPresentException

from .helpers.backends import NamedBackend
from .helpers.browser import headless_chromium, open_page

SECRET = 'no-log-secret-5f1c'
VISIBLE = 'visible-marker-9d2e'
EVIL = '<img src=x onerror=alert(1)> step'
RELEASE = 'shop-1.0.0-2.0.0-report'


@pytest.fixture()
def backend():
    server = NamedBackend('shop')
    yield server
    server.stop()


def playbook(records, backend) -> list[dict]:
    record = {'dir': str(records), 'release_id': RELEASE}
    phase = {'delegate_to': 'localhost', 'check_mode': False}

    def smoke(marker, **task):
        return dict({'name': 'smoke %s' % marker[:7], 'ignore_errors': True, 'artisan.upgrade.smoke_test': {
            'base_url': 'http://%s' % backend.address, 'timeout': 1,
            'checks': [{'name': 'body', 'path': '/', 'body_regex': marker}]}}, **task)

    return [{
        'name': 'A recorded run', 'hosts': 'all', 'gather_facts': False,
        'tasks': [
            {'name': 'start', 'artisan.upgrade.release_record': dict(
                record, state='started', app='shop', environment='test', version='2.0.0', version_from='1.0.0',
                metadata={'hosts': '{{ ansible_play_hosts }}'}), 'run_once': True, **phase},
            {'name': 'smoke the backend', 'artisan.upgrade.smoke_test': {
                'base_url': 'http://%s' % backend.address, 'checks': [{'name': 'root', 'path': '/'}]}},
            {'name': 'record preflight', 'artisan.upgrade.release_record': dict(
                record, state='phase', phase='preflight', host='{{ inventory_hostname }}'), **phase},
            {'name': EVIL, 'ansible.builtin.command': 'sleep 1', 'changed_when': False},
            smoke(SECRET, no_log=True),
            smoke(VISIBLE),
            {'name': 'record deploy', 'artisan.upgrade.release_record': dict(
                record, state='phase', phase='deploy', host='{{ inventory_hostname }}'), **phase},
            {'name': 'finish', 'artisan.upgrade.release_record': dict(record, state='finished', status='succeeded'),
             'run_once': True, **phase},
        ],
    }]


def test_a_recorded_run_gets_a_report_beside_its_record_that_a_browser_renders(tmp_path, backend):
    records = tmp_path / 'records'
    (tmp_path / 'play.yml').write_text(yaml.safe_dump(playbook(records, backend)))
    (tmp_path / 'hosts').write_text(''.join('%s ansible_connection=local ansible_python_interpreter=%s\n'
                                            % (host, sys.executable) for host in ('app1', 'app2')))
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED='artisan.upgrade.upgrade_report', ANSIBLE_NOCOLOR='1')
    env.pop('AWX_ISOLATED_DATA_DIR', None)
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'hosts', 'play.yml'],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    page = records / (RELEASE + '.report.html')
    lines = done.stdout.rstrip('\n').splitlines()
    assert lines[-1] == 'Upgrade report: %s' % page, lines[-8:]
    assert lines[-5].startswith('shop 1.0.0 -> 2.0.0 (test): succeeded in '), lines[-5:]
    assert [line.split()[:3] for line in lines[-3:-1]] == [['preflight', '2', 'ok'], ['deploy', '2', 'ok']]

    data = (records / (RELEASE + '.report.json')).read_text()
    text = page.read_text()
    report = json.loads(data)
    assert SECRET not in data and SECRET not in text
    # The same task without no_log does reach the report: the secret's absence is not an accident of the data path.
    assert VISIBLE in data and VISIBLE in text
    assert [(s['host'], s['ok']) for s in report['smoke']] == [('app1', True), ('app2', True), ('app1', False), ('app2', False)]
    assert sorted((p['name'], p['host'], p['source']) for p in report['phases']) == [
        ('deploy', 'app1', 'observed'), ('deploy', 'app2', 'observed'),
        ('preflight', 'app1', 'observed'), ('preflight', 'app2', 'observed')]
    for phase in report['phases']:
        assert phase['seconds'] > 0 and phase['end_offset'] <= report['seconds']
    assert EVIL in [task['task'] for task in report['tasks']['timings']]

    with headless_chromium() as browser:
        errors = open_page(browser, page)
        assert errors == []
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # pylint: disable=expression-not-assigned
        assert browser.find_elements('css selector', 'img') == []
        bars = browser.find_elements('css selector', '#timeline .bar')
        assert sorted((b.get_attribute('data-phase'), b.get_attribute('data-host')) for b in bars) == [
            ('deploy', 'app1'), ('deploy', 'app2'), ('preflight', 'app1'), ('preflight', 'app2')]
        assert browser.find_element('tag name', 'body').get_attribute('data-report-ready') == '4'
        for shown_bar in bars:
            assert shown_bar.find_element('css selector', 'rect').size['width'] > 0
        assert EVIL in browser.find_element('id', 'slowest').text
        assert len(browser.find_elements('css selector', '#smoke tr.smoke-row')) == 4
