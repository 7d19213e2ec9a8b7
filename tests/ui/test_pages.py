"""Layout, theme, phone width, labels, bad requests, followers and settings pages in real Chromium."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from playwright.sync_api import expect

from tests.support import HOSTNAME
from tests.ui.conftest import shot

UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter(el => !el.hidden && el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim()
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""


def test_theme_toggle_follows_system_and_is_remembered(browser, live_server):
    context = browser.new_context(base_url=live_server.url, color_scheme="dark")
    page = context.new_page()
    page.goto("/")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 19, 25)", "the system's dark preference is not applied"
    toggle = page.get_by_role("button", name="Switch to light theme")
    toggle.click()
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)"
    page.reload()
    assert page.evaluate("() => document.documentElement.dataset.theme") == "light"
    page.get_by_role("button", name="Switch to dark theme").click()
    shot(page, "queue-dark")
    context.close()


def test_pages_fit_a_phone_and_every_control_has_a_label(browser, live_server, ui_stack, api, ui_media):
    from tests.ui.test_queue import QUICK

    job = api.post("/api/jobs", {"inputs": [str(ui_media["forest"])], "spec": QUICK}, status=201)["jobs"][0]
    api.wait_status(job["id"], "succeeded")
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    # Files and Configure too, with a file picked so the configure page shows its list and FFmpeg command.
    folder = f"/files?{urlencode({'path': str(ui_media['folder'])})}"
    page.goto(folder)
    page.get_by_label("Select mountain (long).mp4").check()
    expect(page.locator("#selected-count")).to_have_text("1")
    ready = {
        "/configure": lambda: expect(page.locator("#command-preview")).to_contain_text("mountain (long)_converted")
    }
    pages = (
        ("/", "queue"),
        (f"/jobs/{job['id']}", "job"),
        ("/followers/", "followers"),
        ("/settings/", "settings"),
        ("/files", "files-root"),
        (folder, "files-folder"),
        ("/configure", "configure"),
    )
    for path, name in pages:
        page.goto(path)
        if path in ready:
            ready[path]()
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
        assert page.evaluate(UNLABELLED) == [], f"{path} has controls without a label"
        shot(page, f"{name}-phone")
    context.close()


def test_bad_requests_show_a_clear_message_not_a_stack_trace(page):
    for path, message in (
        ("/jobs/987654", "job 987654 does not exist"),
        ("/?page=abc", "page: must be a whole number"),
        ("/?status=nonsense", "'nonsense' is not a queue filter"),
        ("/no/such/page", "not found"),
    ):
        response = page.goto(path)
        assert response.status >= 400
        alert = page.get_by_role("alert").filter(has_text=re.compile(re.escape(message), re.I))
        expect(alert).to_be_visible()
        assert "Traceback" not in page.content()
        expect(page.get_by_role("link", name="Back to the queue")).to_be_visible()
    shot(page, "error")


def test_followers_page_shows_the_follower_and_drains_it(page, ui_stack, live_server, api):
    name = f"ui1@{HOSTNAME}"
    page.goto("/followers/")
    card = page.locator(f'[data-follower="{name}"]')
    expect(card).to_be_visible()
    expect(card.locator('[data-field="state"]')).to_have_text("online")
    expect(card.locator('[data-field="concurrency"]')).to_have_text("2")
    expect(card).to_contain_text("libx265")
    expect(card).to_contain_text(re.compile(r"FFmpeg\s*\d"))
    expect(page.get_by_role("link", name="Open Flower ↗")).to_have_attribute("href", "http://127.0.0.1:5555")
    shot(page, "followers")
    card.get_by_role("button", name=re.compile("^Drain")).click()
    expect(card.get_by_text("draining")).to_be_visible()
    assert next(f for f in api.get("/api/followers")["followers"] if f["name"] == name)["draining"] is True
    card.get_by_role("button", name=re.compile("^Resume")).click()
    expect(card.get_by_role("button", name=re.compile("^Drain"))).to_be_visible()
    assert next(f for f in api.get("/api/followers")["followers"] if f["name"] == name)["draining"] is False


def test_settings_are_saved_and_bad_values_explained(page, ui_media):
    page.goto("/settings/")
    shot(page, "settings")
    page.get_by_label("Automatic retries").fill("")
    page.get_by_role("button", name="Save retry policy").click()
    expect(page.get_by_role("alert").filter(has_text="auto_retry: give a whole number from 0 to 10")).to_be_visible()
    page.get_by_label("Automatic retries").fill("2")
    page.get_by_role("button", name="Save retry policy").click()
    expect(page.get_by_text("Retry policy saved: up to 2 automatic retries.")).to_be_visible()
    expect(page.get_by_label("Automatic retries")).to_have_value("2")

    page.get_by_label("Video codec").select_option("libx264")
    page.get_by_label("Container").select_option("mp4")
    page.get_by_label("Output folder").fill("/etc")
    page.get_by_role("button", name="Save defaults").click()
    expect(page.get_by_role("alert").filter(has_text="output_dir: /etc is outside the media folders")).to_be_visible()
    expect(page.get_by_label("Video codec")).to_have_value("libx264")  # what was typed is kept
    page.get_by_label("Output folder").fill(str(ui_media["folder"]))
    page.get_by_role("button", name="Save defaults").click()
    expect(page.get_by_text("Defaults for new jobs saved.")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Container")).to_have_value("mp4")
    expect(page.get_by_label("Output folder")).to_have_value(str(ui_media["folder"]))

    page.get_by_label(re.compile("More targets")).fill("this is not a url")
    page.get_by_role("button", name="Save notifications").click()
    expect(page.get_by_role("alert").filter(has_text="is not an Apprise URL")).to_be_visible()
    page.get_by_label(re.compile("More targets")).fill("json://127.0.0.1:9/hook")
    page.get_by_role("button", name="Save notifications").click()
    expect(page.get_by_text(re.compile(r"Notification settings saved \(1 target"))).to_be_visible()
    page.get_by_role("button", name="Send a test notification").click()
    # Nothing listens on port 9: the page says which target failed instead of pretending.
    expect(page.get_by_role("alert").filter(has_text="the test notification reached 0 target(s)")).to_be_visible()
    # Put the defaults back for the other tests.
    page.get_by_label("Automatic retries").fill("0")
    page.get_by_role("button", name="Save retry policy").click()
    expect(page.get_by_text("Retry policy saved")).to_be_visible()


def test_with_login_on_actions_carry_the_csrf_token(browser, ui_stack, ui_media):
    """Login on (the default): pages need a session, scripts send X-CSRF-Token, forms the hidden field."""
    from app import create_app
    from tests.conftest import TOKEN
    from tests.support import LiveServer

    secure = create_app(
        {
            "FRAME_SHIFT_HOME": str(ui_media["root"]),
            "DATA_DIR": str(ui_stack.data),
            "REDIS_URL": ui_stack.redis_server.url,
            "SHARED_TOKEN": TOKEN,
            "AUTH_DISABLED": False,
            "FRAME_SHIFT_ADMIN_USER": "admin",
            "FRAME_SHIFT_ADMIN_PASSWORD": "correct horse battery",
        }
    )
    # The login-off app made the first account on this database already (with a generated password).
    from sqlalchemy import select

    from app.auth.accounts import set_password
    from app.extensions import db
    from app.models.user import User

    with secure.app_context():
        set_password(db.session.scalar(select(User).where(User.username == "admin")), "correct horse battery")
    server = LiveServer(secure).start()
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/login"))
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill("correct horse battery")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Queue")).to_be_visible()
        expect(page.locator("#live-status")).to_have_text("Live")
        page.get_by_role("button", name="Pause queue").click()
        expect(page.locator("#paused-banner")).to_be_visible()
        page.get_by_role("button", name="Resume queue").click()
        expect(page.locator("#paused-banner")).to_be_hidden()
        expect(page.locator("#flash")).to_be_empty()
        page.goto("/settings/")
        page.get_by_label("Automatic retries").fill("1")
        page.get_by_role("button", name="Save retry policy").click()
        expect(page.get_by_text("Retry policy saved: up to 1 automatic retry.")).to_be_visible()
        page.get_by_label("Automatic retries").fill("0")
        page.get_by_role("button", name="Save retry policy").click()
        expect(page.get_by_text("Retry policy saved")).to_be_visible()
        # A forged request (no token) is refused with a message, not carried out.
        refused = page.evaluate("""async () => {
            const r = await fetch('/api/queue/pause', {method: 'POST'});
            return [r.status, (await r.json()).error];
        }""")
        assert refused[0] == 403 and "CSRF token" in refused[1]
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login"))
    finally:
        context.close()
        server.stop()
