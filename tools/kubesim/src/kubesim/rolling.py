"""The Deployment controller's replica arithmetic (pkg/controller/deployment/rolling.go, sync.go and
util/deployment_util.go), as pure functions of counts so it can be checked against hand-computed steps."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Counts:
    """What the arithmetic reads from a ReplicaSet: spec.replicas and status.availableReplicas."""

    spec: int
    available: int = 0


def scaled_value(value, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int, or "N%" of ``total`` rounded as asked."""
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith('%') or not text[:-1].isdigit():
        raise ValueError('invalid value for IntOrString: invalid type: string is not a percentage')
    exact = int(text[:-1]) * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def resolve_fenceposts(max_surge, max_unavailable, desired: int) -> tuple[int, int]:
    """Surge rounds up, unavailability down; both zero would deadlock, so unavailability becomes 1."""
    surge = scaled_value(max_surge if max_surge is not None else '25%', desired, True)
    unavailable = scaled_value(max_unavailable if max_unavailable is not None else '25%', desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def new_rs_replicas(desired: int, surge: int, new_spec: int, total_spec: int) -> int:
    """NewRSNewReplicas for RollingUpdate: grow the new RS within replicas + surge."""
    max_total = desired + surge
    if total_spec >= max_total:
        return new_spec
    return new_spec + min(max_total - total_spec, desired - new_spec)


def cleanup_unhealthy(olds: list[Counts], budget: int) -> list[int]:
    """cleanupUnhealthyReplicas: drop unavailable old pods first, oldest RS first, within ``budget``."""
    targets, removed = [], 0
    for old in olds:
        if removed >= budget or old.spec == 0 or old.spec == old.available:
            targets.append(old.spec)
            continue
        count = min(budget - removed, old.spec - old.available)
        targets.append(old.spec - count)
        removed += count
    return targets


def scale_down_old(olds_spec: list[int], total_available: int, min_available: int) -> list[int]:
    """scaleDownOldReplicaSetsForRollingUpdate: remove available old pods down to min_available, oldest RS first."""
    if total_available <= min_available:
        return list(olds_spec)
    budget, removed, targets = total_available - min_available, 0, []
    for spec in olds_spec:
        if removed >= budget or spec == 0:
            targets.append(spec)
            continue
        count = min(spec, budget - removed)
        targets.append(spec - count)
        removed += count
    return targets


def old_replicas_targets(desired: int, unavailable: int, new: Counts, olds: list[Counts]) -> list[int]:
    """reconcileOldReplicaSets: the old RSs' new sizes (``olds`` sorted oldest first)."""
    old_total = sum(old.spec for old in olds)
    if old_total == 0:
        return [old.spec for old in olds]
    all_total = old_total + new.spec
    min_available = desired - min(unavailable, desired)
    new_unavailable = new.spec - new.available
    budget = all_total - min_available - new_unavailable
    if budget <= 0:
        return [old.spec for old in olds]
    after_cleanup = cleanup_unhealthy(olds, budget)
    total_available = sum(old.available for old in olds) + new.available
    return scale_down_old(after_cleanup, total_available, min_available)


def rolling_step(desired: int, surge: int, unavailable: int, new: Counts, olds: list[Counts]) -> tuple[int, list[int]]:
    """One rolloutRolling sync: scale the new RS up if it can, else scale old RSs down; (new size, old sizes)."""
    old_specs = [old.spec for old in olds]
    if new.spec > desired:
        return desired, old_specs
    if new.spec < desired:
        target = new_rs_replicas(desired, surge, new.spec, new.spec + sum(old_specs))
        if target != new.spec:
            return target, old_specs
    return new.spec, old_replicas_targets(desired, unavailable, new, olds)


def replica_set_fraction(rs_spec: int, max_replicas_annotation: int | None, desired: int, surge: int,
                         status_replicas: int) -> int:
    """getReplicaSetFraction: this RS's share of a change in the Deployment's size."""
    if desired == 0:
        return -rs_spec
    annotated = max_replicas_annotation if max_replicas_annotation else status_replicas
    return _round_half_away(rs_spec * (desired + surge) / annotated) - rs_spec


def _round_half_away(value: float) -> int:
    return int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


@dataclass(frozen=True)
class Sized:
    """An active RS as proportional scaling sees it; ``age`` orders creation (smaller is older)."""

    name: str
    spec: int
    max_replicas: int | None
    age: int


def proportional_sizes(desired: int, surge: int, active: list[Sized], status_replicas: int) -> dict[str, int]:
    """sync.go scale(): spread a change of Deployment size over the active RSs, leftovers to the largest."""
    allowed = desired + surge if desired > 0 else 0
    to_add = allowed - sum(rs.spec for rs in active)
    if to_add > 0:
        ordered = sorted(active, key=lambda rs: (-rs.spec, -rs.age))
    elif to_add < 0:
        ordered = sorted(active, key=lambda rs: (-rs.spec, rs.age))
    else:
        ordered = list(active)
    sizes, added = {}, 0
    for rs in ordered:
        proportion = 0
        if to_add != 0 and rs.spec != 0 and to_add != added:
            fraction = replica_set_fraction(rs.spec, rs.max_replicas, desired, surge, status_replicas)
            proportion = min(fraction, to_add - added) if to_add > 0 else max(fraction, to_add - added)
        sizes[rs.name] = rs.spec + proportion
        added += proportion
    if ordered and to_add != 0:
        first = ordered[0].name
        sizes[first] = max(0, sizes[first] + to_add - added)
    return sizes
