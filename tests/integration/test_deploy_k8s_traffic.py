"""Zero downtime of deploy_k8s's canary and blue-green strategies (and the blue-green rollback), measured: kubesim's
docker runtime runs real demoapp pods, each Service is a proxy on 127.0.0.1 that sends requests only to Ready
endpoints, and a bounded steady request stream goes through it during each change. Not one request may fail.
(The rolling strategy's stream is in test_deploy_k8s.py.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

from .helpers.backends import SteadyLoad
from .test_deploy_k8s import MANIFESTS, SLOTS, demo_database, deploy, deployments, kubectl_for, migrate


def service_url(kubesim, name):
    deadline = time.monotonic() + 60
    while kubesim.service_address(name) is None:
        assert time.monotonic() < deadline, 'the Service %s has no proxy' % name
        time.sleep(0.2)
    host, port = kubesim.service_address(name)
    return 'http://%s:%d/version' % (host, port)


def rolled_out(kubesim, kubectl, *workloads):
    # Simulated time runs 5x faster than the containers start: a loaded machine must not pass the progress deadline.
    # The manifests' probe (1 s timeout, one failure) marks a healthy pod not Ready for a moment when the machine is
    # overloaded, which the post-checks rightly refuse: the test gives the probe the slack a busy node needs.
    probe = {'timeoutSeconds': 5, 'failureThreshold': 3}
    for workload in workloads:
        kubectl('patch', workload, '-p', json.dumps({'spec': {'progressDeadlineSeconds': 3600, 'template': {'spec': {
            'containers': [{'name': 'app', 'readinessProbe': probe}]}}}}))
    ready = subprocess.run([shutil.which('kubectl'), '--kubeconfig', kubesim.kubeconfig, 'rollout', 'status', *workloads,
                            '--timeout=480s'], capture_output=True, text=True, timeout=600, check=False)
    assert ready.returncode == 0, '%s\n%s' % (ready.stderr, kubectl('get', 'pods', '-o', 'wide'))


def streamed(kubesim, service, what, **deploy_args):
    """deploy_k8s run with a request stream through the Service's proxy; returns the versions that answered."""
    started = time.monotonic()
    # A request is dropped when the connection fails or the answer is an error; one that is slow because the
    # machine is overloaded (seen at load average 120 on 2 cores) is not, so it may take up to 30 s.
    with SteadyLoad(service_url(kubesim, service), max_requests=20000, max_seconds=900, pause=0.02, timeout=30) as load:
        run = deploy(**deploy_args)
    print('%s on real pods: %.1f s, %d requests through Service %s, %d failed, answers %s'
          % (what, time.monotonic() - started, load.total, service, len(load.failures), dict(load.answers)))
    assert run.rc == 0, run.stdout
    assert load.total > 50, 'the request stream did not run'
    assert load.failures == [], load.failures[:10]
    return {json.loads(answer)['version'] for answer in load.answers}


def test_canary_blue_green_and_its_rollback_serve_every_request(kubesim_docker, run_playbook):
    kubesim = kubesim_docker
    kubectl = kubectl_for(kubesim.kubeconfig)
    demo_database(kubectl)
    app = ['demoapp-deployment.yaml', 'demoapp-canary-deployment.yaml', 'demoapp-service.yaml']
    kubectl('apply', *[arg for name in app for arg in ('-f', str(MANIFESTS / name))], '-f', str(MANIFESTS / 'blue-green'))
    rolled_out(kubesim, kubectl, 'deployment/demoapp', 'deployment/demoapp-canary', 'deployment/demoapp-blue',
               'deployment/demoapp-green')
    migrate(kubectl, '2.0.0')  # expand: 1.0.0 stays ready on the new schema
    common = dict(run_playbook=run_playbook, kubeconfig=kubesim.kubeconfig, deploy_k8s_timeout=300)

    # Canary by pod ratio behind the Service demoapp: 1, 2, then 3 of 3 pods, then all back on stable.
    versions = streamed(kubesim, 'demoapp', 'canary 1.0.0 -> 2.0.0', deploy_k8s_version='2.0.0',
                        deploy_k8s_strategy='canary', deploy_k8s_canary_steps=[34, 67, 100], **common)
    assert versions == {'1.0.0', '2.0.0'}
    assert deployments(kubectl)['demoapp'] == (3, 'demoapp:2.0.0') and deployments(kubectl)['demoapp-canary'][0] == 0

    # Blue-green behind demoapp-live, then the rollback that switches it back to blue.
    blue_green = dict(deploy_k8s_strategy='blue_green', deploy_k8s_blue_green_service='demoapp-live',
                      deploy_k8s_blue_green_grace=2, deploy_k8s_workloads=SLOTS, **common)
    versions = streamed(kubesim, 'demoapp-live', 'blue-green 1.0.0 -> 2.0.0', deploy_k8s_version='2.0.0', **blue_green)
    assert versions == {'1.0.0', '2.0.0'}
    assert deployments(kubectl)['demoapp-blue'][0] == 0 and deployments(kubectl)['demoapp-green'] == (3, 'demoapp:2.0.0')
    versions = streamed(kubesim, 'demoapp-live', 'blue-green rollback 2.0.0 -> 1.0.0', entry='rollback',
                        deploy_k8s_rollback_version='1.0.0', **blue_green)
    assert versions == {'1.0.0', '2.0.0'}
    assert deployments(kubectl)['demoapp-blue'] == (3, 'demoapp:1.0.0') and deployments(kubectl)['demoapp-green'][0] == 0
    kubectl('delete', 'job', '--all', '--wait=false')
