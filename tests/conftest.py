"""Shared fixtures: a tiny labelled corpus and tiny classifiers trained on it (seconds, CPU)."""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

# One torch/OpenMP thread per test process (set before anything imports torch; the processes tests
# start inherit it): the suite runs on two xdist workers, often on two cores, and a thread per core in
# each worker - and in each run, worker or Streamlit process a test starts - oversubscribes them, where
# the tiny test models gain nothing from a second thread. An OMP_NUM_THREADS already set is kept.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Every test has its own data directory, so every dashboard page a test opens would start its own warm
# worker (a process that imports torch and stays up): off here; tests/test_worker_warm.py turns it on.
os.environ.setdefault("STEU_WARM_WORKER", "0")
# Likewise every Request page a test opens would score the original in a background process: off here;
# tests/test_dashboard_apptest.py turns it on where it is tested (the browser tests run the app as shipped).
os.environ.setdefault("STEU_DASHBOARD_PRECOMPUTE", "0")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

CLASS_WORDS = {
    "cardiac": ["chest pain", "troponin", "palpitations", "murmur", "edema"],
    "respiratory": ["cough", "wheezing", "sputum", "inhaler", "crackles"],
    "substance": ["heroin", "withdrawal", "buprenorphine", "naloxone", "methadone"],
}
SHARED = ["patient seen in clinic", "vitals stable", "denies fever", "follow up in two weeks",
          "history of hypertension", "takes aspirin daily", "no acute distress", "labs reviewed"]


def make_notes(n_per_class: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for label, words in CLASS_WORDS.items():
        for _ in range(n_per_class):
            parts = rng.sample(SHARED, 3) + rng.sample(words, 2)
            rng.shuffle(parts)
            rows.append((", ".join(parts), label))
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, rows) -> Path:
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own data directory: nothing touches the user's real one."""
    monkeypatch.setenv("STEU_HOME", str(tmp_path_factory.mktemp("steu_home")))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("tiny_data")
    train = write_csv(d / "train.csv", make_notes(30, seed=1))
    evaluation = write_csv(d / "eval.csv", make_notes(15, seed=2))
    forget = write_csv(d / "forget.csv", [r for r in make_notes(30, seed=1) if r[1] == "substance"])
    return {"dir": d, "train": train, "eval": evaluation, "forget": forget, "forget_class": "substance",
            "labels": sorted(CLASS_WORDS)}


def _trained_tiny(arch: str, tmp_path_factory, tiny_data) -> Path:
    from tiny_models import make_tiny_classifier

    from steu_core.data import load_notes
    from steu_core.model import load_classifier, save_model_atomically
    from steu_core.train import TrainConfig, fine_tune

    base = make_tiny_classifier(arch, tmp_path_factory.mktemp(f"tiny_{arch}_base") / "m", tiny_data["labels"],
                                texts=[r[0] for r in make_notes(5, 9)])
    clf = load_classifier(base, device="cpu")
    fine_tune(clf, load_notes(tiny_data["train"]), TrainConfig(epochs=20, batch_size=8, lr=3e-3, max_length=48))
    out = tmp_path_factory.mktemp(f"tiny_{arch}") / "model"
    save_model_atomically(clf, out)
    return out


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, tiny_data) -> Path:
    return _trained_tiny("bert", tmp_path_factory, tiny_data)


@pytest.fixture(scope="session", params=["bert", "distilbert", "roberta"])
def tiny_any(request, tmp_path_factory, tiny_data) -> Path:
    if request.param == "bert":  # the very model tiny_bert trains (same arguments): trained once per session
        return request.getfixturevalue("tiny_bert")
    return _trained_tiny(request.param, tmp_path_factory, tiny_data)


# --- the order of the files: the longest first ----------------------------------------------------
# pytest-xdist hands whole files (--dist loadfile) to whichever worker is free, in the order collected;
# a long file handed out last keeps one worker busy while the other idles. pytest.ini turns off xdist's
# own order (most tests first, which put the one-test browser and MiniLM files last), and this orders
# the files by their durations in the previous run (kept in pytest's cache), or, before any run, the
# files of browser and real-model tests only first, then the files with the most tests.
DURATIONS_KEY = "steu/file_durations"
_durations: dict[str, float] = {}


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _file_order(items, known: dict[str, float]) -> dict[str, int]:
    counts: dict[str, int] = {}
    light = set()  # files with a test that is neither a browser test nor on the real model
    for item in items:
        f = _file_of(item.nodeid)
        counts[f] = counts.get(f, 0) + 1
        if not (item.get_closest_marker("browser") or item.get_closest_marker("slow")):
            light.add(f)
    longest = max(known.values(), default=0.0)

    def key(f):  # a file the cache has not seen may be long: it ties with the longest; ties go as before any run
        return (-known.get(f, longest), f in light, -counts[f])

    return {f: n for n, f in enumerate(sorted(counts, key=key))}


def pytest_collection_modifyitems(config, items):
    known = config.cache.get(DURATIONS_KEY, {}) if getattr(config, "cache", None) else {}
    order = _file_order(items, known)
    items.sort(key=lambda item: order[_file_of(item.nodeid)])  # stable: a file keeps its own order


def pytest_runtest_logreport(report):
    _durations[_file_of(report.nodeid)] = _durations.get(_file_of(report.nodeid), 0.0) + report.duration


def pytest_sessionfinish(session):
    config = session.config
    if hasattr(config, "workerinput") or not _durations or not getattr(config, "cache", None):
        return  # xdist workers report to the controller, which records
    config.cache.set(DURATIONS_KEY, {**config.cache.get(DURATIONS_KEY, {}), **_durations})
