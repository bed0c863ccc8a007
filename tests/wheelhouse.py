"""Wheels of the distributions installed beside this interpreter, for a fresh virtual environment
to install offline (`pip install --no-index --find-links WHEELHOUSE`): what an index would
serve, made from what `make` already installed, so that an install test needs no network.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Iterable
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Written by the installer, not part of a wheel (RECORD is written anew).
INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def requirement_closure(requirements: Iterable[str]) -> list[Distribution]:
    """The installed distributions that `requirements` need, transitively: markers evaluated
    for this interpreter, each distribution's requirements read for the extras asked of it.
    Fails naming a requirement that nothing installed here satisfies."""
    found: dict[str, Distribution] = {}
    read: set[tuple[str, str]] = set()  # (distribution, extra; "" for its base requirements)
    pending = [(Requirement(text), "") for text in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        try:
            installed = distribution(requirement.name)
        except PackageNotFoundError:
            raise AssertionError(f"{requirement} is not installed here") from None
        if not requirement.specifier.contains(installed.version, prereleases=True):
            raise AssertionError(f"{requirement}: {installed.version} is installed here")
        name = canonicalize_name(installed.metadata["Name"])
        found[name] = installed
        for wanted in ("", *requirement.extras):
            if (name, wanted) not in read:
                read.add((name, wanted))
                pending += [(Requirement(text), wanted) for text in installed.requires or []]
    return [found[name] for name in sorted(found)]


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _tags(installed: Distribution) -> str:
    """The compressed tag set of the wheel `installed` came from (`py2.py3-none-any`)."""
    tags = [
        t.split("-") for t in re.findall(r"^Tag: (\S+)$", installed.read_text("WHEEL") or "", re.M)
    ]
    assert tags, f"{installed.metadata['Name']}: its WHEEL names no tag"
    return "-".join(".".join(sorted({tag[part] for tag in tags})) for part in range(3))


def repack(installed: Distribution, into: Path) -> Path:
    """A wheel of `installed` from its files in site-packages (scripts are made anew from its
    entry points; files installed outside site-packages are left out)."""
    paths = [
        path
        for path in installed.files or []
        if path.parts[0] != ".." and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    info = next(path.parts[0] for path in paths if path.parts[0].endswith(".dist-info"))
    name = canonicalize_name(installed.metadata["Name"]).replace("-", "_")
    wheel = into / f"{name}-{installed.version.replace('-', '_')}-{_tags(installed)}.whl"
    records: list[str] = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:  # stored: quick to write
        for path in paths:
            source = Path(str(installed.locate_file(path)))
            if path.parts == (info, path.name) and path.name in INSTALLER_FILES:
                continue
            if not source.is_file():
                continue
            data = source.read_bytes()
            archive.writestr(path.as_posix(), data)
            records.append(f"{path.as_posix()},{_digest(data)},{len(data)}")
        records.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return wheel


def wheelhouse(requirements: Iterable[str], into: Path) -> list[Path]:
    """Wheels, in `into`, of every installed distribution that `requirements` need."""
    into.mkdir(parents=True, exist_ok=True)
    return [repack(installed, into) for installed in requirement_closure(requirements)]
