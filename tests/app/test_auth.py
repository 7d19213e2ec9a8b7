"""Login, API tokens, CSRF and the first admin account, with login turned on."""

from __future__ import annotations

import re

import pytest

from app.config import ConfigError, load_config
from tests.conftest import TOKEN

PASSWORD = "correct horse battery"


@pytest.fixture
def secured(tmp_path, redis_server, clips):
    """A leader app with login on and a known admin password."""
    from app import create_app
    from app.extensions import db

    flask_app = create_app(
        {
            "FRAME_SHIFT_HOME": str(clips["root"]),
            "DATA_DIR": str(tmp_path / "data"),
            "REDIS_URL": redis_server.url,
            "SHARED_TOKEN": TOKEN,
            "TESTING": True,
            "FRAME_SHIFT_ADMIN_PASSWORD": PASSWORD,
        }
    )
    yield flask_app
    with flask_app.app_context():
        db.session.remove()
        db.engine.dispose()


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def log_in(client, password: str = PASSWORD, next_path: str = ""):
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "username": "admin",
            "password": password,
            "next": next_path,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )


def log_out(client):
    token = csrf_from(client.get("/account").get_data(as_text=True))
    return client.post("/logout", data={"csrf_token": token})


def test_anonymous_requests_are_refused(secured):
    client = secured.test_client()
    api = client.get("/api/jobs")
    assert api.status_code == 401 and "login required" in api.get_json()["error"]
    assert api.headers["WWW-Authenticate"].startswith("Bearer")
    page = client.get("/account")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=/account")
    assert client.post("/api/jobs", json={"inputs": ["short clip.mp4"]}).status_code == 401
    assert client.get("/metrics").status_code == 401
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["database"] == "ok"


def test_login_wrong_password_then_right_then_logout(secured):
    client = secured.test_client()
    bad = log_in(client, "wrong password")
    assert bad.status_code == 400 and "Wrong user name or password" in bad.get_data(as_text=True)
    assert client.get("/api/jobs").status_code == 401
    good = log_in(client, next_path="/account")
    assert good.status_code == 302 and good.headers["Location"] == "/account"
    assert client.get("/api/jobs").status_code == 200
    assert log_out(client).status_code == 302
    assert client.get("/api/jobs").status_code == 401


def test_login_refuses_offsite_redirect_and_missing_csrf(secured):
    client = secured.test_client()
    assert log_in(client, next_path="//evil.example/x").headers["Location"] == "/"
    log_out(client)
    forged = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert forged.status_code == 400 and "form expired" in forged.get_data(as_text=True)


def test_cookie_requests_need_csrf_header_or_field(secured, clips):
    client = secured.test_client()
    log_in(client)
    body = {"inputs": [str(clips["short"])], "spec": {"container": "mp4", "video_codec": "libx264"}}
    refused = client.post("/api/jobs", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.get_json()["error"]
    token = csrf_from(client.get("/account").get_data(as_text=True))
    assert client.post("/api/jobs", json=body, headers={"X-CSRF-Token": "nope"}).status_code == 403
    created = client.post("/api/jobs", json=body, headers={"X-CSRF-Token": token})
    assert created.status_code == 201, created.get_json()
    made = client.post("/account", data={"action": "create_token", "name": "form", "csrf_token": token})
    assert made.status_code == 200 and re.search(r'id="new-token">fs_', made.get_data(as_text=True))


def test_api_token_works_without_csrf_and_stops_when_revoked(secured, clips):
    client = secured.test_client()
    anonymous = client.post("/api/tokens", json={"name": "curl"})
    assert anonymous.status_code == 401
    issued = client.post("/api/tokens", json={"name": "curl"}, auth=("admin", PASSWORD))
    assert issued.status_code == 201, issued.get_json()
    token = issued.get_json()["token"]
    assert client.post("/api/tokens", json={"name": "x"}, auth=("admin", "bad")).status_code == 401
    other = secured.test_client()  # no cookie at all
    auth = {"Authorization": f"Bearer {token}"}
    assert other.get("/api/jobs", headers=auth).status_code == 200
    created = other.post("/api/jobs", json={"inputs": [str(clips["short"])]}, headers=auth)
    assert created.status_code == 201
    assert "frameshift_jobs" in other.get("/metrics", headers=auth).get_data(as_text=True)
    listed = other.get("/api/tokens", headers=auth).get_json()["tokens"]
    assert [t["name"] for t in listed] == ["curl"] and token not in str(listed)
    assert other.delete(f"/api/tokens/{listed[0]['id']}", headers=auth).status_code == 200
    after = other.get("/api/jobs", headers=auth)
    assert after.status_code == 401 and "not valid" in after.get_json()["error"]


def test_passwords_and_tokens_are_stored_hashed(secured):
    from app.extensions import db
    from app.models.user import ApiToken, User

    token = secured.test_client().post("/api/tokens", json={"name": "t"}, auth=("admin", PASSWORD)).get_json()["token"]
    with secured.app_context():
        user = db.session.scalars(db.select(User)).one()
        stored = db.session.scalars(db.select(ApiToken)).one()
        assert PASSWORD not in user.password_hash and user.password_hash.startswith(("scrypt:", "pbkdf2:"))
        assert token not in stored.token_hash and len(stored.token_hash) == 64


def test_generated_admin_password_is_printed_once(tmp_path, redis_server, clips, capfd):
    from app import create_app
    from app.extensions import db

    settings = {
        "FRAME_SHIFT_HOME": str(clips["root"]),
        "DATA_DIR": str(tmp_path / "data"),
        "REDIS_URL": redis_server.url,
        "SHARED_TOKEN": TOKEN,
        "TESTING": True,
    }
    first = create_app(settings)
    printed = capfd.readouterr().err
    password = re.search(r"created account 'admin' with password (\S+)", printed).group(1)
    with first.app_context():
        db.engine.dispose()
    second = create_app(settings)
    assert password not in capfd.readouterr().err
    assert not any(password in p.read_text(errors="ignore") for p in (tmp_path / "data").rglob("*") if p.is_file())
    client = second.test_client()
    assert log_in(client, password).status_code == 302
    with second.app_context():
        db.engine.dispose()


def test_auth_off_only_on_loopback(clips, tmp_path):
    base = {"FRAME_SHIFT_HOME": str(clips["root"]), "DATA_DIR": str(tmp_path)}
    assert load_config({**base, "AUTH_DISABLED": "1", "HOST": "127.0.0.1"}, environ={})["AUTH_DISABLED"] is True
    assert load_config({**base, "AUTH_DISABLED": "1", "HOST": "::1"}, environ={})["AUTH_DISABLED"] is True
    with pytest.raises(ConfigError) as err:
        load_config({**base, "AUTH_DISABLED": "1", "HOST": "0.0.0.0"}, environ={})
    assert err.value.problems == [
        "AUTH_DISABLED=1 is only allowed when the web process listens on loopback, but HOST='0.0.0.0': "
        "set HOST=127.0.0.1 or turn login back on (AUTH_DISABLED=0)"
    ]


def test_pages_show_sign_out_when_logged_in_and_it_works(secured):
    client = secured.test_client()
    log_in(client)
    page = client.get("/").get_data(as_text=True)
    assert "Sign out" in page
    form = re.search(
        r'<form method="post" action="([^"]+)"[^>]*>\s*<input type="hidden" name="csrf_token" '
        r'value="([^"]+)"',
        page,
    )
    assert form and form.group(1) == "/logout"
    assert client.post("/logout", data={"csrf_token": form.group(2)}).status_code == 302
    assert client.get("/").status_code == 302


def test_a_forged_form_post_gets_a_page_not_json(secured):
    client = secured.test_client()
    log_in(client)
    response = client.post("/account", data={"action": "create_token", "name": "x"})
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert "CSRF token is missing or wrong" in response.get_data(as_text=True)


def test_password_guessing_is_stopped_per_address(secured):
    from app.auth import throttle

    client = secured.test_client()
    guesser = {"REMOTE_ADDR": "198.51.100.7"}
    for _ in range(throttle.LIMIT):
        assert (
            client.post("/api/tokens", json={"name": "x"}, auth=("admin", "guess"), environ_base=guesser).status_code
            == 401
        )
    right = client.post("/api/tokens", json={"name": "x"}, auth=("admin", PASSWORD), environ_base=guesser)
    assert right.status_code == 429 and "too many failed logins" in right.get_json()["error"]
    page = client.get("/login", environ_base=guesser).get_data(as_text=True)
    blocked = client.post(
        "/login", environ_base=guesser, data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_from(page)}
    )
    assert blocked.status_code == 429 and "Too many failed logins" in blocked.get_data(as_text=True)
    # Another address is not affected.
    assert client.post("/api/tokens", json={"name": "y"}, auth=("admin", PASSWORD)).status_code == 201


def test_with_login_off_only_this_machine_gets_in(client):
    assert client.get("/api/jobs").status_code == 200
    assert client.get("/api/jobs", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    remote = client.get("/api/jobs", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert remote.status_code == 403 and "only this machine" in remote.get_json()["error"]
