"""The attendance desk's web page in a real browser (Debian's headless Chromium, driven by
Playwright) against a real `facerec serve` on 127.0.0.1: sign in, enrol, check in, the live
feed, the day's report and its CSV, removal, a wrong key, what each role may see.

Screenshots of every step are written to out/web-screenshots/ (CI keeps them as artefacts)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser import launch
from cli_run import new_key, run
from playwright.sync_api import expect, sync_playwright
from server_process import ServerProcess

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "out" / "web-screenshots"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def desk(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{folder / 'store.db'}"
    train = data / "face_recognition/examples/knn_examples/train"
    assert run("--db", url, "enroll", "biden", train / "biden").exit_code == 0  # enrolled, never comes
    keys = {role: new_key(url, f"{role}-key", role) for role in ("admin", "checkin")}
    server = ServerProcess(url, log=folder / "server.log")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield {"url": url, "server": server, "keys": keys, "browser": browser, "train": train}
        finally:
            browser.close()
            server.stop()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, server, key: str) -> None:
    page.goto(server.url + "/")
    page.fill("#key", key)
    page.click("#sign-in-form button")


def test_the_desk_enrolls_checks_in_reports_and_removes(desk, data):
    server, keys, train = desk["server"], desk["keys"], desk["train"]
    context = desk["browser"].new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page = context.new_page()
    sign_in(page, server, "frk_not-a-key")  # a wrong key is refused
    expect(page.locator("#message")).to_contain_text("not valid")
    expect(page.locator("#nav")).to_be_hidden()
    shot(page, "01-wrong-key")

    sign_in(page, server, keys["admin"])
    expect(page.locator("#message")).to_contain_text("Signed in as admin-key (admin)")
    expect(page.locator("#people-list li[data-name=biden]")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('facerec-key')") == keys["admin"]
    assert keys["admin"] not in page.url

    # Enrol obama from two photos, with each photo's outcome.
    page.fill("#enrol-name", "obama")
    page.set_input_files("#enrol-files", [str(train / "obama/obama.jpg"), str(train / "obama/obama2.jpg")])
    expect(page.locator("#enrol-pending img")).to_have_count(2)
    page.click("#enrol-submit")
    expect(page.locator("#enrol-outcome li.added")).to_have_count(2)
    expect(page.locator("#enrol-outcome")).to_contain_text("obama.jpg: added")
    obama = page.locator("#people-list li[data-name=obama]")
    expect(obama).to_contain_text("2 samples")
    expect(obama.locator(".crops img")).to_have_count(2)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#people-list li[data-name=obama] .crops img')]"
        ".every(i => i.complete && i.naturalWidth === 160)"
    )
    shot(page, "02-people-with-crops")

    # A photo of no one is skipped, and says why.
    page.set_input_files("#enrol-files", [str(data / "faceapi_bbt/test_images/white.png")])
    page.click("#enrol-submit")
    expect(page.locator("#enrol-outcome li.skipped")).to_contain_text("white.png: no face found")

    # The live feed is open in a second tab when a frame is uploaded at the kiosk.
    feed = context.new_page()  # a tab of its own: the key is kept per tab, so it signs in too
    sign_in(feed, server, keys["admin"])
    feed.goto(server.url + "/#feed")
    feed.wait_for_function("() => document.querySelector('#feed').dataset.ready === 'true'")
    page.goto(server.url + "/#kiosk")
    page.fill("#kiosk-source", "front door")
    page.set_input_files("#kiosk-file", str(data / "face_recognition/examples/obama-480p.jpg"))
    expect(page.locator("#kiosk-events li[data-name=obama]")).to_contain_text("checked in")
    shot(page, "03-kiosk-check-in")
    expect(feed.locator("#feed-events li[data-name=obama]")).to_contain_text("front door", timeout=15000)
    feed.wait_for_function("() => document.querySelector('#feed-events img').naturalWidth > 0")
    shot(feed, "04-live-feed")
    feed.close()

    # Today's report: obama present, biden absent; its CSV is `facerec report --format csv`'s.
    page.goto(server.url + "/#attendance")
    expect(page.locator("#report-table tr[data-name=obama] td.present")).to_be_visible()
    expect(page.locator("#report-table tr[data-name=biden] td.absent")).to_be_visible()
    shot(page, "05-attendance")
    with page.expect_download() as download:
        page.click("#report-csv")
    downloaded = Path(download.value.path()).read_text()
    day = datetime.now(UTC).date().isoformat()
    expected = run("--db", desk["url"], "report", "--date", day, "--tz", "UTC", "--format", "csv").stdout
    assert downloaded == expected
    rows = list(csv.DictReader(io.StringIO(downloaded)))
    assert [(r["name"], r["status"], r["source"]) for r in rows] == [
        ("obama", "present", "front door"),
        ("biden", "absent", ""),
    ]

    # Remove obama: the confirmation says what is deleted.
    page.goto(server.url + "/#people")
    page.locator("#people-list li[data-name=obama] button.danger").click()
    expect(page.locator("#confirm-text")).to_contain_text("2 samples")
    expect(page.locator("#confirm-text")).to_contain_text("every attendance event and snapshot")
    shot(page, "06-remove-confirmation")
    page.click("#confirm-ok")
    expect(page.locator("#people-list li[data-name=obama]")).to_have_count(0)
    shot(page, "07-after-removal")
    people = json.loads(run("--db", desk["url"], "list", "--json").stdout)
    assert [p["name"] for p in people] == ["biden"]
    audit = json.loads(run("--db", desk["url"], "audit", "--json").stdout)
    changes = [(e["action"], e["target"], e["key"]) for e in audit if e["action"] != "read_crop"]
    assert changes[:2] == [("remove", "obama", "admin-key"), ("enrol", "obama", "admin-key")]
    assert ("read_crop", "biden", "admin-key") in [(e["action"], e["target"], e["key"]) for e in audit]  # faces shown
    context.close()


def test_the_webcam_frames_a_photo_and_an_admin_changes_settings(desk):
    context = desk["browser"].new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    sign_in(page, desk["server"], desk["keys"]["admin"])
    expect(page.locator("#people-list li[data-name=biden]")).to_be_visible()
    page.click("#camera-start")  # the camera shows its framing before a photo is taken
    expect(page.locator("#enrol-video")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#enrol-video').videoWidth > 0")
    page.click("#camera-shot")
    expect(page.locator("#enrol-pending img")).to_have_count(1)
    shot(page, "09-webcam-framing")
    page.goto(desk["server"].url + "/#settings")
    expect(page.locator("#set-dedupe")).to_have_value("8")
    page.fill("#set-dedupe", "4")
    page.fill("#set-threshold", "0.6")
    page.click("#settings-form button")
    expect(page.locator("#message")).to_contain_text("Settings saved")
    expect(page.locator("#audit-table tbody")).to_contain_text("settings")
    shot(page, "10-settings-and-audit")
    assert "4 hours" in run("--db", desk["url"], "dedupe").stdout
    page.fill("#set-threshold", "")
    page.click("#settings-form button")
    expect(page.locator("#message")).to_contain_text("Settings saved")
    context.close()


def test_a_checkin_key_sees_only_the_kiosk(desk):
    context = desk["browser"].new_context(viewport={"width": 390, "height": 844})  # a phone's screen
    page = context.new_page()
    sign_in(page, desk["server"], desk["keys"]["checkin"])
    expect(page.locator("#message")).to_contain_text("(checkin)")
    expect(page.locator("#kiosk")).to_be_visible()
    for hidden in ("people", "feed", "attendance", "settings"):
        expect(page.locator(f"nav a[href='#{hidden}']")).to_be_hidden()
    page.goto(desk["server"].url + "/#settings")  # asking for a page the role may not see
    expect(page.locator("#kiosk")).to_be_visible()
    expect(page.locator("#settings")).to_be_hidden()
    shot(page, "08-checkin-key-on-a-phone")
    context.close()


def test_pictures_of_people_are_never_cached(desk):
    import httpx

    server, key = desk["server"], desk["keys"]["admin"]
    client = httpx.Client(base_url=server.url, headers={"X-API-Key": key})
    sample = client.get("/v1/persons/biden/samples").json()[0]
    crop = client.get(f"/v1/samples/{sample['id']}/crop")
    assert crop.headers["content-type"] == "image/png" and crop.headers["cache-control"] == "no-store"
    assert client.get("/v1/persons").headers["cache-control"] == "no-store"
    assert httpx.get(server.url + "/").status_code == 200  # the page itself needs no key


def test_an_admin_manages_webhooks_and_sees_a_failing_one(desk):
    from server_process import free_port

    from facerec.store import Store
    from facerec.store.spoofs import SpoofEvents

    assert run("--db", desk["url"], "webhook", "allow-host", "127.0.0.1").exit_code == 0
    assert run("--db", desk["url"], "event-settings", "--retry-base", "0.1", "--disable-after", "1").exit_code == 0
    context = desk["browser"].new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    sign_in(page, desk["server"], desk["keys"]["admin"])
    page.goto(desk["server"].url + "/#settings")
    page.fill("#webhook-url", "http://10.0.0.7/hook")  # a private address nobody allowed
    page.click("#webhook-form button")
    expect(page.locator("#message")).to_contain_text("10.0.0.7 is a private")
    closed = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: connections are refused
    page.fill("#webhook-url", closed)
    page.click("#webhook-form button")
    expect(page.locator("#webhook-secret")).to_contain_text("whsec_")
    row = page.locator("#webhook-table tbody tr")
    expect(row).to_contain_text(closed)
    now = datetime.now(UTC)  # an event for it: the desk's server tries, fails, and gives up after 1 s
    SpoofEvents(Store(desk["url"])).add("desk-test", now, now, None, 0.1, 0.9, b"png", 1)
    for _ in range(60):
        page.wait_for_timeout(500)
        page.reload()  # the table is read when the page opens
        expect(row).to_contain_text(closed)
        if "disabled" in row.locator(".state").inner_text():
            break
    expect(row.locator(".state")).to_contain_text("disabled")
    expect(row.locator(".error")).to_contain_text("Connection refused")
    shot(page, "11-webhook-disabled")
    row.locator("button.retry").click()
    expect(page.locator("#message")).to_contain_text("Retrying")
    row.locator("button.remove").click()
    expect(page.locator("#webhook-table tbody tr")).to_have_count(0)
    context.close()


def test_the_desk_says_what_happened_and_forgets_the_last_key(desk, data, tmp_path):
    """A newcomer's rough edges: a file that is not a photo among good ones, a photo without a
    face at the kiosk, a feed that said nothing on opening, one row per person and door, a blue
    Remove, alt text while crops load, and check-ins left on screen for the next key."""
    server, keys, train = desk["server"], desk["keys"], desk["train"]
    context = desk["browser"].new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    sign_in(page, server, keys["admin"])
    expect(page.locator("#people-list li[data-name=biden]")).to_be_visible()

    # A .jpg that is no picture: said by name and left out; a pending photo can be taken out.
    fake = tmp_path / "fake.jpg"
    fake.write_text("this is text, not a photo")
    page.fill("#enrol-name", "kit")
    kit = sorted((train / "kit_harington").iterdir())
    page.set_input_files("#enrol-files", [str(kit[0]), str(fake), str(kit[1])])
    expect(page.locator("#enrol-pending li.skipped")).to_have_text("fake.jpg: not an image, left out")
    page.locator(f"#enrol-pending li[data-label='{kit[1].name}'] button.remove").click()
    expect(page.locator("#enrol-pending img")).to_have_count(1)
    page.click("#enrol-submit")
    expect(page.locator("#enrol-outcome li.added")).to_have_text(f"{kit[0].name}: added")
    expect(page.locator("#enrol-outcome li")).to_have_count(1)

    # Crops show nothing, not their alt text, until they have loaded.
    held, holding = [], [True]

    def hold(route) -> None:  # while holding, a crop's request waits; later ones (the list drawn again) pass
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/v1/samples/*/crop", hold)
    page.goto(server.url + "/#people")
    crops = page.locator("#people-list li[data-name=kit] .crops img")
    expect(crops).to_have_count(1)
    while not held:  # the crop's request, held while the thumbnail waits for it
        page.wait_for_timeout(50)
    assert crops.first.get_attribute("alt") == ""
    holding[0] = False
    for route in held:
        route.continue_()
    expect(crops.first).to_have_attribute("alt", re.compile(r"^kit, sample \d+$"))
    page.unroute("**/v1/samples/*/crop")

    # Removing is red, not the blue of every other button.
    page.locator("#people-list li[data-name=kit] button.danger").click()
    red = page.evaluate("() => getComputedStyle(document.querySelector('#confirm-ok')).backgroundColor")
    assert red == "rgb(179, 38, 30)"
    page.click("#confirm-ok")
    expect(page.locator("#people-list li[data-name=kit]")).to_have_count(0)

    # The kiosk tells a photo without a face from a face it does not know.
    page.goto(server.url + "/#kiosk")
    page.set_input_files("#kiosk-file", str(data / "faceapi_bbt/test_images/white.png"))
    expect(page.locator("#message")).to_have_text("No face found in the photo.")
    page.set_input_files("#kiosk-file", str(data / "face_recognition/examples/obama.jpg"))
    expect(page.locator("#message")).to_have_text(re.compile(r"faces?, nobody enrolled among them\.$"))
    for count, (door, photo) in enumerate((("front desk", "biden.jpg"), ("back door", "biden2.jpg")), 1):
        page.fill("#kiosk-source", door)
        page.set_input_files("#kiosk-file", str(train / "biden" / photo))
        expect(page.locator("#kiosk-events li[data-name=biden]")).to_have_count(count)

    # The feed opens on today's check-ins and says it is connected.
    page.goto(server.url + "/#feed")
    expect(page.locator("#feed-status")).to_contain_text("Connected: waiting for check-ins")
    expect(page.locator("#feed-events li[data-name=biden]").first).to_be_visible()

    # Attendance over every door: one row per person, with the counts.
    page.goto(server.url + "/#attendance")
    row = page.locator("#report-table tr[data-name=biden]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("back door, front desk")
    expect(page.locator("#report-count")).to_have_text(re.compile(r"^Present: 1 · absent: \d+$"))
    shot(page, "08-attendance-per-person")

    # Signing out leaves nothing of this key's session for the next one.
    page.click("#sign-out")
    sign_in(page, server, keys["checkin"])
    expect(page.locator("#message")).to_contain_text("Signed in as checkin-key")
    expect(page.locator("#kiosk")).to_be_visible()
    expect(page.locator("#kiosk-events li")).to_have_count(0)
    assert page.locator("#people-list li, #feed-events li, #report-table tbody tr").count() == 0
    context.close()
