#!/usr/bin/env python3
"""Kiểm tra đĩa / USB lưu trữ học bạ số: check this archive disc or USB copy on its own.

Needs only Python 3 (3.6 or newer, standard library): nothing to install, no network.

    python kiem_tra.py            (the disc or folder this script is on)
    python kiem_tra.py D:\\        (another disc or folder)

Reads every file of the volume and compares it with SHA256SUMS (written when the volume
was made), then every file of every package with that package's own BagIt manifests
(manifest-sha256.txt, tagmanifest-sha256.txt). Names every missing, changed or unknown
file. Exit code 0 when everything matches, 1 otherwise.
"""

import hashlib
import os
import sys

SUMS = "SHA256SUMS"


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


def read_list(path):
    """'<64 hex>  <path>' lines (sha256sum's format; BagIt manifests use the same)."""
    entries, bad = {}, []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh.read().split(b"\n"), 1):
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not line:
                continue
            digest, _, name = line.partition(" ")
            name = name[1:] if name.startswith(("*", " ")) else name
            if len(digest) != 64 or not name:
                bad.append(number)
                continue
            entries[name] = digest.lower()
    return entries, bad


def all_files(root):
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    return found


def main(argv):
    if hasattr(sys.stdout, "reconfigure"):  # a Windows console's code page lacks Vietnamese letters
        sys.stdout.reconfigure(errors="replace")
    root = os.path.abspath(argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
    problems = []
    say = problems.append
    sums_path = os.path.join(root, SUMS)
    if not os.path.isfile(sums_path):
        print("Không thấy tệp %s trong %s: đây không phải đĩa/USB do archiver ghi / no %s here" % (SUMS, root, SUMS))
        return 1
    listed, bad = read_list(sums_path)
    for number in bad:
        say("%s: dòng %d hỏng / line %d is damaged" % (SUMS, number, number))
    present = set(all_files(root))
    checked = 0
    digests = {}
    for rel in sorted(listed):
        path = os.path.join(root, *rel.split("/"))
        if rel not in present:
            say("THIẾU / MISSING: %s" % rel)
            continue
        try:
            digests[rel] = sha256(path)
        except OSError as exc:
            say("KHÔNG ĐỌC ĐƯỢC / UNREADABLE: %s (%s)" % (rel, exc))
            continue
        checked += 1
        if digests[rel] != listed[rel]:
            say("HỎNG / DAMAGED: %s (SHA-256 khác SHA256SUMS / differs from SHA256SUMS)" % rel)
    for rel in sorted(present - set(listed) - {SUMS}):
        say("TỆP LẠ / NOT LISTED: %s (không có trong SHA256SUMS / not in SHA256SUMS)" % rel)
    # each package (a BagIt bag) against its own manifests
    bags = sorted(rel[:-len("/bagit.txt")] for rel in present if rel.endswith("/bagit.txt") and rel.count("/") == 1)
    for bag in bags:
        for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
            rel_manifest = bag + "/" + manifest
            if rel_manifest not in present:
                say("%s: thiếu / missing %s" % (bag, manifest))
                continue
            entries, bad = read_list(os.path.join(root, *rel_manifest.split("/")))
            for number in bad:
                say("%s: dòng %d hỏng / line %d is damaged" % (rel_manifest, number, number))
            for name, digest in sorted(entries.items()):
                rel = bag + "/" + name
                if rel not in present:
                    say("THIẾU / MISSING: %s (có trong %s / listed in %s)" % (rel, manifest, manifest))
                    continue
                if rel not in digests:
                    try:
                        digests[rel] = sha256(os.path.join(root, *rel.split("/")))
                    except OSError as exc:
                        say("KHÔNG ĐỌC ĐƯỢC / UNREADABLE: %s (%s)" % (rel, exc))
                        continue
                if digests[rel] != digest:
                    say("HỎNG / DAMAGED: %s (khác %s / differs from %s)" % (rel, manifest, manifest))
        payload = [rel for rel in present if rel.startswith(bag + "/data/")]
        listed_payload, _ = read_list(os.path.join(root, *(bag + "/manifest-sha256.txt").split("/"))) \
            if bag + "/manifest-sha256.txt" in present else ({}, [])
        for rel in sorted(payload):
            if rel[len(bag) + 1:] not in listed_payload:
                say("TỆP LẠ / NOT IN MANIFEST: %s" % rel)
    for problem in problems:
        print(problem)
    if problems:
        print("KẾT QUẢ: CÓ %d VẤN ĐỀ (đã đọc %d tệp, %d gói) / RESULT: %d PROBLEMS (%d files read, %d packages)"
              % (len(problems), checked, len(bags), len(problems), checked, len(bags)))
        return 1
    print("KẾT QUẢ: TẤT CẢ KHỚP, %d tệp, %d gói / RESULT: ALL MATCH, %d files, %d packages"
          % (checked, len(bags), checked, len(bags)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
