"""What one volume holds, and the files archiver makes for it.

A volume stands alone: its packages exactly as in the archive (bag folders and their
labels), and beside them, made for it in a staging folder outside the archive:

- ``index.json``: an ``archiver.index/1`` index of the packages on the volume (the
  archive's own index functions, so ``archiver check`` and the site read it as theirs);
- ``site/``: the lookup site made from that index, plus ``site/catalogue/``, the whole
  set's catalogue (:mod:`archiver.media.catalogue`);
- ``README.txt`` (Vietnamese, English): what is on it and how to check it by hand;
- ``media.json``: the set, this volume's number, what every volume of the set holds;
- ``kiem_tra.py``: a standard-library Python script that checks the volume alone;
- ``SHA256SUMS``: every file of the volume but itself, as ``sha256sum -c`` reads it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .. import __version__
from ..archive.bag import file_digests, read_manifest
from ..archive.index import write_index
from ..archive.layout import INDEX, PAYLOAD_MANIFESTS, TAG_MANIFESTS, label_name
from ..archive.store import Archive, Package
from ..site import StudentPages
from ..templating import render_template, templates_dir
from .catalogue import SCRIPT as CATALOGUE_SCRIPT
from .catalogue import Catalogue

README = "README.txt"
SUMS = "SHA256SUMS"
CHECK_SCRIPT = "kiem_tra.py"
VOLUME_JSON = "media.json"
VOLUME_SCHEMA = "archiver.media-volume/1"


def media_template(name: str) -> Path:
    return templates_dir() / "media" / name


@dataclass
class VolumeFiles:
    """Every file of a volume: its path on the volume -> where its bytes are read from."""

    sources: dict[str, Path] = field(default_factory=dict)

    def sizes(self) -> dict[str, int]:
        return {rel: os.stat(path).st_size for rel, path in self.sources.items()}


def package_files(archive: Path, packages: Iterable[Package]) -> dict[str, Path]:
    """The files of these package folders and their labels, by path on the volume."""
    found: dict[str, Path] = {}
    for package in packages:
        for folder, dirs, names in os.walk(package.path):
            dirs.sort()
            for name in names:
                path = Path(folder) / name
                found[path.relative_to(archive).as_posix()] = path
        label = archive / label_name(package.name)
        if label.is_file():
            found[label_name(package.name)] = label
    return found


def current_versions(packages: Iterable[Package]) -> dict[str, Package]:
    """The highest version of each class among ``packages``: what an index lists."""
    current: dict[str, Package] = {}
    for package in packages:
        held = current.get(package.base_name)
        if held is None or held.version < package.version:
            current[package.base_name] = package
    return current


def write_volume_site(archive: Archive, packages: list[Package], stage: Path, generated: dt.datetime,
                      jobs: int | None, reuse: StudentPages | None = None) -> None:
    """``stage/index.json`` and ``stage/site/`` for the packages on a volume (the site's
    pages read the packages' files from the archive). A volume keeps the archive's layout
    (packages at its root, ``site/`` beside them), so its student pages are the archive's
    own, taken from ``reuse`` (the archive's checked site) where there is one; its home,
    year and class pages, search and hash shards are its own, and they alone load the
    set's catalogue."""
    from ..site import build_site

    stage.mkdir(parents=True, exist_ok=True)
    write_index(Archive(stage), current_versions(packages), archive.path_log(), generated)
    build_site(archive.root, stage / "site", jobs=jobs, index_file=stage / INDEX,
               extra_scripts=(CATALOGUE_SCRIPT,), reuse=reuse)


def staged_files(stage: Path) -> dict[str, Path]:
    """What a volume's staging folder holds, by path on the volume."""
    found = {}
    for folder, dirs, names in os.walk(stage):
        dirs.sort()
        for name in names:
            path = Path(folder) / name
            found[path.relative_to(stage).as_posix()] = path
    return found


def finish_volume(stage: Path, description: dict[str, Any], catalogue: Catalogue, readme_context: Mapping[str, Any],
                  packages_files: Mapping[str, Path], known: Mapping[str, str]) -> VolumeFiles:
    """Write the catalogue, README, media.json, check script and SHA256SUMS into the
    volume's staging folder; returns every file of the volume."""
    catalogue.write(stage / "site", description["number"], media_template("catalogue.js"))
    (stage / README).write_bytes(render_template("media/README.txt.j2", **readme_context)
                                 .replace("\n", "\r\n").encode("utf-8"))  # Notepad on an old Windows too
    (stage / VOLUME_JSON).write_bytes(volume_json(description))
    shutil.copyfile(media_template(CHECK_SCRIPT), stage / CHECK_SCRIPT)
    files = VolumeFiles({**packages_files, **staged_files(stage)})
    files.sources.pop(SUMS, None)
    lines = []
    for rel in sorted(files.sources):
        digest = known.get(rel) or file_digests(files.sources[rel], ("sha256",))[0]["sha256"]
        lines.append(f"{digest}  {rel}\n")
    (stage / SUMS).write_bytes("".join(lines).encode("utf-8"))
    files.sources[SUMS] = stage / SUMS
    return files


def sums_size(paths: Iterable[str]) -> int:
    """Bytes of SHA256SUMS listing ``paths``."""
    return sum(64 + 2 + len(rel.encode("utf-8")) + 1 for rel in paths if rel != SUMS)


def known_digests(archive: Path, packages: Iterable[Package]) -> dict[str, str]:
    """SHA-256 of each package file as its bag's manifests say (payload manifest for
    data/, tag manifest for the tag files): ``archiver check`` has just compared each with
    the file. A file a manifest does not list (an archive written with --force) is hashed
    from its bytes instead, so SHA256SUMS says what is on the volume."""
    known: dict[str, str] = {}
    for package in packages:
        for name in (PAYLOAD_MANIFESTS[0], TAG_MANIFESTS[0]):
            manifest = read_manifest(package.path, name)
            for rel, digest in manifest.entries.items():
                known[f"{package.name}/{rel}"] = digest
        tag = package.path / TAG_MANIFESTS[0]
        if tag.is_file():
            known[f"{package.name}/{TAG_MANIFESTS[0]}"] = hashlib.sha256(tag.read_bytes()).hexdigest()
    return known


def volume_json(description: Mapping[str, Any]) -> bytes:
    return (json.dumps({"schema": VOLUME_SCHEMA, "software": f"archiver {__version__}", **description},
                       ensure_ascii=False, indent=1) + "\n").encode("utf-8")
