"""CPU lanes (steu_core/lanes.py): batches side by side on threads of one intra-op thread each, with
the same results, order and failures as one batch after another."""
from __future__ import annotations

import multiprocessing
import threading
import time
from contextlib import closing

import pytest
import torch

from steu_core import lanes
from steu_core.data import load_notes
from steu_core.model import RowOverride, compute_features, compute_logits, encode, load_classifier


@pytest.fixture
def two_threads(monkeypatch):
    """torch on 2 intra-op threads (the test run uses 1), lanes not switched off."""
    monkeypatch.delenv(lanes.ENV, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_lanes_follow_torch_threads_on_a_cpu_only(two_threads, monkeypatch):
    assert lanes.count("cpu") == 2 and lanes.count(torch.device("meta")) == 1
    assert lanes.batch_size("cpu", 64) == lanes.LANE_BATCH and lanes.batch_size("cpu", 8) == 8
    monkeypatch.setenv(lanes.ENV, "1")
    assert lanes.count("cpu") == 1 and lanes.batch_size("cpu", 64) == 64
    torch.set_num_threads(1)
    monkeypatch.delenv(lanes.ENV)
    assert lanes.count("cpu") == 1


def test_each_lane_runs_on_one_intraop_thread_and_the_callers_count_is_kept(two_threads):
    barrier = threading.Barrier(2, timeout=30)

    def side_by_side(_):
        barrier.wait()  # passes only if both calls run at the same time
        return torch.get_num_threads(), threading.current_thread().name

    seen = lanes.map_results(side_by_side, [0, 1], "cpu")
    assert [n for n, _ in seen] == [1, 1]
    assert all(name.startswith("steu-lane") for _, name in seen)
    assert torch.get_num_threads() == 2
    later = []
    t = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert later == [2]  # a thread started later gets the process's count, not the lanes' 1


def test_calls_run_in_the_callers_grad_and_inference_modes(two_threads):
    modes = lambda _: (torch.is_grad_enabled(), torch.is_inference_mode_enabled())  # noqa: E731
    assert lanes.map_results(modes, [0, 1], "cpu") == [(True, False)] * 2
    with torch.no_grad():
        assert lanes.map_results(modes, [0, 1], "cpu") == [(False, False)] * 2
    with torch.inference_mode():
        assert lanes.map_results(modes, [0, 1], "cpu") == [(False, True)] * 2


def test_results_keep_their_order_and_a_failure_is_raised_once_every_call_has_ended(two_threads):
    finished = []

    def slow_or_broken(i):
        if i == 1:
            raise ValueError("item 1 is broken")
        time.sleep(0.3 if i == 2 else 0.01 * (5 - i))
        finished.append(i)
        return i * i

    assert lanes.map_results(slow_or_broken, [0, 3, 4], "cpu") == [0, 9, 16]
    finished.clear()
    with pytest.raises(ValueError, match="item 1 is broken"):
        lanes.map_results(slow_or_broken, [0, 1, 2], "cpu")
    assert sorted(finished) == [0, 2]  # the slow call after the broken one had ended


def test_closing_early_starts_no_more_calls_and_waits_for_the_running_ones(two_threads):
    started, running = [], []

    def call(i):
        started.append(i)
        running.append(i)
        time.sleep(0.05)
        running.remove(i)
        return i

    with closing(lanes.imap(call, list(range(40)), "cpu")) as outcomes:
        assert next(outcomes).result() == 0
    assert running == []
    assert len(started) <= 1 + 2 * lanes.count("cpu")  # at most twice the lanes ahead of the one taken


def test_one_lane_calls_in_the_callers_thread_only_when_asked(monkeypatch):
    monkeypatch.setenv(lanes.ENV, "1")
    started = []
    outcomes = lanes.imap(lambda i: started.append((i, threading.current_thread().name)), [0, 1, 2], "cpu")
    assert started == []
    next(outcomes)
    assert started == [(0, threading.current_thread().name)]


def _lanes_in_a_child(queue):
    queue.put(lanes.map_results(lambda i: i + 1, [1, 2, 3], "cpu"))


def test_a_forked_process_gets_its_own_lanes(two_threads):
    """The warm worker forks runs: lanes started before the fork must not be waited for in the child."""
    assert lanes.map_results(lambda i: i, [0, 1], "cpu") == [0, 1]  # the parent's lanes exist
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_lanes_in_a_child, args=(queue,))
    child.start()
    assert queue.get(timeout=60) == [2, 3, 4]
    child.join(timeout=30)
    assert child.exitcode == 0


def test_scoring_in_lanes_equals_one_batch_at_a_time(two_threads, tiny_bert, tiny_data, monkeypatch):
    clf = load_classifier(tiny_bert, device="cpu")
    enc = encode(clf.tokenizer, load_notes(tiny_data["train"]).texts, 48)
    in_lanes = compute_features(clf, enc, 8), compute_logits(clf, enc, 8)
    monkeypatch.setenv(lanes.ENV, "1")
    torch.set_num_threads(1)  # each batch on one thread, as in a lane
    one_by_one = compute_features(clf, enc, 8), compute_logits(clf, enc, 8)
    assert all(torch.equal(a, b) for a, b in zip(in_lanes, one_by_one))


def test_row_override_stays_on_until_its_last_user_leaves():
    emb = torch.nn.Embedding(5, 2)
    override = RowOverride(emb, [3], torch.full((1, 2), 7.0))
    with override:
        with override:
            assert emb(torch.tensor([3]))[0].tolist() == [7.0, 7.0]
        assert emb(torch.tensor([3]))[0].tolist() == [7.0, 7.0]  # the outer user still has it
    assert len(emb._forward_hooks) == 0
    assert emb(torch.tensor([3]))[0].tolist() != [7.0, 7.0]


def test_a_batch_is_shared_so_that_every_lane_gets_a_part(two_threads, monkeypatch):
    assert lanes.share("cpu", 16, 16) == 8 and lanes.share("cpu", 15, 16) == 8
    assert lanes.share("cpu", 40, 16) == 16 and lanes.share("cpu", 1, 16) == 1
    monkeypatch.setenv(lanes.ENV, "1")
    assert lanes.share("cpu", 16, 16) == 16
