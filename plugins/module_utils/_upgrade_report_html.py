# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade report as one self-contained HTML page: inline CSS, SVG and a little JavaScript, nothing fetched.

Every value from the run (task names, versions, messages, host names) goes through ``esc``: a task name is text
the page shows, never markup it runs.
"""

from __future__ import annotations

import html
import typing as t

COLORS = {'ok': '#2e7d32', 'changed': '#1565c0', 'failed': '#c62828', 'skipped': '#9e9e9e'}
STATUS_COLORS = {'succeeded': '#2e7d32', 'rolled_back': '#ef6c00', 'failed': '#c62828', 'running': '#6a1b9a'}
WIDTH, LABELS, ROW, AXIS = 1000, 170, 28, 30

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1c1c1c;background:#fafafa}
header{padding:18px 28px;background:#fff;border-bottom:1px solid #ddd}
h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:26px 0 8px}
main{padding:0 28px 40px;max-width:1100px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:13px}
.failure{background:#fdecea;border:1px solid #c62828;padding:10px 14px;border-radius:6px;margin-top:14px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:14px 0 0}
dl.facts dt{color:#555}dl.facts dd{margin:0;word-break:break-all}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f0f0f0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.r-ok{color:#2e7d32}.r-changed{color:#1565c0}.r-failed{color:#c62828;font-weight:600}.r-skipped{color:#757575}
svg{background:#fff;border:1px solid #ddd;max-width:100%;height:auto}
svg text{font:12px system-ui,sans-serif}
svg .bar:hover rect,svg .bar.active rect{stroke:#000;stroke-width:2}
svg .dim{opacity:.25}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
#tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:4px 8px;border-radius:4px;font-size:12px;
  display:none;max-width:480px;white-space:pre-wrap}
details summary{cursor:pointer}
code{font-size:12px}
"""

JS = """
(function () {
  var tip = document.getElementById('tip');
  function show(event, text) {
    tip.textContent = text; tip.style.display = 'block';
    tip.style.left = (event.clientX + 12) + 'px'; tip.style.top = (event.clientY + 12) + 'px';
  }
  document.querySelectorAll('[data-tip]').forEach(function (node) {
    node.addEventListener('mousemove', function (event) { show(event, node.getAttribute('data-tip')); });
    node.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  });
  // Clicking a host (its label or a row of the hosts table) dims the other hosts' bars; clicking again undoes it.
  var chosen = null;
  function choose(host) {
    chosen = chosen === host ? null : host;
    document.querySelectorAll('#timeline .bar').forEach(function (bar) {
      var mine = bar.getAttribute('data-host') === chosen;
      bar.classList.toggle('dim', chosen !== null && !mine);
      bar.classList.toggle('active', chosen !== null && mine);
    });
  }
  document.querySelectorAll('[data-choose-host]').forEach(function (node) {
    node.style.cursor = 'pointer';
    node.addEventListener('click', function () { choose(node.getAttribute('data-choose-host')); });
  });
  document.querySelectorAll('time[datetime]').forEach(function (node) {
    var when = new Date(node.getAttribute('datetime'));
    if (!isNaN(when)) { node.title = when.toString(); }
  });
  document.body.setAttribute('data-report-ready', String(document.querySelectorAll('#timeline .bar').length));
}());
"""


def esc(value: t.Any) -> str:
    return html.escape('' if value is None else str(value), quote=True)


def _seconds(value: t.Any) -> str:
    return '-' if value is None else '%.1f s' % float(value)


def _result(value: t.Any) -> str:
    return '<span class="r-%s">%s</span>' % (esc(value), esc(value))


def render_html(report: dict[str, t.Any]) -> str:
    title = '%s %s \u2192 %s' % (report.get('app'), report.get('version_from') or 'none', report.get('version_to'))
    status = report.get('status') or 'unknown'
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
        'script-src \'unsafe-inline\'; img-src data:">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<title>Upgrade report: %s</title><style>%s</style></head><body>' % (esc(title), CSS),
        '<header><h1 id="title">%s</h1>' % esc(title),
        '<span class="badge" id="status" style="background:%s">%s%s</span> &nbsp;%s' % (
            STATUS_COLORS.get(status, '#555'), esc(status), ' (dry run)' if report.get('check_mode') else '',
            esc(report.get('environment'))),
        _failure(report), _facts(report), '</header><main>',
        '<h2>Timeline of the phases per host</h2>', _legend(), _timeline(report),
        '<h2>Hosts</h2>', _hosts(report),
        '<h2>Canary steps and traffic weights</h2>', _canary(report),
        '<h2>Smoke tests</h2>', _smoke(report),
        '<h2>Slowest tasks</h2>', _slowest(report),
        '<p><small>%s; generated %s; release record <code>%s</code></small></p>' % (
            esc(report.get('schema')), esc(report.get('generated_at')), esc(report.get('record_path'))),
        '</main><div id="tip"></div><script>%s</script></body></html>\n' % JS,
    ]
    return ''.join(parts)


def _failure(report: dict[str, t.Any]) -> str:
    failure = report.get('failure')
    if not failure:
        return ''
    return '<div class="failure" id="failure"><b>Failed in phase %s on %s</b><br>%s</div>' % (
        esc(failure.get('phase')), esc(failure.get('host')), esc(failure.get('msg')))


def _facts(report: dict[str, t.Any]) -> str:
    meta = report.get('metadata') or {}
    backup = report.get('backup') or {}
    revisions = report.get('revisions') or {}
    rows = [
        ('Release id', esc(report.get('release_id'))),
        ('Started', '<time datetime="%s">%s</time>' % (esc(report.get('started_at')), esc(report.get('started_at')))),
        ('Finished', '<time datetime="%s">%s</time>' % (esc(report.get('finished_at')), esc(report.get('finished_at')))),
        ('Wall time', esc(_seconds(report.get('seconds')))),
        ('Target, strategy', esc(', '.join(str(meta.get(k)) for k in ('target', 'strategy') if meta.get(k)) or '-')),
        ('Hosts', esc(len(report.get('hosts') or []))),
    ]
    if backup:
        rows.append(('Backup', '<code id="backup-path">%s</code> (%s)<br>sha256 <code id="backup-sha256">%s</code>' % (
            esc(backup.get('path')), esc(backup.get('label')), esc(backup.get('sha256')))))
    if revisions:
        rows.append(('Revisions', esc('; '.join('%s: %s' % (k.replace('_', ' '), ', '.join(map(str, v or [])) or 'base')
                                                for k, v in revisions.items()))))
    if report.get('rollback'):
        rows.append(('Rollback', '<span id="rollback">%s</span>' % esc(
            '; '.join('%s: %s' % (k, v) for k, v in sorted(report['rollback'].items())))))
    return '<dl class="facts">%s</dl>' % ''.join('<dt>%s</dt><dd>%s</dd>' % row for row in rows)


def _legend() -> str:
    return '<p class="legend">%s</p>' % ''.join(
        '<span><i style="background:%s"></i>%s</span>' % (color, name) for name, color in COLORS.items())


def _scale(span: float, width: int) -> t.Callable[[float], float]:
    span = max(span, 1.0)
    return lambda x: LABELS + (width - LABELS - 20) * (x / span)


def _ticks(span: float) -> list[float]:
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600) if span / s <= 10), 7200)
    return [step * n for n in range(int(span // step) + 1)]


def _timeline(report: dict[str, t.Any]) -> str:
    placed = [p for p in report['phases'] if p.get('offset') is not None]
    hosts: list[str] = []
    for phase in report['phases']:
        if phase['host'] not in hosts:
            hosts.append(phase['host'])
    if not hosts:
        return '<p id="timeline">No phase was recorded.</p>'
    span = max([p['end_offset'] for p in placed] + [1.0])
    x = _scale(span, WIDTH)
    height = AXIS + ROW * len(hosts) + 10
    out = ['<svg id="timeline" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="timeline">'
           % (WIDTH, height, WIDTH, height)]
    for tick in _ticks(span):
        out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/><text x="%.1f" y="16" '
                   'text-anchor="middle" fill="#666">%s</text>' % (x(tick), x(tick), AXIS - 8, height, x(tick), esc('%gs' % tick)))
    for row, host in enumerate(hosts):
        y = AXIS + row * ROW
        shown = host if len(host) <= 24 else host[:23] + '\u2026'
        out.append('<text class="host-label" x="6" y="%d" data-choose-host="%s">%s<title>%s</title></text>' % (
            y + 18, esc(host), esc(shown), esc(host)))
        for phase in [p for p in placed if p['host'] == host]:
            left, right = x(phase['offset']), x(phase['end_offset'])
            width = max(right - left, 3.0)
            tip = '%s on %s: %s, %s (from %gs to %gs)%s' % (
                phase['name'], host, phase['result'], _seconds(phase['seconds']), phase['offset'], phase['end_offset'],
                '\n' + phase['msg'] if phase.get('msg') else '')
            out.append(
                '<g class="bar" data-phase="%s" data-host="%s" data-result="%s" data-seconds="%s" data-tip="%s">'
                '<rect x="%.1f" y="%d" width="%.1f" height="%d" rx="3" fill="%s"/>'
                '<text class="bar-label" x="%.1f" y="%d" fill="#fff"%s>%s</text><title>%s</title></g>' % (
                    esc(phase['name']), esc(host), esc(phase['result']), esc(phase['seconds']), esc(tip),
                    left, y + 4, width, ROW - 8, COLORS.get(phase['result'], '#555'),
                    left + 4, y + 18, '' if width > 8 * len(str(phase['name'])) else ' visibility="hidden"',
                    esc(phase['name']), esc(tip)))
    out.append('</svg>')
    unplaced = [p for p in report['phases'] if p.get('offset') is None]
    if unplaced:
        out.append('<p>Not placed in time (no timing seen): %s</p>' % esc(', '.join(
            '%s on %s' % (p['name'], p['host']) for p in unplaced)))
    return ''.join(out)


def _hosts(report: dict[str, t.Any]) -> str:
    rows = ['<tr data-choose-host="%s"><td>%s</td><td>%s</td><td>%s</td><td class="num">%s</td><td>%s</td></tr>' % (
        esc(h['name']), esc(h['name']), esc(h.get('version_before') or '-'), esc(h.get('version_after') or '-'),
        esc(h['phases']), _result(h.get('result'))) for h in report.get('hosts') or []]
    return ('<table id="hosts"><tr><th>Host</th><th>Version before</th><th>Version after</th><th>Phases</th>'
            '<th>Worst result</th></tr>%s</table>' % ''.join(rows))


def _canary(report: dict[str, t.Any]) -> str:
    steps = report.get('canary') or []
    if not steps:
        return '<p id="canary">No traffic weight was changed in this run (no canary_shift task ran).</p>'
    points = [(s['offset'], s.get('achieved_weight') if s.get('achieved_weight') is not None else s.get('weight'))
              for s in steps]
    analyses = [a for s in steps for a in s['analysis'] if a.get('error_rate') is not None]
    first = min([p[0] for p in points] + [a['offset'] for a in analyses])
    last = max([p[0] for p in points] + [a['offset'] for a in analyses])
    span, height, top, bottom = max(last - first, 1.0), 240, 20, 200
    x = _scale(span * 1.05, WIDTH - 60)
    rate_max = max([a['error_rate'] for a in analyses] + [0.05])

    def y_weight(weight: float) -> float:
        return bottom - (bottom - top) * float(weight or 0) / 100.0

    def y_rate(rate: float) -> float:
        return bottom - (bottom - top) * float(rate) / rate_max

    out = ['<svg id="canary" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="canary steps">'
           % (WIDTH, height, WIDTH, height)]
    for weight in (0, 25, 50, 75, 100):
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end" '
                   'fill="#1565c0">%d %%</text>' % (LABELS, WIDTH - 60, y_weight(weight), y_weight(weight), LABELS - 6,
                                                    y_weight(weight) + 4, weight))
        out.append('<text x="%d" y="%.1f" fill="#c62828">%s</text>' % (
            WIDTH - 56, y_weight(weight) + 4, esc('%.3g %%' % (rate_max * weight))))
    line, previous = [], None
    for offset, weight in points:
        if previous is not None:
            line.append('%.1f,%.1f' % (x(offset - first), y_weight(previous)))
        line.append('%.1f,%.1f' % (x(offset - first), y_weight(weight)))
        previous = weight
    line.append('%.1f,%.1f' % (x(span * 1.05), y_weight(previous)))
    out.append('<polyline fill="none" stroke="#1565c0" stroke-width="2" points="%s"/>' % ' '.join(line))
    for step, (offset, weight) in zip(steps, points):
        rate = '' if step.get('error_rate') is None else '; error rate %.3g %%' % (step['error_rate'] * 100)
        tip = 'weight %s %% at %gs on %s (%s)%s' % (weight, offset, step['host'], step.get('provider') or '', rate)
        out.append('<circle class="canary-point" data-weight="%s" cx="%.1f" cy="%.1f" r="5" fill="%s" data-tip="%s">'
                   '<title>%s</title></circle>' % (esc(weight), x(offset - first), y_weight(weight),
                                                   '#c62828' if step.get('failed') else '#1565c0', esc(tip), esc(tip)))
    for analysis in analyses:
        tip = 'error rate %.3g %% at %gs: %s on %s' % (analysis['error_rate'] * 100, analysis['offset'], analysis['task'],
                                                       analysis['host'])
        out.append('<rect class="error-point" data-rate="%s" x="%.1f" y="%.1f" width="8" height="8" fill="#c62828" '
                   'data-tip="%s"><title>%s</title></rect>' % (esc(analysis['error_rate']), x(analysis['offset'] - first) - 4,
                                                               y_rate(analysis['error_rate']) - 4, esc(tip), esc(tip)))
    out.append('</svg><p class="legend"><span><i style="background:#1565c0"></i>canary weight (left axis)</span>'
               '<span><i style="background:#c62828"></i>error rate of the analysis (right axis)</span></p>')
    rows = ['<tr><td class="num">%s</td><td>%s</td><td class="num">%s</td><td class="num">%s</td><td>%s</td><td>%s</td></tr>' % (
        esc('%gs' % s['offset']), esc(s['host']), esc(s.get('weight')), esc(s.get('achieved_weight')),
        esc('-' if s.get('error_rate') is None else '%.3g %%' % (s['error_rate'] * 100)),
        esc('; '.join('%s: %s' % (a['task'], a.get('msg')) for a in s['analysis']) or s.get('msg')))
        for s in steps]
    out.append('<table id="canary-steps"><tr><th>At</th><th>Host</th><th>Weight %</th><th>Achieved %</th>'
               '<th>Error rate</th><th>Analysis</th></tr>' + ''.join(rows) + '</table>')
    return ''.join(out)


def _smoke(report: dict[str, t.Any]) -> str:
    smoke = report.get('smoke') or []
    if not smoke:
        return '<p id="smoke">No smoke test ran in this run.</p>'
    rows = []
    for entry in smoke:
        totals = entry.get('totals') or {}
        checks = ''.join('<tr><td>%s</td><td>%s</td><td>%s</td><td class="num">%s</td><td>%s</td></tr>' % (
            esc(c.get('name')), _result('ok' if c.get('ok') else 'failed'), esc(c.get('status')),
            esc(c.get('latency_ms')), esc(c.get('message'))) for c in entry.get('checks') or [])
        rows.append('<tr class="smoke-row" data-phase="%s" data-host="%s" data-ok="%s"><td>%s</td><td>%s</td><td>%s</td>'
                    '<td>%s</td><td class="num">%s/%s</td><td class="num">%s</td><td><details><summary>%s</summary>'
                    '<table><tr><th>Check</th><th>Result</th><th>Status</th><th>ms</th><th>Message</th></tr>%s</table>'
                    '</details></td></tr>' % (
                        esc(entry.get('phase')), esc(entry['host']), esc(str(bool(entry.get('ok'))).lower()),
                        esc('%gs' % entry['offset']), esc(entry.get('phase') or '-'), esc(entry['host']),
                        _result('ok' if entry.get('ok') else 'failed'), esc(totals.get('passed')), esc(totals.get('total')),
                        esc(entry.get('rounds')), esc(entry.get('msg') or entry.get('task')), checks))
    return ('<table id="smoke"><tr><th>At</th><th>Phase</th><th>Host</th><th>Result</th><th>Passed</th><th>Rounds</th>'
            '<th>Checks</th></tr>%s</table>' % ''.join(rows))


def _slowest(report: dict[str, t.Any]) -> str:
    timings = sorted(report['tasks']['timings'], key=lambda task: -task['seconds'])[:10]
    rows = ''.join('<tr><td class="num">%s</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
        esc(_seconds(task['seconds'])), esc(task['host']), esc(task['task']), esc(task['status'])) for task in timings)
    return ('<p>%s tasks seen, %s in all.</p><table id="slowest"><tr><th>Seconds</th><th>Host</th><th>Task</th>'
            '<th>Status</th></tr>%s</table>' % (esc(report['tasks']['count']), esc(_seconds(report['tasks']['seconds'])), rows))
