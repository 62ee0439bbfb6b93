"""Built-in layouts: mapping files (TOML, owabi.records.mapping) for the exports people actually have,
chosen with `owabi import FILE --layout NAME`, and matched against a file's header when none is given.

A file whose header set is exactly a layout's is read with it; a near match is only suggested, with its
differences, because a wrong guess would file a column under the wrong fact without anyone looking.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from owabi.records import columns
from owabi.records.mapping import Mapping, parse_mapping
from owabi.records.readers import ImportFileError

# A layout is suggested when at least half of the file's headers, and at least three, are among its own;
# the closest one (most in common over both sets together) wins.
SUGGEST_COMMON = 3
SHOWN = 6  # differences listed in a suggestion


@cache
def _all() -> dict[str, Mapping]:
    layouts = {}
    for item in sorted(resources.files(__name__).iterdir(), key=lambda item: item.name):
        if item.name.endswith(".toml"):
            mapping = parse_mapping(item.name, item.read_text(encoding="utf-8"))
            if not mapping.headers:  # the standard layout: the standard columns by name
                mapping = Mapping(name=mapping.name, title=mapping.title, headers=columns.STANDARD)
            layouts[mapping.name] = mapping
    return layouts


def names() -> list[str]:
    return list(_all())


def get(name: str) -> Mapping:
    """The layout called `name`, or ImportFileError listing the ones there are."""
    try:
        return _all()[name]
    except KeyError:
        raise ImportFileError(f"no layout {name!r}; the layouts are: {', '.join(names())}") from None


@dataclass(frozen=True)
class Match:
    layout: Mapping
    common: int
    missing: tuple[str, ...]  # the layout's headers the file lacks
    unknown: tuple[str, ...]  # the file's headers the layout does not name

    @property
    def exact(self) -> bool:
        return not self.missing and not self.unknown

    def describe(self) -> str:
        """One line: which layout, how close, what differs (header names only)."""
        return (
            f"the header looks like layout {self.layout.name} ({self.layout.title}): "
            f"{self.describe_differences()}; use --layout {self.layout.name} to read it so"
        )

    def describe_differences(self) -> str:
        text = f"{self.common} of {self.common + len(self.missing)} of its headers"
        for label, names in (("missing", self.missing), ("not in the layout", self.unknown)):
            if names:
                more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
                text += f"; {label}: " + ", ".join(names[:SHOWN]) + more
        return text


def compare(header: list[str], layout: Mapping) -> Match:
    """How the header differs from the layout's headers."""
    keys = {columns.header_key(name): columns.clean(name) for name in header if name.strip()}
    wanted = {columns.header_key(name): name for name in layout.headers}
    missing = tuple(name for key, name in wanted.items() if key not in keys and key not in layout.optional)
    unknown = tuple(name for key, name in keys.items() if key not in wanted)
    return Match(layout, len(keys.keys() & wanted.keys()), missing, unknown)


def check_named(path_name: str, header: list[str], layout: Mapping) -> None:
    """ImportFileError when a layout named for the file has fewer than half of its headers there: the
    wrong layout would file the columns it does find under facts nobody looked at."""
    found = compare(header, layout)
    if found.common * 2 < found.common + len(found.missing):
        raise ImportFileError(
            f"{path_name}, line 1: the header is not layout {layout.name}'s ({found.describe_differences()})"
        )


def match(header: list[str]) -> Match | None:
    """The layout closest to the header (None when none has half of its headers; see SUGGEST_COMMON)."""
    best: tuple[float, Match] | None = None
    size = len({columns.header_key(name) for name in header if name.strip()})
    for layout in _all().values():
        found = compare(header, layout)
        score = found.common / (
            size + len({columns.header_key(name) for name in layout.headers}) - found.common
        )
        close = found.common >= SUGGEST_COMMON and found.common * 2 >= size
        if close and (best is None or score > best[0]):
            best = (score, found)
    return best[1] if best else None
