"""/docs and /redoc render in a real browser with every request that leaves 127.0.0.1 refused:
their scripts and styles come from facerec itself, so they work on a machine with no internet."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from browser import launch
from playwright.sync_api import expect, sync_playwright
from server_process import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api-docs")
    server = ServerProcess(f"sqlite:///{folder / 'store.db'}", log=folder / "server.log")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield server, browser
        finally:
            browser.close()
            server.stop()


def offline_page(browser):
    """A page on which every request to a host other than 127.0.0.1 fails, each one recorded."""
    context = browser.new_context()
    refused: list[str] = []

    def only_here(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_here)
    return context, context.new_page(), refused


def test_swagger_ui_renders_every_operation_offline(pages):
    server, browser = pages
    context, page, refused = offline_page(browser)
    loaded = []
    page.on("requestfinished", lambda request: loaded.append(urlsplit(request.url).path))
    page.goto(server.url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("facerec")
    expect(page.locator(".opblock-summary-path[data-path='/v1/identify']")).to_be_visible()
    expect(page.locator(".opblock-summary-path[data-path='/v1/persons/{name}/images']")).to_be_visible()
    assert "/docs/swagger-ui-bundle.js" in loaded and "/openapi.json" in loaded
    assert refused == []
    context.close()


def test_redoc_renders_offline(pages):
    server, browser = pages
    context, page, refused = offline_page(browser)
    page.goto(server.url + "/redoc")
    expect(page.locator("h1")).to_contain_text("facerec")
    expect(page.get_by_text("/v1/identify").first).to_be_attached()
    assert refused == []
    context.close()
