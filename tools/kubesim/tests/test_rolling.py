"""The rolling-update arithmetic against step sequences computed by hand from rolling.go.

Each sync either scales the new RS up (reconcileNewReplicaSet) or, if it could not, scales old RSs
down (reconcileOldReplicaSets); never both. The sequences list (new RS replicas, old RS replicas)
after each sync that changed something.
"""

from __future__ import annotations

import pytest

from kubesim.rolling import Counts, Sized, proportional_sizes, resolve_fenceposts, rolling_step, scaled_value


def rollout(replicas: int, max_surge, max_unavailable, ready=lambda new, old: (new, old)) -> list[tuple[int, int]]:
    """Drive rolling_step from (0 new, all old) until it stops changing; ``ready`` says what is available."""
    surge, unavailable = resolve_fenceposts(max_surge, max_unavailable, replicas)
    new, old = 0, replicas
    steps = []
    for _step in range(50):
        new_available, old_available = ready(new, old)
        target, (old_target,) = rolling_step(replicas, surge, unavailable, Counts(new, new_available), [Counts(old, old_available)])
        if (target, old_target) == (new, old):
            return steps
        new, old = target, old_target
        steps.append((new, old))
    raise AssertionError('no convergence: %r' % steps)


@pytest.mark.parametrize('replicas, surge, unavailable, expected', [
    # 10/25%/25%: surge ceil(2.5)=3, unavailable floor(2.5)=2, so at most 13 pods and at least 8 available.
    # up 3 (13 total); down 5 (13 available - 8); up 5 (to 13); down the last 5; up the last 2.
    (10, '25%', '25%', [(3, 10), (3, 5), (8, 5), (8, 0), (10, 0)]),
    # 3/1/0: one extra pod at a time, never below 3 available.
    (3, 1, 0, [(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]),
    # 4/0/1: no surge, so first remove one old pod, then replace one for one.
    (4, 0, 1, [(0, 3), (1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0), (4, 0)]),
    # 1/25%/25%: surge ceil(0.25)=1, unavailable floor(0.25)=0: surge one, then drop the old one.
    (1, '25%', '25%', [(1, 1), (1, 0)]),
])
def test_rollout_sequences_when_pods_become_available_at_once(replicas, surge, unavailable, expected):
    assert rollout(replicas, surge, unavailable) == expected


def test_stuck_rollout_when_new_pods_never_become_available():
    # 10/25%/25% with a broken image: up 3; down 2 (13 - 8 - 3 unavailable new); up 2 (to 13); then
    # 13 - 8 - 5 = 0 leaves nothing to scale down: the classic 5 new / 8 old stall.
    assert rollout(10, '25%', '25%', ready=lambda new, old: (0, old)) == [(3, 10), (3, 8), (5, 8)]


def test_unhealthy_old_pods_are_removed_first_within_the_budget():
    # 10 desired, old RS of 10 with only 6 available, new RS of 3 all available: budget 13 - 8 - 0 = 5,
    # cleanup removes the 4 unavailable old pods, then scale-down sees 6 + 3 = 9 available > 8 and removes 1 more.
    assert rolling_step(10, 3, 2, Counts(3, 3), [Counts(10, 6)]) == (3, [5])


def test_old_replica_sets_scale_down_oldest_first():
    assert rolling_step(4, 1, 0, Counts(2, 2), [Counts(1, 1), Counts(2, 2)]) == (2, [0, 2])


@pytest.mark.parametrize('value, total, round_up, expected', [
    ('25%', 10, True, 3), ('25%', 10, False, 2), ('25%', 1, True, 1), ('25%', 1, False, 0), (2, 10, True, 2), ('0%', 5, True, 0),
])
def test_scaled_value(value, total, round_up, expected):
    assert scaled_value(value, total, round_up) == expected


def test_both_fenceposts_zero_means_one_unavailable():
    assert resolve_fenceposts(0, 0, 5) == (0, 1)
    assert resolve_fenceposts('10%', '10%', 3) == (1, 0)


def test_proportional_scaling_splits_a_scale_up_by_size():
    # Mid-rollout 10 -> 20 with surge 3 -> 5: allowed 25, current 13 (new 5, old 8), so 12 to add.
    # old: 8 * 25 / 13 = 15.38 -> 15 (+7); new: 5 * 25 / 13 = 9.6 -> 10 (+5); 12 added in all.
    sizes = proportional_sizes(20, 5, [Sized('old', 8, 13, 0), Sized('new', 5, 13, 1)], 13)
    assert sizes == {'old': 15, 'new': 10}
