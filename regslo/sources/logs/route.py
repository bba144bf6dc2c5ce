"""``POST /notifications/<registry>`` on the exporter's server, for ``regslo run`` and the stand-alone
follower alike: the registry's token is checked before a byte of the body is read, then the envelope goes
to whichever LogService is current (a reload swaps it; None answers 404)."""

from __future__ import annotations

from typing import Callable

from regslo.outputs.server import ExporterServer, Request, Response
from regslo.sources.logs.service import MAX_BODY, LogService

_NO_SOURCE = Response(404, b"no notifications source for this registry\n")


def _registry_of(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def route_notifications(server: ExporterServer, current: Callable[[], LogService | None]) -> None:
    def precheck(req: Request) -> Response | None:
        logs = current()
        if logs is None:
            return _NO_SOURCE
        status, body = logs.authorize_notification(_registry_of(req.path), req.headers)
        return None if status == 200 else Response(status, body)

    def notifications(req: Request) -> Response:
        logs = current()
        if logs is None:
            return _NO_SOURCE
        status, body = logs.handle_notification(req.body, req.headers, _registry_of(req.path))
        return Response(status, body)

    def token(req: Request) -> bool:
        """The webhook's own bearer token stands in for basic auth (a registry sends one Authorization)."""
        logs = current()
        return logs is not None and logs.token_matches(_registry_of(req.path), req.headers)

    server.route("POST", "/notifications", notifications, prefix=True, max_body=MAX_BODY, precheck=precheck,
                 authenticator=token)
