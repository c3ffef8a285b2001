"""The release this source tree builds as; build-wheels.sh rewrites this file for each release it builds."""

VERSION = '3.0.0'
