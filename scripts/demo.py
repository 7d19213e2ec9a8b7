"""The demo clip `make run` makes in an empty media folder, so that the README's first examples work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


DEMO = "demo.mp4"


def demo_clip(media: Path, ffmpeg: str = "ffmpeg") -> Path | None:
    """Make a short demo clip in an empty media folder (so the README's first examples work); return it, or None."""
    if any(media.iterdir()):
        return None
    if shutil.which(ffmpeg) is None:
        print(f"[run] the media folder {media} is empty and FFmpeg is missing: no demo clip made", flush=True)
        return None
    target = media / DEMO
    # A 10 s test pattern with a tone, made by FFmpeg's own lavfi sources: no download, no input file.
    guard = ["-protocol_whitelist", "file,pipe", "-format_whitelist", "lavfi"]
    argv = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-n",
        *guard, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=10",
        *guard, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=10",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", DEMO,
    ]  # fmt: skip
    # Like every FFmpeg we start: inside its boundary, writing only a private folder, moved into place after.
    sys.path.insert(0, str(ROOT))
    from tasks import sandbox

    folder = sandbox.private_folder(media / f".frameshift-demo-{os.getpid()}")
    try:
        done = sandbox.run(argv, workdir=folder, timeout=120)
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()[-300:]
            print(f"[run] could not make a demo clip in {media}: {err}", flush=True)
            return None
        os.replace(folder / DEMO, target)
    except (OSError, subprocess.SubprocessError, sandbox.SandboxError) as exc:
        print(f"[run] could not make a demo clip in {media}: {exc}", flush=True)
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"[run] the media folder {media} was empty: made {DEMO} (10 s test pattern with a tone) to try", flush=True)
    return target
