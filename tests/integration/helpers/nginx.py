"""A real nginx (Debian's binary) serving a configuration a test writes, on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from .postgres import free_port

NGINX = '/usr/sbin/nginx'

MAIN_CONFIG = """
daemon off;
worker_processes 1;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 128; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    default_type application/octet-stream;
    {http}
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        {server}
    }}
}}
"""


class NginxServer:
    """Start with the body of a ``server {}`` block (and optional ``http {}`` directives before it, such as an
    ``include`` of upstreams); files under ``www/`` are served from ``docroot``."""

    def __init__(self, server_block: str, http_block: str = '') -> None:
        if not os.path.exists(NGINX):
            raise RuntimeError('nginx not installed at %s: run scripts/setup.sh' % NGINX)
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix='artisan-nginx-')
        os.chmod(self.root, 0o755)  # nginx workers drop root and must read the docroot
        self.docroot = os.path.join(self.root, 'www')
        os.makedirs(self.docroot)
        os.makedirs(os.path.join(self.root, 'tmp'))
        self.config = os.path.join(self.root, 'nginx.conf')
        with open(self.config, 'w', encoding='utf-8') as handle:
            handle.write(MAIN_CONFIG.format(root=self.root, port=self.port, server=server_block, http=http_block))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return 'http://127.0.0.1:%d' % self.port

    def write(self, name: str, content: str) -> None:
        path = os.path.join(self.docroot, name)
        with open(path + '.tmp', 'w', encoding='utf-8') as handle:
            handle.write(content)
        os.replace(path + '.tmp', path)

    def test_config(self) -> subprocess.CompletedProcess:
        """``nginx -t`` of the configuration as it is on disk now, as a reload or restart would read it."""
        return subprocess.run([NGINX, '-t', '-c', self.config], capture_output=True, text=True, check=False)

    def loaded_files(self) -> list[str]:
        """Every file ``nginx -T`` reads for the configuration on disk now, in its order."""
        dump = subprocess.run([NGINX, '-T', '-c', self.config], capture_output=True, text=True, check=True)
        return re.findall(r'^# configuration file (.+):$', dump.stdout, re.MULTILINE)

    def start(self) -> 'NginxServer':
        check = self.test_config()
        if check.returncode != 0:
            raise RuntimeError('nginx -t rejected the test configuration: %s' % check.stderr)
        self.process = subprocess.Popen([NGINX, '-c', self.config], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:  # nginx writes its pid file before it listens: wait for the port itself
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError('nginx did not start; see %s/error.log' % self.root) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish in-flight requests
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
