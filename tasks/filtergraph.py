"""Parse FFmpeg filtergraph strings with FFmpeg's own quoting and escaping rules.

This module only reads a graph; it decides nothing. It follows libavfilter's graph parser
(`avfilter_graph_parse2`) and libavutil's `av_get_token`/`av_opt_get_key_value`, so a name
or value is seen exactly as FFmpeg will see it:

- graph level: `[label]` link labels, filters separated by `,`, chains by `;`, a filter is
  `name[@id][=arguments]`; the name and the arguments are each read with `av_get_token`, which
  drops `\\` before any character and the quotes of `'...'` (so `mo\\vie`, `mo''vie` and
  `'movie'` all name the filter `movie`);
- option level: the arguments are split into `key=value` or positional values at `:`, and each
  value is read with `av_get_token` again (the second level of escaping). Keys are not unescaped
  there: a key is `[A-Za-z0-9_./-]*` (FFmpeg 6.1+ reads an option's value from a file when its
  key starts with `/`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

WHITESPACE = " \n\t\r"


class GraphError(ValueError):
    """The text is not a filtergraph FFmpeg could read."""


@dataclass(frozen=True)
class Filter:
    """One filter of a graph, as FFmpeg reads it."""

    written: str  # the name exactly as typed, quotes and backslashes included
    name: str  # the name FFmpeg looks up (before any @instance)
    instance: str | None  # the @id part, if any
    arguments: str | None  # after the graph level of unescaping, None without '='
    options: list[tuple[str | None, str]] = field(default_factory=list)  # (key or None, value)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Graph:
    """A parsed filtergraph: the optional leading sws_flags and the filters in order."""

    sws_flags: str | None
    filters: list[Filter]


def skip_whitespace(text: str, pos: int) -> int:
    """Return the position of the first non-whitespace character at or after pos."""
    while pos < len(text) and text[pos] in WHITESPACE:
        pos += 1
    return pos


def get_token(text: str, pos: int, terms: str) -> tuple[str, int]:
    """Read one token from pos like av_get_token; return (unescaped token, position of its end)."""
    pos = skip_whitespace(text, pos)
    out: list[str] = []
    protected = 0  # characters up to here were escaped or quoted: never stripped as whitespace
    while pos < len(text) and text[pos] not in terms:
        char = text[pos]
        pos += 1
        if char == "\\" and pos < len(text):
            out.append(text[pos])
            pos += 1
            protected = len(out)
        elif char == "'":
            while pos < len(text) and text[pos] != "'":
                out.append(text[pos])
                pos += 1
            if pos < len(text):
                pos += 1
                protected = len(out)
        else:
            out.append(char)
    while len(out) > protected and out[-1] in WHITESPACE:
        out.pop()
    return "".join(out), pos


def is_key_char(char: str) -> bool:
    """Return True for the characters FFmpeg accepts in an option key."""
    return (char.isascii() and char.isalnum()) or char in "-_/."


def read_key(text: str, pos: int) -> tuple[str | None, int]:
    """Read `key=` at pos like FFmpeg's get_key; return (None, pos) when there is no key."""
    start = skip_whitespace(text, pos)
    end = start
    while end < len(text) and is_key_char(text[end]):
        end += 1
    after = skip_whitespace(text, end)
    if after < len(text) and text[after] == "=":
        return text[start:end], after + 1
    return None, pos


def parse_options(arguments: str) -> list[tuple[str | None, str]]:
    """Split filter arguments into (key, value) pairs like FFmpeg's process_options; key None = positional."""
    options: list[tuple[str | None, str]] = []
    pos = 0
    while pos < len(arguments):
        key, pos = read_key(arguments, pos)
        value, pos = get_token(arguments, pos, ":")
        if pos < len(arguments):
            pos += 1  # the ':' between options
        options.append((key, value))
    return options


def parse_labels(text: str, pos: int) -> tuple[list[str], int]:
    """Read `[label]` link labels at pos (each read with av_get_token up to ']')."""
    labels: list[str] = []
    while pos < len(text) and text[pos] == "[":
        start = pos
        label, pos = get_token(text, pos + 1, "]")
        if not label:
            raise GraphError(f"empty link label in {text[start:]!r}")
        if pos >= len(text):
            raise GraphError(f"'[' without a matching ']' in {text[start:]!r}")
        labels.append(label)
        pos = skip_whitespace(text, pos + 1)
    return labels, pos


def split_instance(name: str) -> tuple[str, str | None]:
    """Split `name@id` into the filter name and the instance id (the first '@' counts)."""
    if "@" in name:
        base, instance = name.split("@", 1)
        return base, instance
    return name, None


def parse_filter(text: str, pos: int) -> tuple[Filter, int]:
    """Read `[in]name@id=arguments[out]` at pos."""
    inputs, pos = parse_labels(text, pos)
    start = skip_whitespace(text, pos)
    raw_name, pos = get_token(text, pos, "=,;[")
    written = text[start:pos].rstrip(WHITESPACE)
    if not raw_name:
        raise GraphError(f"a filter name is missing at {text[start:]!r}" if text[start:] else "a filter is missing")
    arguments = None
    if pos < len(text) and text[pos] == "=":
        arguments, pos = get_token(text, pos + 1, "[],;")
    outputs, pos = parse_labels(text, skip_whitespace(text, pos))
    name, instance = split_instance(raw_name)
    options = parse_options(arguments) if arguments else []
    return Filter(written, name, instance, arguments, options, inputs, outputs), pos


def parse_graph(text: str) -> Graph:
    """Parse a whole filtergraph like avfilter_graph_parse2, raising GraphError where FFmpeg would fail."""
    if "\x00" in text:
        raise GraphError("contains a NUL character")
    pos = skip_whitespace(text, 0)
    sws_flags = None
    if text.startswith("sws_flags=", pos):
        end = text.find(";", pos)
        if end < 0:
            raise GraphError("sws_flags= must end with ';'")
        sws_flags, pos = text[pos + len("sws_flags=") : end], end + 1
    filters: list[Filter] = []
    while True:
        found, pos = parse_filter(text, skip_whitespace(text, pos))
        filters.append(found)
        pos = skip_whitespace(text, pos)
        if pos >= len(text):
            return Graph(sws_flags, filters)
        if text[pos] not in ",;":
            raise GraphError(f"cannot read the filter graph from {text[pos:]!r}")
        pos += 1
