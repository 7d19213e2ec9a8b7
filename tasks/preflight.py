"""A follower's settings checked when the worker starts, one clear line per problem."""

from __future__ import annotations

import shutil
import sys

from tasks import sandbox
from tasks.paths import inside, parse_roots

WHOLE = (
    "FFMPEG_THREADS",
    "FFMPEG_DECODER_THREADS",
    "FFMPEG_ENCODER_THREADS",
    "JOB_LEASE_SECONDS",
)


def celery_problems(env: dict[str, str]) -> list[str]:
    """Check the Celery settings celeryconfig.py reads; leader and followers must both start with good ones."""
    problems = []
    for key in ("CELERY_VISIBILITY_TIMEOUT", "CELERY_RESULT_EXPIRES"):
        value = env.get(key)
        if value not in (None, "") and not value.isdigit():
            problems.append(f"{key}={value!r}: must be a whole number of seconds >= 0")
    problems.extend(positive_seconds(env, "CELERY_UNACKED_RESTORE_INTERVAL"))
    return problems


def positive_seconds(env: dict[str, str], key: str) -> list[str]:
    """A problem when env[key] is set but is not a number of seconds above 0."""
    value = env.get(key)
    if value in (None, ""):
        return []
    try:
        if float(value) > 0:
            return []
    except ValueError:
        pass
    return [f"{key}={value!r}: must be a number of seconds above 0"]


def redis_url_problems(env: dict[str, str]) -> list[str]:
    """A problem when REDIS_URL is not a Redis address."""
    url = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if url.startswith(("redis://", "rediss://", "unix://")):
        return []
    return [f"REDIS_URL={url!r}: must start with redis://, rediss:// or unix://"]


def follower_problems(env: dict[str, str]) -> list[str]:
    """Return what is wrong with a follower's environment (empty when it may start)."""
    problems = secret_problems(
        env, token_fix="set the same long random value as on the leader (make run and docker-compose pass it for you)"
    )
    roots_text = env.get("MEDIA_ROOTS") or env.get("FRAME_SHIFT_HOME") or ""
    roots = parse_roots(roots_text)
    if not roots:
        problems.append(
            "no media folder: set FRAME_SHIFT_HOME (or MEDIA_ROOTS) to the shared media path, "
            "the same path the leader uses"
        )
    for root in roots:
        if not root.is_dir():
            problems.append(
                f"media folder {root} does not exist here: mount the shared media at the same path as "
                "on the leader, or fix FRAME_SHIFT_HOME/MEDIA_ROOTS"
            )
    problems.extend(path_map_problems(env.get("FOLLOWER_PATH_MAP") or "", roots))
    problems.extend(redis_url_problems(env))
    for key in WHOLE:
        value = env.get(key)
        if value not in (None, "") and not (value.isdigit()):
            problems.append(f"{key}={value!r}: must be a whole number >= 0")
    problems.extend(celery_problems(env))
    problems.extend(positive_seconds(env, "PROGRESS_INTERVAL"))
    for key, default in (("FFMPEG_BIN", "ffmpeg"), ("FFPROBE_BIN", "ffprobe")):
        binary = env.get(key) or default
        if shutil.which(binary) is None:
            problems.append(f"{key}: {binary!r} was not found: install FFmpeg (apt-get install ffmpeg) or set {key}")
    dsn = env.get("SENTRY_DSN", "")
    if dsn and not dsn.startswith(("http://", "https://")):
        problems.append(f"SENTRY_DSN={dsn!r}: must be the https://KEY@HOST/PROJECT address from your Sentry project")
    problems.extend(sandbox_problems(env))
    return problems


def sandbox_problems(env: dict[str, str]) -> list[str]:
    """A problem when FFmpeg cannot run inside its kernel boundary here (leader and follower alike)."""
    problem = sandbox.startup_problem(env)
    return [problem] if problem else []


MIN_SECRET = 16
# The example values of .env.example are public, so an unedited .env must not start anything
# (tests/e2e/deploy/test_secrets.py checks every secret in that file is refused).
PLACEHOLDER_MARKS = ("change-me", "changeme", "change_me")
MAKE_ONE = "choose a long random value of your own (e.g. `openssl rand -hex 24`)"


def _placeholder(secret: str) -> bool:
    return any(mark in secret.lower() for mark in PLACEHOLDER_MARKS)


def _weakness(secret: str) -> str | None:
    """Why a secret may not be used, or None when it may (the secret itself is never echoed)."""
    if _placeholder(secret):
        return "is the example value from .env.example, which anyone can read"
    if len(secret) < MIN_SECRET:
        return f"is shorter than {MIN_SECRET} characters"
    return None


def secret_problems(env: dict[str, str], token_fix: str | None = None) -> list[str]:
    """Refuse placeholder and short secrets: SHARED_TOKEN, Redis's password, Flower's passwords.

    Each is checked when set; SHARED_TOKEN must be set when token_fix (how to set it) is given.
    """
    problems = []
    token = env.get("SHARED_TOKEN", "")
    if _placeholder(token):
        problems.append(f"SHARED_TOKEN {_weakness(token)}: {MAKE_ONE}, the same on the leader and every follower")
    elif len(token) < MIN_SECRET and (token or token_fix):
        problems.append(
            f"SHARED_TOKEN is missing or shorter than {MIN_SECRET} characters: "
            + (token_fix or "set the same long random value on the leader and every follower")
        )
    redis_password = env.get("REDIS_PASSWORD", "")
    url_password = _url_password(env.get("REDIS_URL", ""))
    for name, secret in (("REDIS_PASSWORD", redis_password), ("the password in REDIS_URL", url_password)):
        if secret and not (name != "REDIS_PASSWORD" and secret == redis_password) and _weakness(secret):
            problems.append(f"{name} {_weakness(secret)}: {MAKE_ONE}, using only letters, digits, - and _")
    for number, pair in enumerate(filter(None, env.get("FLOWER_BASIC_AUTH", "").split(",")), 1):
        user, sep, password = pair.partition(":")
        if sep and user and password and _weakness(password):
            problems.append(f"FLOWER_BASIC_AUTH entry {number}: the password {_weakness(password)}: {MAKE_ONE}")
    return problems


def _url_password(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    try:
        return unquote(urlsplit(url).password or "")
    except ValueError:
        return ""


def flower_problems(env: dict[str, str]) -> list[str]:
    """Check what `celery -A tasks flower` needs: the broker's address, the Celery settings and a login."""
    problems = redis_url_problems(env)
    problems.extend(celery_problems(env))
    auth = env.get("FLOWER_BASIC_AUTH", "")
    if not auth:
        problems.append(
            "FLOWER_BASIC_AUTH is not set: Flower shows every task and can stop workers, so it needs a login; "
            "set FLOWER_BASIC_AUTH=user:password (make run sets one for you)"
        )
    for number, pair in enumerate(filter(None, auth.split(",")), 1):
        user, sep, password = pair.partition(":")
        if not sep or not user or not password:  # the entry itself is not shown: it may be a password
            problems.append(f"FLOWER_BASIC_AUTH entry {number} is not user:password (several: user:pw,user2:pw2)")
    return problems + secret_problems(env)


def refuse_bad_flower_settings(env: dict[str, str]) -> None:
    """Stop Flower with one line per problem before it starts (called from flowerconfig.py, Flower's own hook)."""
    problems = flower_problems(env)
    for problem in problems:
        print(f"frameshift flower: configuration problem: {problem}", file=sys.stderr, flush=True)
    if problems:
        raise SystemExit(2)


def path_map_problems(value: str, roots: list) -> list[str]:
    """Check FOLLOWER_PATH_MAP: 'LEADER_FOLDER=LOCAL_FOLDER;...', absolute paths, local side inside the media roots."""
    problems = []
    for item in value.split(";"):
        if not item.strip():
            continue
        leader, sep, local = (part.strip() for part in item.partition("="))
        if not sep or not leader.startswith("/") or not local.startswith("/"):
            problems.append(
                f"FOLLOWER_PATH_MAP entry {item!r}: write LEADER_FOLDER=LOCAL_FOLDER with two absolute "
                "paths, entries separated by ';'"
            )
            continue
        resolved = parse_roots(local)[0]
        if roots and not inside(resolved, roots):
            problems.append(
                f"FOLLOWER_PATH_MAP maps {leader} to {local}, which is outside this follower's media "
                f"folders ({', '.join(map(str, roots))}): every job would be refused"
            )
    return problems
