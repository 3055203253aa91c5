"""What the selected tests need from the system, checked before the first one runs.

Without this a machine that lacks PostgreSQL or Chromium fails dozens of tests one by one, each
with its own traceback; here the run stops at once and names the command that installs it all.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

SETUP = "sudo bash .ci/setup   (as root: bash .ci/setup)"
# Debian's (Playwright's own download cannot work here); another path only to test this check.
CHROMIUM = Path(os.environ.get("FACEREC_TEST_CHROMIUM", "/usr/bin/chromium"))


def postgres_missing() -> list[str]:
    """PostgreSQL's server binaries and, for the same version, pgvector."""
    servers = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not servers:
        return ["PostgreSQL's server (Debian's postgresql)"]
    version = Path(servers[-1]).parents[1].name
    if not Path(f"/usr/share/postgresql/{version}/extension/vector.control").is_file():
        return [f"pgvector for PostgreSQL {version} (built from ../shared/vendor/pgvector-0.8.6.tar.gz)"]
    return []


def browser_missing() -> list[str]:
    return [] if CHROMIUM.is_file() else [f"Chromium ({CHROMIUM}, Debian's chromium)"]


def broker_missing() -> list[str]:
    found = shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").is_file()
    return [] if found else ["Mosquitto (Debian's mosquitto)"]


def missing_for(markers: set[str]) -> list[str]:
    """What is missing for tests carrying these markers."""
    missing = []
    if "postgres" in markers:
        missing += postgres_missing()
    if "browser" in markers:
        missing += browser_missing()
    if "mqtt" in markers:
        missing += broker_missing()
    return missing


def message(missing: list[str]) -> str:
    lines = ["the selected tests need what this machine lacks:", *(f"  - {m}" for m in missing)]
    lines += [
        "install it all with:",
        f"  {SETUP}",
        'or leave those tests out: python -m pytest -m "not postgres and not browser and not mqtt"',
    ]
    return "\n".join(lines)
