"""A real `facerec serve` process on 127.0.0.1 and a free port, for the HTTP API tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

CLI = Path(__file__).resolve().parents[1] / "cli.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    def __init__(self, db: str, *extra: str, log: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [sys.executable, str(CLI), "--db", db, "serve", "--port", str(self.port), *extra]
        output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
        environment = {**os.environ, **(env or {})}
        self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=environment)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"facerec serve exited with {self.process.returncode}: {self._log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"facerec serve did not answer on {self.url}: {self._log()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def memory(self) -> tuple[int, int]:
        """(resident, peak resident) bytes of the server process now (Linux /proc)."""
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines() if ":" in line
        )
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024

    def reset_peak(self) -> None:
        """Start the peak-memory count afresh (Linux: clear_refs 5 resets VmHWM)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def _log(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log and self.log.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
