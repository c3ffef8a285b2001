# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report's HTML page: self-contained, every value from the run shown as text (never markup), one timeline bar
per phase and host, the canary chart and the smoke table."""

from __future__ import annotations

import html.parser

from ansible_collections.artisan.upgrade.plugins.module_utils import _upgrade_report as ur
from ansible_collections.artisan.upgrade.plugins.module_utils._upgrade_report_html import render_html

T0 = 1_800_000_000.0
EVIL = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


class Page(html.parser.HTMLParser):
    """The elements of a page, with their attributes, and its text."""

    def __init__(self, text):
        super().__init__()
        self.elements, self.text = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag, cls=None):
        return [attrs for name, attrs in self.elements if name == tag and (cls is None or cls in (attrs.get('class') or '').split())]


def report(**record_changes):
    record = {
        'schema': 'artisan.upgrade/release_record/v1', 'release_id': 'r1', 'app': 'shop', 'environment': 'production',
        'version_from': '1.0.0', 'version_to': '2.0.0', 'status': 'succeeded', 'started_at': '2027-01-15T08:00:00Z',
        'finished_at': '2027-01-15T08:01:00Z', 'check_mode': False, 'metadata': {'hosts': ['app1', 'app2']},
        'phases': [{'name': name, 'host': host, 'result': 'changed', 'duration': 1, 'recorded_at': '2027-01-15T08:00:%02dZ' % n,
                    'modules': [], 'details': {}}
                   for n, (name, host) in enumerate([('preflight', 'app1'), ('preflight', 'app2'), ('deploy', 'app1'),
                                                     ('deploy', 'app2')], start=10)],
        'rollback': None,
    }
    record.update(record_changes)
    shift = {'kind': 'canary', 'weight': 25, 'achieved_weight': 25, 'provider': 'nginx', 'changed': True, 'failed': False,
             'msg': 'ok'}
    smoke = {'kind': 'smoke', 'ok': True, 'totals': {'total': 2, 'passed': 2, 'failed': 0}, 'rounds': 1, 'msg': 'all passed',
             'checks': [{'name': 'health', 'ok': True, 'status': 200, 'latency_ms': 3.5, 'message': 'ok'}]}
    tasks = [{'host': 'app1', 'play': 0, 'task': 'shift', 'action': 'artisan.upgrade.canary_shift', 'uuid': 's',
              'start': T0, 'end': T0 + 1, 'status': 'changed', 'observed': [shift]},
             {'host': 'app1', 'play': 0, 'task': 'analyse', 'action': 'artisan.upgrade.smoke_test', 'uuid': 'a',
              'start': T0 + 1, 'end': T0 + 2, 'status': 'ok', 'observed': [smoke]}]
    return ur.build_report(record, tasks, record_path='/r/r1.json', generated_at=T0)


def test_one_bar_per_phase_and_host_with_its_label():
    page = Page(render_html(report()))
    bars = [(a['data-phase'], a['data-host'], a['data-result']) for a in page.all('g', 'bar')]
    assert bars == [('preflight', 'app1', 'changed'), ('deploy', 'app1', 'changed'), ('preflight', 'app2', 'changed'),
                    ('deploy', 'app2', 'changed')]
    assert [a['data-weight'] for a in page.all('circle', 'canary-point')] == ['25']
    assert [(a['data-phase'], a['data-ok']) for a in page.all('tr', 'smoke-row')] == [('', 'true')]
    assert 'shop 1.0.0 \u2192 2.0.0' in page.text


def test_the_page_loads_nothing_from_anywhere():
    text = render_html(report())
    page = Page(text)
    assert not [a for _tag, a in page.elements if {'src', 'href'} & set(a)]
    assert 'http://' not in text and 'https://' not in text and '@import' not in text
    assert "default-src 'none'" in text


def test_values_from_the_run_are_text_never_markup():
    rec = {'app': EVIL, 'version_to': EVIL, 'environment': EVIL, 'rollback': {'release': EVIL},
           'phases': [{'name': EVIL, 'host': EVIL, 'result': EVIL, 'duration': 1, 'recorded_at': '2027-01-15T08:00:10Z',
                       'modules': [{'msg': EVIL}], 'details': {'path': EVIL}}]}
    built = report(**rec)
    built['tasks']['timings'][0]['task'] = EVIL
    built['smoke'][0].update(msg=EVIL, host=EVIL, task=EVIL)
    built['smoke'][0]['checks'][0].update(name=EVIL, message=EVIL)
    built['canary'][0].update(host=EVIL, provider=EVIL, msg=EVIL)
    text = render_html(built)
    page = Page(text)
    # Our one script, no image, no event handler attribute: the payload stayed text.
    assert len(page.all('script')) == 1 and not page.all('img')
    assert not [name for _tag, attrs in page.elements for name in attrs if name.startswith('on')]
    assert EVIL in ''.join(page.text)
    assert [a['data-phase'] for a in page.all('g', 'bar')] == [EVIL]


def test_a_failed_run_shows_its_failure_first():
    failed = report(status='rolled_back', phases=[{'name': 'deploy', 'host': 'app1', 'result': 'failed', 'duration': 1,
                                                   'recorded_at': '2027-01-15T08:00:10Z', 'modules': [{'msg': 'did not start'}],
                                                   'details': {}}])
    page = Page(render_html(failed))
    assert page.all('div', 'failure')
    assert 'Failed in phase deploy on app1' in ''.join(page.text) and 'did not start' in ''.join(page.text)
