"""The order conftest gives the files (the longest first), so that the two xdist workers end together."""
from __future__ import annotations

from types import SimpleNamespace

from conftest import _file_order


def _item(nodeid: str, *marks: str):
    return SimpleNamespace(nodeid=nodeid, get_closest_marker=lambda name: name if name in marks else None)


ITEMS = [_item("tests/test_a.py::t1"), _item("tests/test_a.py::t2"), _item("tests/test_b.py::t1"),
         _item("tests/test_c.py::t1", "browser"), _item("tests/test_d.py::t1"), _item("tests/test_d.py::t2"),
         _item("tests/test_d.py::t3"), _item("tests/test_e.py::t1", "slow"), _item("tests/test_f.py::t1", "browser"),
         _item("tests/test_f.py::t2")]


def _ordered(order: dict[str, int]) -> list[str]:
    return sorted(order, key=order.get)


def test_before_any_run_browser_and_real_model_files_go_first_then_the_most_tests():
    assert _ordered(_file_order(ITEMS, {})) == ["tests/test_c.py", "tests/test_e.py", "tests/test_d.py",
                                                "tests/test_a.py", "tests/test_f.py", "tests/test_b.py"]


def test_the_last_durations_order_the_files_and_an_unseen_file_counts_as_the_longest():
    known = {"tests/test_a.py": 5.0, "tests/test_b.py": 90.0, "tests/test_c.py": 40.0, "tests/test_d.py": 1.0,
             "tests/test_e.py": 60.0}
    # f, unseen, ties with the longest (b) and goes first of the two by its number of tests
    assert _ordered(_file_order(ITEMS, known)) == ["tests/test_f.py", "tests/test_b.py", "tests/test_e.py",
                                                   "tests/test_c.py", "tests/test_a.py", "tests/test_d.py"]


def test_files_the_last_run_did_not_see_go_first_browser_and_real_model_files_before_the_rest():
    known = {"tests/test_a.py": 5.0, "tests/test_b.py": 90.0}
    assert _ordered(_file_order(ITEMS, known)) == ["tests/test_c.py", "tests/test_e.py", "tests/test_d.py",
                                                   "tests/test_f.py", "tests/test_b.py", "tests/test_a.py"]
