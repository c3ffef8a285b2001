"""API errors as the API server reports them: a metav1.Status with reason, code and details."""

from __future__ import annotations


class ApiError(Exception):
    """An error that the HTTP layer returns as a Status object with ``code``."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                'message': self.message, 'reason': self.reason, 'code': self.code}
        if self.details:
            body['details'] = self.details
        return body


def qualified(plural: str, group: str) -> str:
    """`deployments.apps` for grouped resources, `pods` for the core group, as messages spell them."""
    return '%s.%s' % (plural, group) if group else plural


def _details(name: str, group: str, kind: str) -> dict:
    details = {'name': name, 'kind': kind}
    if group:
        details['group'] = group
    return details


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(404, 'NotFound', '%s "%s" not found' % (qualified(plural, group), name), _details(name, group, plural))


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(409, 'AlreadyExists', '%s "%s" already exists' % (qualified(plural, group), name),
                    _details(name, group, plural))


def conflict(plural: str, group: str, name: str) -> ApiError:
    return ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply '
                    'your changes to the latest version and try again' % (qualified(plural, group), name),
                    _details(name, group, plural))


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 with one cause per (field, reason, message), e.g. ('spec.selector', 'FieldValueInvalid', '...')."""
    text = '; '.join('%s: %s' % (field, message) for field, _reason, message in causes)
    details = _details(name, group, kind)
    details['causes'] = [{'reason': reason, 'message': message, 'field': field} for field, reason, message in causes]
    return ApiError(422, 'Invalid', '%s "%s" is invalid: %s' % (qualified(kind, group), name, text), details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, 'BadRequest', message)


def expired(requested: str, oldest: int) -> ApiError:
    return ApiError(410, 'Expired', 'too old resource version: %s (%d)' % (requested, oldest))


def unsupported_media_type(content_type: str, accepted: str) -> ApiError:
    return ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types '
                    'include: %s' % accepted if content_type else 'the body of the request was in an unknown format')


def method_not_allowed(verb: str, resource: str) -> ApiError:
    return ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource (%s %s)'
                    % (verb, resource))
