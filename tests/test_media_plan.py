"""Archive media, the pure parts: media sizes, volume planning (property tests), the
names files get on a disc, and the size count held against real pycdlib images."""

from __future__ import annotations

import datetime as dt
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.errors import UsageError
from archiver.media.iso import ImageLabels, write_image
from archiver.media.isofs import check_names, fat_bytes, iso_names, iso_sectors
from archiver.media.medium import DISC_SECTORS, FILL_TARGET, SECTOR, parse_medium, parse_size
from archiver.media.plan import Group, GroupTooLarge, plan_volumes

YEARS = ["2021-2022", "2022-2023", "2023-2024", "2024-2025", "2025-2026"]


# -- media ---------------------------------------------------------------------------------------
def test_disc_capacities_are_exact_sectors_of_2048_bytes():
    assert parse_medium("cd").capacity == 360_000 * 2048
    assert parse_medium("dvd").capacity == 2_295_104 * 2048
    assert parse_medium("dvd-dl").capacity == 4_173_824 * 2048
    assert parse_medium("bd").capacity == 12_219_392 * 2048
    assert parse_medium("bd-dl").capacity == 24_438_784 * 2048
    for name in DISC_SECTORS:
        medium = parse_medium(name)
        assert medium.is_image and medium.usable == medium.capacity - medium.margin
        assert 0 < medium.margin <= medium.capacity * 0.005


def test_sizes_are_binary_with_a_letter_and_decimal_with_b():
    assert parse_size("650M") == 650 * 1024 ** 2
    assert parse_size("4G") == 4 * 1024 ** 3
    assert parse_size("16GB") == 16 * 10 ** 9
    assert parse_size("3m") == 3 * 1024 ** 2
    assert parse_medium("3M").capacity == 3 * 1024 ** 2 and parse_medium("3M").is_image
    assert parse_medium("usb").capacity == 0 and not parse_medium("usb").is_image
    assert parse_medium("usb:32GB").capacity == 32 * 10 ** 9
    for bad in ("", "lots", "4Q", "10"):
        with pytest.raises(UsageError):
            parse_size(bad)


# -- planning --------------------------------------------------------------------------------------
@st.composite
def groups_and_capacity(draw, small: bool = False):
    capacity = draw(st.integers(10_000, 5_000_000))
    limit = capacity // 20 if small else capacity
    n = draw(st.integers(0, 60))
    groups = []
    for i in range(n):
        year = draw(st.sampled_from(YEARS))
        size = draw(st.integers(1, max(1, limit)))
        groups.append(Group(f"K{i:03d}", size, (year, i), year, (f"K{i:03d}", f"K{i:03d}_v2")))
    return groups, capacity


@given(groups_and_capacity())
@settings(max_examples=300, deadline=None)
def test_every_group_is_on_exactly_one_volume_whole_and_no_volume_is_over_capacity(case):
    groups, capacity = case
    plan = plan_volumes(groups, capacity, int(capacity * FILL_TARGET))
    placed = [g for v in plan.volumes for g in v.groups]
    assert sorted(g.key for g in placed) == sorted(g.key for g in groups)
    assert all(v.size <= capacity for v in plan.volumes)
    assert all(v.groups for v in plan.volumes)
    assert [v.number for v in plan.volumes] == list(range(1, plan.count + 1))
    # a class's versions travel as one group: never split
    for v in plan.volumes:
        for g in v.groups:
            assert g.members == (g.key, f"{g.key}_v2")


@given(groups_and_capacity())
@settings(max_examples=300, deadline=None)
def test_volumes_follow_the_years(case):
    groups, capacity = case
    plan = plan_volumes(groups, capacity, int(capacity * FILL_TARGET))
    firsts = [min(g.order for g in v.groups) for v in plan.volumes]
    assert firsts == sorted(firsts)
    for v in plan.volumes:  # within a volume, classes in order
        assert [g.order for g in v.groups] == sorted(g.order for g in v.groups)


@given(groups_and_capacity(small=True))
@settings(max_examples=300, deadline=None)
def test_every_volume_but_the_last_is_at_least_95_percent_full_when_classes_are_small(case):
    groups, capacity = case
    plan = plan_volumes(groups, capacity, int(capacity * FILL_TARGET))
    for v in plan.volumes[:-1]:
        assert v.size >= FILL_TARGET * capacity, (v.number, v.size, capacity)


@given(groups_and_capacity())
@settings(max_examples=200, deadline=None)
def test_planning_is_deterministic_whatever_the_input_order(case):
    groups, capacity = case
    a = plan_volumes(groups, capacity, int(capacity * FILL_TARGET))
    b = plan_volumes(list(reversed(groups)), capacity, int(capacity * FILL_TARGET))
    assert [[g.key for g in v.groups] for v in a.volumes] == [[g.key for g in v.groups] for v in b.volumes]


def test_a_fuller_combination_is_taken_when_first_fit_falls_short_of_the_target():
    g = [Group("A", 60, (1,)), Group("B", 30, (2,)), Group("C", 40, (3,))]
    plan = plan_volumes(g, 100, 95)  # first fit: A + B = 90 %; A + C fills the volume
    assert [[x.key for x in v.groups] for v in plan.volumes] == [["A", "C"], ["B"]]
    # a combination that still misses the target is not worth taking a class out of order
    g = [Group("A", 60, (1,)), Group("B", 25, (2,)), Group("C", 30, (3,))]
    assert [[x.key for x in v.groups] for v in plan_volumes(g, 100, 95).volumes] == [["A", "B"], ["C"]]


def test_a_group_larger_than_a_volume_is_named():
    with pytest.raises(GroupTooLarge) as raised:
        plan_volumes([Group("small", 10, (1,)), Group("huge", 1_000, (2,))], 500)
    assert [g.key for g in raised.value.groups] == ["huge"]


def test_no_capacity_means_one_volume():
    plan = plan_volumes([Group(str(i), 10 ** 12, (i,)) for i in range(3)], 0)
    assert plan.count == 1 and len(plan.volumes[0].groups) == 3


# -- names on a disc ----------------------------------------------------------------------------------
NAME = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=40)


@given(st.lists(st.tuples(NAME, NAME, st.sampled_from(["xml", "pdf", "json", "html", "der", "ers", "txt", ""])),
                min_size=1, max_size=40))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_iso9660_names_are_d_characters_within_level_3_limits_and_unique_per_folder(parts):
    paths = {f"{a}/{b}.{ext}" if ext else f"{a}/{b}" for a, b, ext in parts}
    names = iso_names(paths)
    seen = {}
    for rel, iso in names.iso.items():
        parent, _, ident = iso.rpartition("/")
        if rel in names.folders:
            assert len(ident) <= 31 and set(ident) <= set(string.ascii_uppercase + string.digits + "_"), ident
        else:
            base = ident.removesuffix(";1")
            assert ident.endswith(";1") and len(base) <= 30, ident
            stem, dot, ext = base.partition(".")
            assert dot and set(stem + ext) <= set(string.ascii_uppercase + string.digits + "_"), ident
        assert seen.setdefault(iso, rel) == rel, f"{rel} and {seen[iso]} share {iso}"
    assert iso_names(sorted(paths, reverse=True)) == names  # the same names whatever the order


def test_names_no_medium_holds_are_said():
    assert check_names(["A/b.txt", "A/B.TXT"]) and check_names(["A/" + "x" * 70 + ".pdf"])
    assert check_names(["A/what?.xml"]) and not check_names(["0109944_2025-2026_9A1/data/x_1.xml"])


def test_fat32_count_rounds_files_up_to_clusters():
    assert fat_bytes({"a/b": 1}, cluster=32768) == 2 * 32768 + 32768  # root, folder a, the file
    assert fat_bytes({"a/b": 32769}, cluster=32768) == 2 * 32768 + 2 * 32768


# -- the size count against real images ------------------------------------------------------------------
WHEN = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
LABELS = ImageLabels("TEST_2025_2026_D01_01", "TEST_D01-01", "TEST_SET", "TEST", WHEN)


@given(st.lists(st.tuples(st.sampled_from(["", "pkg_A/data/transcripts", "pkg_A/data/reports", "site/hs/9A1",
                                           "site/search", "pkg-B/data", "x" * 31 + "/y"]),
                          st.text(string.ascii_lowercase + string.digits + "_-", min_size=1, max_size=50),
                          st.sampled_from([".xml", ".pdf", ".json", ".js", ""]),
                          st.integers(0, 9000)), min_size=1, max_size=120, unique_by=lambda t: (t[0], t[1], t[2])))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_the_size_count_is_the_size_of_the_real_image(tmp_path_factory, files):
    """What the planner counts (files at whole sectors, directory records with Rock Ridge,
    Joliet, path tables) is exactly what pycdlib writes for the same files."""
    folder = tmp_path_factory.mktemp("tree")
    sources = {}
    for parent, stem, ext, size in files:
        name = (stem + ext)[:64]
        rel = f"{parent}/{name}" if parent else name
        if rel.lower() in {r.lower() for r in sources} or any(r.startswith(rel + "/") for r in sources):
            continue
        path = folder / f"f{len(sources)}"
        path.write_bytes(bytes(size % 251 for size in range(size)))
        sources[rel] = path
    image = write_image(sources, folder / "out.iso", LABELS)
    assert image.size == iso_sectors({rel: p.stat().st_size for rel, p in sources.items()}) * SECTOR
    assert image.size == (folder / "out.iso").stat().st_size


def test_the_image_is_hashed_as_it_is_written_not_read_again(tmp_path, monkeypatch):
    import hashlib

    import archiver.media.iso as iso

    def read_again(*args, **kwargs):
        raise AssertionError("the image was read again to hash it")

    monkeypatch.setattr(iso, "file_sha256", read_again)
    sources = {}
    for i, size in enumerate([0, 1, 2047, 2048, 70_000, 5, 300_000]):
        path = tmp_path / f"f{i}"
        path.write_bytes(bytes((i + k) % 256 for k in range(size)))
        sources[f"d{i % 3}/file-{i}.bin"] = path
    image = write_image(sources, tmp_path / "out.iso", LABELS)
    assert image.sha256 == hashlib.sha256((tmp_path / "out.iso").read_bytes()).hexdigest()
