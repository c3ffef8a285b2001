"""demoapp: the web service artisan.upgrade's tests upgrade, built as releases 1.0.0, 2.0.0 and 3.0.0 from one tree."""

from ._release import VERSION

__version__ = VERSION
