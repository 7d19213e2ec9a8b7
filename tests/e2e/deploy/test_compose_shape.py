"""docker-compose.yml, Dockerfile and .env.example: the deployment's shape, checked by parsing."""

from __future__ import annotations

import copy
import re

import pytest

from tests.e2e.deploy.compose import FRAMESHIFT, env_example, environment, interpolate, load
from tests.support import REDIS_SETTINGS, ROOT

ENV = {"REDIS_PASSWORD": "pw123", "SHARED_TOKEN": "s" * 32, "FLOWER_BASIC_AUTH": "ops:secret"}


@pytest.fixture(scope="module")
def compose():
    return interpolate(load(), ENV)


def option(command: list[str], name: str) -> str | None:
    for i, arg in enumerate(command):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(command):
            return command[i + 1]
    return None


def test_services_and_healthchecks(compose):
    services = compose["services"]
    assert set(services) == {"redis", *FRAMESHIFT}
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
    assert services["web"]["command"][:3] == ["gunicorn", "-c", "gunicorn.conf.py"]
    assert services["monitor"]["command"] == ["flask", "--app", "app", "monitor"]
    assert services["flower"]["command"][:4] == ["celery", "-A", "tasks", "flower"]
    for name in ("follower1", "follower2"):
        assert services[name]["command"][:4] == ["celery", "-A", "tasks", "worker"]
        assert "-E" in services[name]["command"], "followers must send task events (the monitor needs them)"


def test_redis_runs_with_the_settings_make_run_gives_it(compose):
    command = compose["services"]["redis"]["command"]
    assert REDIS_SETTINGS and all(option(command, name) == value for name, value in zip(*[iter(REDIS_SETTINGS)] * 2))


def test_redis_has_a_password_and_everyone_uses_it(compose):
    redis = compose["services"]["redis"]
    assert option(redis["command"], "--requirepass") == "pw123"
    for name in FRAMESHIFT:
        url = environment(compose["services"][name])["REDIS_URL"]
        assert url == "redis://:pw123@redis:6379/0", name
        assert compose["services"][name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_one_media_folder_at_the_same_path_and_persistent_leader_data(compose):
    services = compose["services"]
    mounts = {name: [v for v in services[name]["volumes"] if v.endswith(":/media")] for name in FRAMESHIFT}
    assert mounts["flower"] == []  # Flower never opens media
    media = {tuple(m) for name, m in mounts.items() if name != "flower"}
    assert media == {("./media:/media",)}
    for name in FRAMESHIFT:
        env = environment(services[name])
        assert env["FRAME_SHIFT_HOME"] == "/media" and env["SHARED_TOKEN"] == "s" * 32
    for name in ("web", "monitor"):
        assert "leader-data:/data" in services[name]["volumes"] and environment(services[name])["DATA_DIR"] == "/data"
    assert "leader-data" in compose["volumes"] and "redis-data" in compose["volumes"]


def test_followers_have_their_own_concurrency_and_threads(compose):
    one, two = compose["services"]["follower1"], compose["services"]["follower2"]
    assert option(one["command"], "--concurrency") != option(two["command"], "--concurrency")
    assert environment(one)["FFMPEG_THREADS"] != environment(two)["FFMPEG_THREADS"]
    assert one["hostname"] != two["hostname"] and option(one["command"], "-n") == "follower@%h"


def test_adding_a_follower_is_copying_one_block():
    raw = (ROOT / "docker-compose.yml").read_text()
    block = re.search(r"\n  follower2:\n(?:    .*\n|\n)+?(?=\n\S|\n  \S)", raw).group(0)
    grown = raw.replace(block, block + block.replace("follower2", "follower3"))
    services = interpolate(__import__("yaml").safe_load(grown), ENV)["services"]
    three, two = copy.deepcopy(services["follower3"]), copy.deepcopy(services["follower2"])
    assert three.pop("hostname") == "follower3" and two.pop("hostname") == "follower2"
    assert three == two  # same image, command, env, media, healthcheck: only the name differs


def test_flower_login_from_the_environment_and_linked_from_the_ui(compose):
    flower = compose["services"]["flower"]
    assert environment(flower)["FLOWER_BASIC_AUTH"] == "ops:secret"
    assert environment(compose["services"]["web"])["FLOWER_URL"]
    with pytest.raises(KeyError, match="FLOWER_BASIC_AUTH"):
        interpolate(load(), {k: v for k, v in ENV.items() if k != "FLOWER_BASIC_AUTH"})


def test_dockerfile_is_debian_with_ffmpeg_requirements_and_a_user():
    text = (ROOT / "Dockerfile").read_text()
    base = re.findall(r"^FROM (\S+)", text, re.M)[-1]  # the image that runs (earlier stages only build)
    assert base.startswith("python:3.11") and "bookworm" in base  # Debian 12
    assert re.search(r"apt-get install [^\n]*\bffmpeg\b", text)
    assert "pip install --require-hashes --no-deps -r requirements.txt" in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    for needed in ("gunicorn.conf.py", "scripts/healthcheck.py", "celeryconfig.py", "migrations"):
        assert (ROOT / needed).exists(), needed
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and "data/" in ignored and "migrations" not in ignored


def test_env_example_lists_every_variable_the_code_reads():
    from app.config import DEFAULTS

    sources = ["celeryconfig.py", "gunicorn.conf.py", "scripts/run.py", *map(str, (ROOT / "tasks").glob("*.py"))]
    read = set(DEFAULTS)
    pattern = re.compile(r"""(?:environ|env)(?:\.get|\.setdefault)?[(\[]\s*["']([A-Z][A-Z0-9_]+)["']""")
    for source in sources:
        read |= set(pattern.findall((ROOT / source).read_text()))
    read -= {"PATH", "PYTHONPATH", "PYTHONUNBUFFERED", "HOSTNAME"}  # set by the system, not by Frame Shift
    compose_vars = set(re.findall(r"\$\{(\w+)", (ROOT / "docker-compose.yml").read_text()))
    listed = env_example()
    missing = sorted((read | compose_vars) - set(listed))
    assert not missing, f".env.example does not list {missing}"
    for key, default in DEFAULTS.items():
        if default and key in listed and listed[key]:
            assert listed[key] == default, f".env.example shows {key}={listed[key]}, the code defaults to {default}"


def test_web_and_flower_are_published_on_loopback_unless_the_operator_says_otherwise():
    default = interpolate(load(), ENV)["services"]
    assert default["web"]["ports"] == ["127.0.0.1:5000:5000"]
    assert default["flower"]["ports"] == ["127.0.0.1:5555:5555"]
    assert all("ports" not in default[name] for name in ("redis", "monitor", "follower1", "follower2"))
    wide = interpolate(load(), {**ENV, "WEB_BIND": "0.0.0.0", "FLOWER_BIND": "192.168.1.20", "WEB_PORT": "8080"})
    assert wide["services"]["web"]["ports"] == ["0.0.0.0:8080:5000"]
    assert wide["services"]["flower"]["ports"] == ["192.168.1.20:5555:5555"]
    listed = env_example()
    assert listed["WEB_BIND"] == listed["FLOWER_BIND"] == "127.0.0.1"


def test_the_locks_pin_every_package_with_hashes_and_cover_what_we_ask_for():
    """requirements*.txt are compiled locks: every entry is name==version with at least one hash, and every
    package named in the matching .in file is in it at the version asked for."""
    for lock, wanted in (("requirements.txt", "requirements.in"), ("requirements-dev.txt", "requirements-dev.in")):
        entries = {}
        for block in (ROOT / lock).read_text().split("\n"):
            line = block.strip()
            if line and not line.startswith(("#", "--hash")) and "==" in line:
                name, version = line.rstrip(" \\").split("==")
                entries[name.split("[")[0].lower().replace("_", "-")] = version
        text = (ROOT / lock).read_text()
        assert text.count("==") == len(entries) and text.count("--hash=sha256:") >= len(entries), lock
        for raw in (ROOT / wanted).read_text().splitlines():
            line = raw.split("#")[0].strip()
            if not line or line.startswith("-r"):
                continue
            name, version = line.split("==")
            key = name.split("[")[0].lower().replace("_", "-")
            assert entries.get(key) == version, (lock, key, entries.get(key), version)
