"""Profiles are data: loading, detection, the XSD, and adding a profile without code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from archiver.cli import main
from archiver.profiles import ProfileError, available_profiles, detect_profile, get_profile
from archiver.safexml import parse_bytes

from .conftest import FIXTURES


def test_both_hocba_1_profiles_are_installed():
    profiles = available_profiles()
    assert {"hocba-1-thcs", "hocba-1-thpt"} <= set(profiles)
    thcs, thpt = profiles["hocba-1-thcs"], profiles["hocba-1-thpt"]
    assert thcs.grades == (6, 7, 8, 9) and thpt.grades == (10, 11, 12)
    assert thcs.register_suffix == "/THCS"


def test_profile_carries_subjects_roles_and_policy():
    thcs = get_profile("hocba-1-thcs")
    codes = [s.code for s in thcs.subjects]
    assert codes[:2] == ["NV", "TOAN"] and len(codes) == 12
    assert {s.code for s in thcs.subjects if s.assessment == "comment"} == {"GDTC", "NT", "HDTN", "GDDP"}
    assert [r.role for r in thcs.signing.ordered_roles()] == ["GVBM", "GVCN", "HT", "TC"]
    assert thcs.signing.roles["TC"].identity == "organisation"
    assert thcs.signing.roles["GVBM"].region_xpath("TOAN") == "/HocBa/DLHocBa/KetQua/BangDiem/MonHoc[@Ma='TOAN']"
    assert thcs.policy.revocation_required
    assert all("sha1" not in m for m in thcs.policy.signature_methods + thcs.policy.digest_methods)
    thpt = get_profile("hocba-1-thpt")
    assert thpt.electives == 4 and sum(not s.required for s in thpt.subjects) == 9


def test_the_schema_validates_the_spec_sample():
    sample = FIXTURES / "spec" / "sample-transcript.xml"
    profile = get_profile("hocba-1-thcs")
    tree = parse_bytes(sample.read_bytes())
    assert profile.schema.validate(tree), profile.schema.error_log


def test_the_schema_refuses_a_malformed_transcript():
    sample = (FIXTURES / "spec" / "sample-transcript.xml").read_bytes()
    profile = get_profile("hocba-1-thcs")
    bad_score = sample.replace(b"<HK1>7.8</HK1>", b"<HK1>11.5</HK1>")
    no_lookup = sample.replace(b"<MaTraCuu>3f9c2a7be41d4c0a9b6e58d21f07ac45</MaTraCuu>", b"")
    for data in (bad_score, no_lookup):
        assert not profile.schema.validate(parse_bytes(data))


def test_detection_picks_the_profile_from_the_document():
    profiles = available_profiles()
    thcs = parse_bytes((FIXTURES / "spec" / "sample-transcript.xml").read_bytes())
    assert detect_profile(thcs.getroot(), profiles).id == "hocba-1-thcs"
    thpt = parse_bytes((FIXTURES / "spec" / "sample-transcript.xml").read_bytes()
                       .replace(b"<CapHoc>THCS</CapHoc>", b"<CapHoc>THPT</CapHoc>"))
    assert detect_profile(thpt.getroot(), profiles).id == "hocba-1-thpt"


def test_detection_failure_names_the_candidates():
    root = etree.fromstring(b"<HDon><DLHDon/></HDon>")
    with pytest.raises(ProfileError) as err:
        detect_profile(root, available_profiles())
    assert "hocba-1-thcs" in str(err.value) and "hocba-1-thpt" in str(err.value)
    assert "--profile" in str(err.value)


def test_a_new_profile_is_a_new_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    builtin = get_profile("hocba-1-thcs").path
    new = tmp_path / "profiles" / "hocba-1-gdtx"
    shutil.copytree(builtin, new)
    toml = (new / "profile.toml").read_text(encoding="utf-8")
    toml = toml.replace('id = "hocba-1-thcs"', 'id = "hocba-1-gdtx"').replace(
        '"/HocBa/DLHocBa/TTChung/CapHoc" = "THCS"', '"/HocBa/DLHocBa/TTChung/CapHoc" = "GDTX"')
    (new / "profile.toml").write_text(toml, encoding="utf-8")
    monkeypatch.setenv("ARCHIVER_PROFILES", str(tmp_path / "profiles"))
    assert "hocba-1-gdtx" in available_profiles()
    result = CliRunner().invoke(main, ["profiles"])
    assert result.exit_code == 0 and "hocba-1-gdtx " in result.output
    other = parse_bytes((FIXTURES / "spec" / "sample-transcript.xml").read_bytes()
                        .replace(b"<CapHoc>THCS</CapHoc>", b"<CapHoc>GDTX</CapHoc>"))
    assert detect_profile(other.getroot(), available_profiles()).id == "hocba-1-gdtx"


def test_profiles_command_lists_ids_and_descriptions():
    result = CliRunner().invoke(main, ["profiles"])
    assert result.exit_code == 0
    assert "hocba-1-thcs" in result.output and "THCS" in result.output
    assert "hocba-1-thpt" in result.output


def test_a_broken_profile_is_reported_not_crashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    broken = tmp_path / "p" / "broken"
    broken.mkdir(parents=True)
    (broken / "profile.toml").write_text('id = "broken"\ntitle = [', encoding="utf-8")
    monkeypatch.setenv("ARCHIVER_PROFILES", str(tmp_path / "p"))
    result = CliRunner().invoke(main, ["profiles"])
    assert result.exit_code != 0
    assert "profile.toml" in result.output and "Traceback" not in result.output


def test_a_profiles_folder_that_does_not_exist_is_an_error(tmp_path, monkeypatch):
    from archiver.profiles import ProfileError, available_profiles

    monkeypatch.setenv("ARCHIVER_PROFILES", str(tmp_path / "no-such-folder"))
    with pytest.raises(ProfileError, match="no such profiles folder"):
        available_profiles()
