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
