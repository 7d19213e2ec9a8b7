"""Sessions end when they should: logout is a POST with CSRF, logout and a password change end
every copy of the cookie, and a session idle for SESSION_IDLE_DAYS is over."""

from __future__ import annotations

import re
import sys
import time

import pytest

from app.config import ConfigError, load_config
from tests.app import test_auth
from tests.app.test_auth import PASSWORD, csrf_from, log_in, log_out
from tests.conftest import TOKEN
from tests.support import Proc, base_env, free_port, wait_for

secured = test_auth.secured  # the same fixture: a leader with login on and a known admin password


def cookie(client) -> str:
    return client.get_cookie("session").value


def copy_of(flask_app, client):
    """A second browser holding a copy of client's session cookie (what a thief would have)."""
    other = flask_app.test_client()
    other.set_cookie("session", cookie(client))
    return other


def test_get_logout_shows_a_button_and_logs_nobody_out(secured):
    client = secured.test_client()
    log_in(client)
    page = client.get("/logout")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'<form method="post" action="/logout">', text) and "Sign out" in text
    assert client.get("/api/jobs").status_code == 200, "GET /logout logged the user out"
    assert client.get("/logout", headers={"Accept": "image/*"}).status_code == 200
    assert client.get("/api/jobs").status_code == 200


def test_logout_without_the_csrf_token_is_refused(secured):
    client = secured.test_client()
    log_in(client)
    forged = client.post("/logout")
    assert forged.status_code == 403 and "CSRF token is missing or wrong" in forged.get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": "guess"}).status_code == 403
    assert client.get("/api/jobs").status_code == 200


def test_a_copied_cookie_stops_working_at_logout(secured):
    client = secured.test_client()
    log_in(client)
    thief, browser_thief = copy_of(secured, client), copy_of(secured, client)
    assert thief.get("/api/jobs").status_code == 200  # the copy works while the session lives
    assert log_out(client).headers["Location"] == "/login"
    refused = thief.get("/api/jobs")
    assert refused.status_code == 401 and "session was ended" in refused.get_json()["error"]
    page = browser_thief.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Please log in again: your session was ended" in page and 'action="/login"' in page
    # Logging in again gives a session that works, and the old copy still does not.
    log_in(client)
    assert client.get("/api/jobs").status_code == 200
    assert browser_thief.get("/api/jobs").status_code == 401


def test_a_password_change_ends_other_sessions_and_keeps_this_one(secured):
    from app.extensions import db
    from app.models.user import User

    client, laptop = secured.test_client(), secured.test_client()
    log_in(client)
    log_in(laptop)
    thief = copy_of(secured, client)
    token = csrf_from(client.get("/account").get_data(as_text=True))
    changed = client.post(
        "/account", data={"action": "password", "current": PASSWORD, "new": "a brand new password", "csrf_token": token}
    )
    assert changed.status_code == 200 and "Password changed" in changed.get_data(as_text=True)
    assert client.get("/api/jobs").status_code == 200, "the browser that changed the password was logged out"
    assert laptop.get("/api/jobs").status_code == 401
    assert thief.get("/api/jobs").status_code == 401
    # A form still works in the browser that stayed (its CSRF token was renewed with the page).
    token = csrf_from(changed.get_data(as_text=True))
    made = client.post("/account", data={"action": "create_token", "name": "after", "csrf_token": token})
    assert made.status_code == 200 and 'id="new-token"' in made.get_data(as_text=True)
    with secured.app_context():
        assert db.session.scalars(db.select(User)).one().session_version == 1


def test_set_password_command_ends_sessions(secured):
    client = secured.test_client()
    log_in(client)
    result = secured.test_cli_runner().invoke(
        args=["user", "set-password", "admin"], input="another long password\nanother long password\n"
    )
    assert result.exit_code == 0, result.output
    assert client.get("/api/jobs").status_code == 401


def test_an_idle_session_expires(secured):
    client = secured.test_client()
    log_in(client)
    idle = secured.config["SESSION_IDLE_SECONDS"]
    assert idle == 7 * 86400  # the default
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - idle + 120  # used two minutes short of the limit
    assert client.get("/api/jobs").status_code == 200
    with client.session_transaction() as session:
        assert session["seen"] >= int(time.time()) - 5, "a request did not count as use"
        session["seen"] = int(time.time()) - idle - 1
    expired = client.get("/api/jobs")
    assert expired.status_code == 401 and "expired" in expired.get_json()["error"]
    # The browser drops the cookie too, a minute after the server stops accepting it.
    assert secured.permanent_session_lifetime.total_seconds() == idle + 60


def test_session_idle_days_is_checked(clips, tmp_path):
    base = {"FRAME_SHIFT_HOME": str(clips["root"]), "DATA_DIR": str(tmp_path)}
    assert load_config({**base, "SESSION_IDLE_DAYS": "0.5"}, environ={})["SESSION_IDLE_SECONDS"] == 43200
    for bad in ("0", "-1", "week", "nan"):
        with pytest.raises(ConfigError) as err:
            load_config({**base, "SESSION_IDLE_DAYS": bad}, environ={})
        assert err.value.problems == [
            f"SESSION_IDLE_DAYS={bad!r}: must be a number of days above 0 (e.g. 7, or 0.5 for 12 hours)"
        ]


class Browser:
    """Just enough of a browser for the real web process: one cookie, forms, no redirects followed."""

    def __init__(self, port: int, cookie: str = "") -> None:
        self.port, self.cookie = port, cookie

    def call(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        import http.client
        from urllib.parse import urlencode

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": f"session={self.cookie}"} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                match = re.match(r"session=([^;]*)", header)
                if match:
                    self.cookie = match.group(1)
            return response.status, text
        finally:
            conn.close()

    def log_in(self, password: str) -> None:
        _, page = self.call("GET", "/login")
        status, _ = self.call(
            "POST", "/login", {"username": "admin", "password": password, "csrf_token": csrf_from(page)}
        )
        assert status == 302, "login failed"


@pytest.fixture
def web(tmp_path, clips, redis_server):
    """The web process as production runs it (gunicorn), login on, sessions idle out after about 3 s."""
    port = free_port()
    env = base_env(
        redis_server.url,
        clips["root"],
        tmp_path / "data",
        TOKEN,
        PORT=str(port),
        HOST="127.0.0.1",
        FRAME_SHIFT_ADMIN_PASSWORD=PASSWORD,
        SESSION_IDLE_DAYS="0.000035",  # 3 s
        WEB_WORKERS="2",
    )
    proc = Proc(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"], env, tmp_path / "web.log"
    ).start()
    anonymous = Browser(port)

    def answers() -> bool:
        assert proc.alive(), proc.output()[-3000:]
        try:
            return anonymous.call("GET", "/healthz")[0] == 200
        except OSError:
            return False

    wait_for(answers, 90, 0.2, what="gunicorn to answer /healthz")
    yield port
    proc.stop()


def test_sessions_on_the_real_web_process(web):
    browser = Browser(web)
    browser.log_in(PASSWORD)
    assert browser.call("GET", "/api/jobs")[0] == 200
    stolen = browser.cookie
    # A link or an <img src="/logout"> on another page logs nobody out.
    status, page = browser.call("GET", "/logout")
    assert status == 200 and 'action="/logout"' in page
    assert Browser(web, stolen).call("GET", "/api/jobs")[0] == 200
    assert browser.call("POST", "/logout", {})[0] == 403  # no CSRF token
    assert browser.call("POST", "/logout", {"csrf_token": csrf_from(page)})[0] == 302
    status, body = Browser(web, stolen).call("GET", "/api/jobs")
    assert status == 401 and "session was ended" in body

    # Idle: every fresh copy of the cookie carries the time of its last use, so asking with copies
    # does not keep the session alive; the answer turns to 401 once the idle time has passed.
    browser.log_in(PASSWORD)
    logged_in, idle_cookie = time.monotonic(), browser.cookie
    assert Browser(web, idle_cookie).call("GET", "/api/jobs")[0] == 200
    body = wait_for(
        lambda: (lambda r: r[1] if r[0] == 401 else None)(Browser(web, idle_cookie).call("GET", "/api/jobs")),
        30,
        0.2,
        what="the idle session to expire",
    )
    assert "expired" in body
    assert time.monotonic() - logged_in >= 2.0, "the session ended long before its idle time"
