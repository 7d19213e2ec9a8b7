"""Libraries at scale: a library of 100,000 distinct files on one leader and two followers.

    python bench/library_scale.py [--quick] [--files N] [--keep]

A private Frame Shift (bench/harness.System): redis-server, two followers (`-c 1`), the monitor and the
web under gunicorn. The library is copies of a few hundred short real clips (two thirds H.264 in MP4,
one third HEVC in MKV, 1-3 s, several sizes), each copy with 16 unique trailing bytes, so no two files
share an inode or their content; 100 files a folder, folders two deep (show_NNN/season_N). Every file's
mtime is set two days back, as in a library that already exists (a fresh mtime would be held for
LIBRARY_HOLD_SECONDS first). The queue is paused before the library is created, so what is measured is
finding and probing, not converting: the spec is libx265 8-bit in MKV with the default rules, so the H.264
copies are queued (and wait) and the HEVC copies are skipped once their facts are in.

Figures: time from POST /api/libraries to the first queued job; to a complete scan (every file
decided: none pending, facts for every file); files probed per second (first fact to last); the
leader's CPU seconds (monitor, web, redis) and its peak RSS during the scan; the Libraries page and
the Files page (a 100-file folder, with the facts columns) medians afterwards; then a rescan of the
unchanged library: its time and the number of files probed again (target 0).
--quick: 5,000 files from 30 clips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Api, Result, System, db_time, make_clip, median, parse_args  # noqa: E402
from bench.report import cpu_seconds, rss_mb  # noqa: E402

SPEC = {"video_codec": "libx265", "container": "mkv", "bit_depth": 8}
PER_FOLDER = 100
SIZES = ("160x120", "320x240", "640x360")


def make_bases(folder: Path, count: int) -> list[bytes]:
    """Encode `count` short clips (two thirds H.264/MP4, one third HEVC/MKV) and return their bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    bases = []
    for n in range(count):
        size, seconds = SIZES[n % len(SIZES)], 1 + n % 3
        if n % 3 == 2:
            path = folder / f"base{n}.mkv"
            make_clip(folder / f"tmp{n}.mp4", seconds=seconds, size=size)
            argv = ["ffmpeg", "-v", "error", "-y", "-i", str(folder / f"tmp{n}.mp4"), "-c:v", "libx265"]
            argv += ["-preset", "ultrafast", "-x265-params", "log-level=error", "-c:a", "copy", str(path)]
            subprocess.run(argv, check=True)
        else:
            path = make_clip(folder / f"base{n}.mp4", seconds=seconds, size=size)
        bases.append(path.read_bytes())
    return bases


def make_library(root: Path, files: int, bases: list[bytes]) -> tuple[int, int]:
    """Write the library; return (H.264 copies, total bytes)."""
    old = time.time() - 2 * 86400
    h264 = total = 0
    for i in range(files):
        folder = root / f"show_{i // (PER_FOLDER * 5):04d}" / f"season_{(i // PER_FOLDER) % 5}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True, exist_ok=True)
        base = i % len(bases)
        hevc = base % 3 == 2
        path = folder / f"episode_{i:06d}.{'mkv' if hevc else 'mp4'}"
        data = bases[base] + b"FS-BENCH-%08d" % i
        path.write_bytes(data)
        os.utime(path, (old, old))
        h264 += not hevc
        total += len(data)
    return h264, total


def tree_pids(pid: int) -> list[int]:
    """Return pid and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        proc = todo.pop()
        found.append(proc)
        todo += children.get(proc, [])
    return found


class Leader:
    """Samples the leader's processes (monitor, web tree, redis): CPU seconds and peak RSS."""

    def __init__(self, system: System) -> None:
        self.roots = [system.monitor.proc.pid, system.web.proc.pid, system.redis_server.proc.pid]
        self.cpu0 = self.cpu()
        self.peak_rss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def pids(self) -> list[int]:
        return [p for root in self.roots for p in tree_pids(root)]

    def cpu(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                total += cpu_seconds(pid)
            except OSError:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            rss = 0.0
            for pid in self.pids():
                try:
                    rss += rss_mb(pid)
                except OSError:
                    continue
            self.peak_rss = max(self.peak_rss, rss)

    def stop(self) -> float:
        """Stop sampling; return the CPU seconds used since the start."""
        self._stop.set()
        self._thread.join()
        return self.cpu() - self.cpu0


def counts(system: System, library_id: int) -> dict[str, int]:
    """Library files by state, facts read, library jobs."""
    seen = dict(
        system.query("SELECT state, count(*) FROM library_files WHERE library_id = ? GROUP BY state", (library_id,))
    )
    seen["facts"] = system.query("SELECT count(*) FROM media_facts")[0][0]
    seen["jobs"] = system.query("SELECT count(*) FROM jobs")[0][0]
    return seen


def page_medians(api: Api, paths: dict[str, str], runs: int) -> dict[str, float]:
    """Median milliseconds of each GET (one warm-up request first)."""
    out = {}
    for name, url in paths.items():
        status, body, _ = api.request("GET", url)
        if status != 200:
            raise RuntimeError(f"GET {url} answered {status}: {body[:300]!r}")
        out[name] = median([api.request("GET", url)[2] * 1000 for _ in range(runs)])
    return out


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], files={"type": int, "default": None, "help": "files in the library"})
    files = args.files or (5_000 if args.quick else 100_000)
    base_count = 30 if args.quick else 300
    result = Result(
        "library_scale",
        args.quick,
        1,
        setup=f"{files:,} files ({base_count} base clips, 1-3 s, 160x120 to 640x360; 2/3 H.264 MP4, 1/3 HEVC MKV; "
        f"16 unique trailing bytes each), {PER_FOLDER} a folder; two followers -c 1, monitor, gunicorn web, redis "
        "on this machine; queue paused; spec libx265 8-bit MKV, default rules",
    )
    with System("library", keep=args.keep) as system:
        started = time.time()
        bases = make_bases(system.tmp / "bases", base_count)
        h264, total = make_library(system.media / "library", files, bases)
        print(f"library written: {files:,} files, {total / 1e9:.2f} GB in {time.time() - started:.0f} s", flush=True)
        os.sync()
        system.start_workers(["w1", "w2"], concurrency=1)
        api = system.start_web()
        system.start_monitor(wait_online=2)
        status, body, _ = api.request("POST", "/api/queue/pause")
        if status != 200:
            raise RuntimeError(f"could not pause the queue: {body[:300]!r}")
        leader = Leader(system)
        created = time.time()
        status, body, _ = api.request(
            "POST", "/api/libraries", {"name": "Bench", "folder": str(system.media / "library"), "spec": SPEC}
        )
        if status != 201:
            raise RuntimeError(f"POST /api/libraries answered {status}: {body[:500]!r}")
        library_id = json.loads(body)["id"]
        first_job = first_fact = None
        deadline = created + (3600 if not args.quick else 900)
        while time.time() < deadline:
            now = time.time()
            seen = counts(system, library_id)
            if first_job is None and seen["jobs"]:
                first_job = db_time(system.query("SELECT min(created_at) FROM jobs")[0][0]) - created
                print(f"first job queued after {first_job:.2f} s", flush=True)
            if first_fact is None and seen["facts"]:
                first_fact = db_time(system.query("SELECT min(probed_at) FROM media_facts")[0][0])
            decided = sum(n for state, n in seen.items() if state in ("queued", "skipped", "converted", "failed"))
            if decided >= files and seen["facts"] >= files and not seen.get("pending"):
                break
            if int(now - created) % 30 == 0:
                print(f"{now - created:6.0f} s  {seen}", flush=True)
            time.sleep(1)
        else:
            raise RuntimeError(f"scan not complete after {deadline - created:.0f} s: {counts(system, library_id)}")
        scan_done = time.time() - created
        last_fact = db_time(system.query("SELECT max(probed_at) FROM media_facts")[0][0])
        leader_cpu = leader.stop()
        final = counts(system, library_id)
        probed_per_s = files / max(last_fact - first_fact, 1e-3)
        print(f"scan complete after {scan_done:.1f} s: {final}", flush=True)
        if final.get("queued") != h264 or final.get("skipped") != files - h264:
            raise RuntimeError(f"expected {h264} queued and {files - h264} skipped (already HEVC 8-bit MKV): {final}")

        folder = quote(str(system.media / "library" / "show_0000" / "season_0"))
        pages = page_medians(
            api,
            {
                "Libraries page": "/libraries/",
                "GET /api/libraries": "/api/libraries",
                "Files page, a 100-file folder": f"/files?path={folder}",
                "GET /api/files, a 100-file folder": f"/api/files?path={folder}",
                "Files page, the library's top folder": f"/files?path={quote(str(system.media / 'library'))}",
            },
            runs=5 if args.quick else 15,
        )
        before = system.query("SELECT count(*), max(probed_at) FROM media_facts")[0]
        last_scan = system.query("SELECT last_scan_at FROM libraries WHERE id = ?", (library_id,))[0][0]
        asked = time.time()
        api.request("POST", f"/api/libraries/{library_id}/rescan", {})
        while system.query("SELECT last_scan_at FROM libraries WHERE id = ?", (library_id,))[0][0] == last_scan:
            if time.time() - asked > 600:
                raise RuntimeError("the rescan did not finish in 600 s")
            time.sleep(0.2)
        rescan = time.time() - asked
        after = system.query("SELECT count(*), max(probed_at) FROM media_facts WHERE probed_at > ?", (before[1],))[0]

        result.add("time to the first queued job", first_job, "s", "<= 10", first_job is not None and first_job <= 10)
        result.add("full scan with probes", scan_done, "s", "< 600", scan_done < 600)
        result.add("files probed per second", probed_per_s, "files/s", ">= 170", probed_per_s >= 170)
        result.add("leader CPU during the scan", leader_cpu, "s", note="monitor + web + redis")
        result.add("leader peak RSS during the scan", leader.peak_rss, "MiB", note="monitor + web + redis")
        for name, ms in pages.items():
            result.add(f"{name}, median", ms, "ms", "< 100", ms < 100)
        result.add("rescan of the unchanged library", rescan, "s", "< 30", rescan < 30)
        result.add("files probed again by the rescan", after[0], "", "0", after[0] == 0)
        result.details = {"files": files, "h264": h264, "bytes": total, "final": final, "pages_ms": pages}
        if not args.keep:
            shutil.rmtree(system.media, ignore_errors=True)
    result.save()


if __name__ == "__main__":
    main()
