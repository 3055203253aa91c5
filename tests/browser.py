"""Debian's headless Chromium, driven by Playwright, as the browser tests start it."""

from __future__ import annotations

from prerequisites import CHROMIUM

# As this machine's notes say to start it: without the background-networking flags, Chromium keeps
# trying the closed network.
# A fake camera (a test pattern) answers getUserMedia, and is allowed without asking.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update",
                  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]  # fmt: skip


def launch(playwright):
    """A headless Chromium (conftest has checked that it is there)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
