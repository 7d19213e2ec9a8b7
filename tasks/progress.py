"""Parse FFmpeg's `-progress` key=value blocks into the figures the UI shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Progress:
    """One progress report, computed from a block and the input's duration."""

    percent: float
    out_time: float
    frame: int
    fps: float
    speed: float | None
    eta: float | None
    out_size: int
    done: bool

    def to_dict(self) -> dict:
        """Return plain JSON values."""
        return asdict(self)


def _number(value: str | None, kind: type = float) -> float:
    if value is None:
        return 0
    text = value.strip().rstrip("x").strip()
    if text in ("", "N/A"):
        return 0
    try:
        return kind(float(text))
    except ValueError:
        return 0


# FFmpeg's speed is encoded time over wall time since it started; in the first second an encoder that
# fills its look-ahead reports several times its real speed, so an ETA then would read "0 s" for a long
# encode. Wall time is out_time / speed: no ETA until the encode has run this long.
ETA_SETTLE_SECONDS = 1.5


def parse_block(block: dict[str, str], duration: float | None) -> Progress:
    """Turn one block (ending in progress=continue|end) into a Progress."""
    out_us = _number(block.get("out_time_us") or block.get("out_time_ms"), int)
    out_time = max(out_us / 1_000_000, 0.0)
    done = block.get("progress") == "end"
    speed_text = (block.get("speed") or "").strip()
    speed = _number(speed_text) if speed_text not in ("", "N/A") else None
    if done:
        percent = 100.0
    elif duration and duration > 0:
        percent = min(99.9, max(0.0, 100.0 * out_time / duration))
    else:
        percent = 0.0
    eta = None
    if duration and speed and speed > 0 and not done and out_time / speed >= ETA_SETTLE_SECONDS:
        eta = max(0.0, (duration - out_time) / speed)
    return Progress(
        percent=round(percent, 2),
        out_time=round(out_time, 3),
        frame=int(_number(block.get("frame"), int)),
        fps=round(_number(block.get("fps")), 2),
        speed=round(speed, 3) if speed is not None else None,
        eta=round(eta, 1) if eta is not None else (0.0 if done else None),
        out_size=int(_number(block.get("total_size"), int)),
        done=done,
    )


class ProgressParser:
    """Feed lines; get a Progress each time a block ends."""

    def __init__(self, duration: float | None) -> None:
        self.duration = duration
        self._block: dict[str, str] = {}

    def feed(self, line: str) -> Progress | None:
        """Add one line; return a Progress when it closes a block."""
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        self._block[key.strip()] = value.strip()
        if key.strip() != "progress":
            return None
        block, self._block = self._block, {}
        return parse_block(block, self.duration)
