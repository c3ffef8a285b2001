"""A real headless browser for the tests: Debian's chromium driven by its chromedriver through Selenium.

No fallback and no skip: scripts/setup.sh installs both, and a test that needs a browser fails without one.
"""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import typing as t

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'


@contextlib.contextmanager
def headless_chromium() -> t.Iterator[webdriver.Chrome]:
    for binary in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(binary), '%s is missing: scripts/setup.sh installs chromium and chromium-driver' % binary
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Root in a container: no sandbox; no GPU; nothing but the page (no component updates, no network of its own).
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                     '--disable-background-networking', '--disable-component-update', '--no-first-run',
                     '--window-size=1280,2000'):
        options.add_argument(argument)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(120)
        yield driver
    finally:
        driver.quit()


def open_page(driver: webdriver.Chrome, path: pathlib.Path) -> list[dict[str, t.Any]]:
    """Load a local page; the browser's console entries of level SEVERE (JavaScript errors, blocked requests)."""
    driver.get(path.resolve().as_uri())
    return [entry for entry in driver.get_log('browser') if entry.get('level') == 'SEVERE']


def report_of(stdout: str) -> pathlib.Path:
    """The page the upgrade_report callback names on the last line of a run's output (its contract)."""
    last = stdout.rstrip('\n').splitlines()[-1]
    assert last.startswith('Upgrade report: /'), 'the last line is not the report: %r' % last
    return pathlib.Path(last[len('Upgrade report: '):])


def assert_timeline(page: pathlib.Path, record: dict[str, t.Any]) -> None:
    """Open the report in Chromium: no console error, and one timeline bar per phase and host of the release record,
    labelled with the phase and coloured by its result."""
    with headless_chromium() as driver:
        assert open_page(driver, page) == []
        bars = driver.find_elements('css selector', '#timeline .bar')
        shown = sorted((b.get_attribute('data-phase'), b.get_attribute('data-host'), b.get_attribute('data-result'))
                       for b in bars)
        assert shown == sorted((p['name'], p['host'], p['result']) for p in record['phases'])
        for shown_bar in bars:
            assert shown_bar.find_element('css selector', '.bar-label').get_attribute('textContent') == shown_bar.get_attribute('data-phase')
            assert shown_bar.find_element('css selector', 'rect').size['width'] > 0
        assert driver.find_element('tag name', 'body').get_attribute('data-report-ready') == str(len(bars))
        assert driver.find_element('id', 'status').text.startswith(record['status'])
