"""core/v1 Events as client-go's event recorder writes them, including its aggregation of repeats."""

from __future__ import annotations

import time

from .registry import Registry, resource_for

_EVENTS = resource_for('v1', 'Event')


def object_reference(obj: dict, field_path: str | None = None) -> dict:
    metadata = obj['metadata']
    reference = {'kind': obj['kind'], 'namespace': metadata.get('namespace', ''), 'name': metadata['name'],
                 'uid': metadata['uid'], 'apiVersion': obj['apiVersion'], 'resourceVersion': metadata.get('resourceVersion', '')}
    if field_path:
        reference['fieldPath'] = field_path
    return reference


def record(registry: Registry, obj: dict, event_type: str, reason: str, message: str, component: str,
           field_path: str | None = None, host: str | None = None) -> None:
    """Create the Event, or bump count/lastTimestamp of the same one (same object, reason, message, source)."""
    namespace = obj['metadata'].get('namespace') or 'default'
    now = registry.clock.timestamp()
    involved = object_reference(obj, field_path)
    for existing in registry.list(_EVENTS, namespace, field_selector='involvedObject.uid=%s' % obj['metadata']['uid']):
        if (existing['reason'], existing['message'], existing['type'], existing['source'].get('component')) == \
                (reason, message, event_type, component) and existing['involvedObject'].get('fieldPath') == field_path:
            existing['count'] = existing.get('count', 1) + 1
            existing['lastTimestamp'] = now
            registry.update(_EVENTS, namespace, existing['metadata']['name'], existing)
            return
    source = {'component': component}
    if host:
        source['host'] = host
    registry.create(_EVENTS, namespace, {
        # The recorder names events <object>.<hex nanoseconds>.
        'metadata': {'name': '%s.%x' % (obj['metadata']['name'], time.time_ns())},
        'involvedObject': involved, 'reason': reason, 'message': message, 'source': source,
        'firstTimestamp': now, 'lastTimestamp': now, 'count': 1, 'type': event_type, 'eventTime': None,
        'reportingComponent': component, 'reportingInstance': host or '',
    })
