"""The login, sign-out and account pages in Chromium: styled like every other page, no menu for a
stranger, one way to sign out, and a favicon (no 404 on a first load)."""

from __future__ import annotations

import re

import pytest

from tests.app import test_auth
from tests.app.test_auth import PASSWORD
from tests.support import LiveServer
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, shot

secured = test_auth.secured  # a leader with login on and a known admin password
# What makes a button look like the others: Chromium's defaults differ in every one of these.
LOOK = ("background-color", "color", "border-top-left-radius", "padding-left", "min-height", "font-size")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, through Playwright (as tests/ui does)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def site(secured):
    server = LiveServer(secured).start()
    yield server
    server.stop()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.failed_requests = []
    tab.on("response", lambda r: r.status >= 400 and tab.failed_requests.append(f"{r.status} {r.url}"))
    yield tab
    context.close()


def look(page, selector: str) -> dict[str, str]:
    return page.locator(selector).first.evaluate(
        "(el, names) => Object.fromEntries(names.map(n => [n, getComputedStyle(el).getPropertyValue(n)]))", list(LOOK)
    )


def log_in(page) -> None:
    page.goto("/login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


def test_login_page_shows_no_menu_and_styled_controls_and_a_favicon(page):
    from playwright.sync_api import expect

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    # Nothing behind the menu would open for a stranger: no menu, no Account, no Sign out.
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    for name in ("Queue", "Files", "Followers", "Settings", "Account"):
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    login_look = look(page, "button[type=submit]")
    field_look = look(page, "#f-password")
    shot(page, "auth-login")
    # The favicon is linked, served as SVG, and no request of the first load failed.
    href = page.locator("link[rel=icon]").get_attribute("href")
    icon = page.request.get(href)
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in icon.body()
    assert page.failed_requests == []

    log_in(page)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.goto("/settings/")
    # The same look as a primary button and a field on the Settings page, not Chromium's defaults.
    assert login_look == look(page, "button.button.primary"), (login_look, look(page, "button.button.primary"))
    assert field_look["border-top-left-radius"] == look(page, "#f-targets")["border-top-left-radius"]


def test_account_page_has_one_sign_out_and_styled_buttons(page):
    from playwright.sync_api import expect

    log_in(page)
    page.goto("/account")
    page.get_by_label("Name").fill("backup script")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_be_visible()
    shot(page, "auth-account")
    signs = page.get_by_role("button", name=re.compile(r"log ?out|sign ?out", re.I))
    expect(signs).to_have_count(1)
    expect(page.get_by_role("link", name=re.compile(r"log ?out|sign ?out", re.I))).to_have_count(0)
    change, create, revoke = (
        look(page, f"button:has-text('{label}')") for label in ("Change password", "Create token", "Revoke")
    )
    page.goto("/settings/")
    assert change == look(page, "button.button.primary")
    assert create == look(page, "button.button:not(.primary):not(.small)")
    assert revoke["border-top-left-radius"] == change["border-top-left-radius"] != "0px"  # not Chromium's button
    assert page.failed_requests == []


def test_sign_out_from_the_header_and_get_logout_only_asks(page):
    from playwright.sync_api import expect

    log_in(page)
    page.goto("/logout")  # typed, or followed from a link: only a question
    expect(page.get_by_role("heading", name="Sign out?")).to_be_visible()
    shot(page, "auth-logout")
    page.goto("/account")
    expect(page.get_by_role("heading", name=re.compile("Account"))).to_be_visible()  # still signed in
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/login\?next=/account"))
