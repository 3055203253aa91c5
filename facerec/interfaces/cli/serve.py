"""``facerec serve``: the HTTP API and the desk's page, run by uvicorn with this command's settings.

The settings reach the server's workers as JSON in an environment variable (``CONFIG_ENV``),
which every worker process reads when uvicorn calls the app factory.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, cast

import typer

from facerec.interfaces.cli.events import DeliverOption
from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import DbOption, LivenessThresholdOption, ModelOption, ThreadsOption
from facerec.interfaces.cli.settings import settings_for

if TYPE_CHECKING:
    from facerec.runtime.settings import Backend


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to bind (default loopback only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes.")] = 1,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload accepted.")] = 10.0,
    require_liveness: Annotated[
        bool,
        typer.Option("--require-liveness", help="Every check-in checks liveness (a check-in terminal at a door)."),
    ] = False,
    liveness_threshold: LivenessThresholdOption = None,
    max_pending: Annotated[
        int, typer.Option("--max-pending", min=1, help="Requests that may wait for the models; beyond, 503.")
    ] = 256,
    request_timeout: Annotated[
        float, typer.Option("--request-timeout", min=1, help="Seconds a request may wait and run (503/504 after).")
    ] = 60.0,
    body_timeout: Annotated[
        float, typer.Option("--body-timeout", min=0.1, help="Seconds a client may take to send a request (408 after).")
    ] = 30.0,
    deliver: DeliverOption = True,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            "--forwarded-allow-ips",
            help="Reverse proxies (comma-separated addresses or networks, '*' for any) whose X-Forwarded-For "
            "and X-Forwarded-Proto are trusted; by default none: a client's address is its TCP peer's.",
        ),
    ] = "",
    threads: ThreadsOption = None,
    model: ModelOption = None,
    db: DbOption = None,
) -> None:
    """The HTTP API (see /docs) and the desk's web page (/): detect, verify, identify, liveness, enrol,
    people, check-in, attendance."""
    import dataclasses
    import ipaddress
    import os
    import shutil
    import tempfile

    import uvicorn

    from facerec.interfaces.server import CONFIG_ENV
    from facerec.interfaces.server_config import ServerConfig

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        typer.echo(
            f"warning: listening on {host}, beyond this machine, over plain HTTP: keys and faces cross the "
            "network unencrypted. Put a TLS proxy (nginx, Caddy) in front, or keep the default 127.0.0.1.",
            err=True,
        )
    settings = settings_for(ctx, threads, None, model, db)
    proxies = [p.strip() for p in forwarded_allow_ips.split(",") if p.strip()]
    private = tempfile.mkdtemp(prefix="facerec-serve-")  # the workers' shared wrong-key counters
    config = ServerConfig(
        db=settings.db,
        model=settings.model,
        threads=settings.threads,
        backend=cast("Backend", settings.backend),  # a bad name is the recognizer's error to report
        max_upload_mb=max_upload_mb,
        require_liveness=require_liveness,
        index=settings.index,
        liveness_threshold=liveness_threshold,
        max_pending=max_pending,
        request_timeout=request_timeout,
        body_timeout=body_timeout,
        deliver=deliver,
        key_guard=os.path.join(private, "keyguard.db"),
    )
    os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(config))  # read back by app_from_environment
    try:
        uvicorn.run(
            "facerec.interfaces.server:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise: a client on this
            # machine could then be any address it likes (and escape the wrong-key limit)
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies or None,
        )
    finally:
        shutil.rmtree(private, ignore_errors=True)
