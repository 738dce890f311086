"""steu_core.paths: a data directory that cannot be made or used is named with what to do, and an
output location is tried before any work."""
from __future__ import annotations

import os

import pytest

from steu_core.errors import ConfigError
from steu_core.paths import check_writable_location, steu_home, subdir


def test_a_data_directory_that_cannot_be_made_names_steu_home(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "file" / "home"))
    with pytest.raises(ConfigError, match=r"the data folder '.*file/home' cannot be made or used .*Set STEU_HOME"):
        steu_home()


def test_a_data_directory_that_is_a_file_is_refused(tmp_path, monkeypatch):
    (tmp_path / "home").write_text("x")
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "home"))
    with pytest.raises(ConfigError, match=r"\(Not a directory\)"):
        subdir("runs")


def test_a_new_output_below_missing_folders_is_accepted_and_nothing_is_left(tmp_path):
    check_writable_location(tmp_path / "a" / "b" / "out", "--out")
    assert os.listdir(tmp_path) == [], "the check neither makes the folders nor leaves its probe file"


@pytest.mark.parametrize("make, message", [
    (lambda t: (t / "f").write_text("x") and t / "f" / "out", r"'.*/f' is a file, not a folder"),
    (lambda t: (t / "d").mkdir() or t / "d", r"--out '.*/d' is an existing folder"),
])
def test_an_output_that_cannot_be_written_is_refused(make, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        check_writable_location(make(tmp_path), "--out")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_an_output_where_no_file_can_be_made_is_refused():
    """/proc is a folder and root's permission bits allow everything, yet no file can be made there:
    only trying tells."""
    with pytest.raises(ConfigError, match=r"no file can be made in '/proc'"):
        check_writable_location("/proc/report.pdf", "--out")
