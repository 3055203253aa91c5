"""The settings of one HTTP server (``facerec serve``): apart from the app, so that the modules
the app is made of (dependencies, uploads) can read them without importing the app factory."""

from __future__ import annotations

from dataclasses import dataclass

from facerec.runtime.settings import Backend


@dataclass(frozen=True)
class ServerConfig:
    db: str | None = None
    model: str | None = None
    threads: int | None = None
    backend: Backend = "auto"
    max_upload_mb: float = 10.0
    # A check-in terminal that must never check in a print or a screen: every check-in checks
    # liveness, whatever the request says. False: the request's liveness=, else the store's setting.
    require_liveness: bool = False
    liveness_threshold: float | None = None
    index: str = "auto"
    # Back-pressure (facerec.interfaces.model_queue): requests waiting for the models at most, and
    # the longest a request may wait and run before it is answered 503 / 504.
    max_pending: int = 256
    request_timeout: float = 60.0
    body_timeout: float = 30.0  # the longest a client may take to send its body (408 after)
    deliver: bool = True  # run a deliverer of webhooks and MQTT (facerec.events) in this process
    # The wrong-key counters' file, shared by the workers of one server (facerec.interfaces.key_lockout);
    # None: in this process's memory.
    key_guard: str | None = None

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
