"""Bad input to ``python -m steu_core unlearn``: every case gets one clear, specific error (no
traceback), a non-zero exit status, and leaves nothing that looks finished - no --out directory, no
staging directory holding results or a model, no ledger entry claiming success - and the input model
directory byte-identical.

The CLI is driven in-process through ``steu_core.cli.main(argv)`` (seconds, not a subprocess each);
the crash and concurrency tests drive real processes.
"""
from __future__ import annotations

import csv
import errno
import io
import json
import re
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from conftest import CLASS_WORDS, make_notes, write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_models import make_tiny_classifier

from steu_core.cli import main
from steu_core.data import content_sha256, load_notes, write_notes, NoteSet
from steu_core.errors import DataError
from steu_core.ledger import Ledger
from steu_core.model import hash_directory
from steu_core.runs import staging_dir
from steu_core.safety import csv_safe_cell, csv_safe_row, html_text, shown_value

FAST = '{"max_steps": 3, "min_df": 2}'
LABELS = sorted(CLASS_WORDS)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad_inputs")
    train_rows = make_notes(12, seed=1)
    return SimpleNamespace(
        dir=d,
        model=make_tiny_classifier("bert", d / "model", LABELS),
        train_rows=train_rows,
        train=write_csv(d / "train.csv", train_rows),
        eval=write_csv(d / "eval.csv", make_notes(6, seed=2)),
        forget_rows=[r for r in train_rows if r[1] == "substance"],
        forget=write_csv(d / "forget.csv", [r for r in train_rows if r[1] == "substance"]),
    )


def base_args(env, out: Path) -> dict:
    return {"--model": str(env.model), "--train": str(env.train), "--eval": str(env.eval),
            "--forget-class": "substance", "--out": str(out), "--device": "cpu", "--k": "4",
            "--settings": FAST, "--min-forget": "5", "--max-length": "48"}


def argv_of(args: dict, extra=()) -> list[str]:
    argv = ["unlearn", "--quiet"]
    for flag, value in args.items():
        if value is not None:
            argv += [flag, value]
    return argv + list(extra)


def run_cli(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def snapshot(path: Path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else None


def assert_nothing_finished(out: Path, before_listing, search_root: Path) -> None:
    """No finished run anywhere, the staging area holds at most a failed progress.json, and the
    ledger verifies and claims no success."""
    assert snapshot(out) == before_listing, "the --out directory must not be created or changed"
    stage = staging_dir(out)
    if stage.exists():
        names = sorted(p.name for p in stage.iterdir())
        assert names == ["progress.json"], names
        state = json.loads((stage / "progress.json").read_text())["state"]
        assert state in ("failed", "cancelled")
    assert not list(search_root.rglob("results.json")), "no results.json may exist after a refused run"
    ledger = Ledger()
    assert ledger.verify().ok
    assert not [e for e in ledger.entries() if e["kind"] == "run" and e["payload"].get("outcome") == "success"]


# ------------------------------------------------------------------------------------------------
# The cases. Each builder gets (env, tmp_path) and returns changes to the default arguments
# ({flag: value or None to drop}) and optionally "extra" flags.

CASES = []


def case(expect: str, skip: str | None = None):
    def deco(fn):
        marks = [pytest.mark.skipif(True, reason=skip)] if skip else []
        CASES.append(pytest.param(fn, expect, id=fn.__name__, marks=marks))
        return fn
    return deco


def _file(tmp: Path, name: str, content) -> str:
    p = tmp / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(p)


def _csv_rows(rows, header=("text", "label"), delimiter=",") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)
    if header:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _model_copy(env, tmp: Path) -> Path:
    dst = tmp / "model_copy"
    shutil.copytree(env.model, dst)
    return dst


# -- data files -----------------------------------------------------------------------------------
@case(r"file 'train\.csv': the file is empty")
def empty_file(env, tmp):
    return {"--train": _file(tmp, "train.csv", b"")}


@case(r"only whitespace")
def whitespace_only_file(env, tmp):
    return {"--train": _file(tmp, "train.csv", "\n  \n\t\n")}


@case(r"has a header but no rows")
def header_only(env, tmp):
    return {"--train": _file(tmp, "train.csv", "text,label\n")}


@case(r"separated by ';'")
def wrong_delimiter(env, tmp):
    return {"--train": _file(tmp, "train.csv", _csv_rows(env.train_rows, delimiter=";"))}


@case(r"no text column found.*Columns found: column 1 \(5 characters, not shown\), 'label'")
def missing_text_column(env, tmp):
    return {"--train": _file(tmp, "train.csv", _csv_rows(env.train_rows, header=("words", "label")))}


@case(r"no label column found")
def missing_label_column(env, tmp):
    return {"--train": _file(tmp, "train.csv", _csv_rows(env.train_rows, header=("text", "kind")))}


@case(r"has no text column 'body'")
def named_column_absent(env, tmp):
    return {"--text-column": "body"}


@case(r"the text and label columns are the same column")
def same_text_and_label_column(env, tmp):
    return {"--text-column": "text", "--label-column": "text"}


@case(r"does not look like a header")
def no_header_line(env, tmp):
    return {"--train": _file(tmp, "train.csv", _csv_rows(env.train_rows, header=None))}


@case(r"header names a column more than once \(columns 1, 2\)")
def duplicate_header(env, tmp):
    return {"--train": _file(tmp, "train.csv", _csv_rows(env.train_rows, header=("text", "text")))}


@case(r"not well-formed CSV \(.*Expected 2 fields in line 3, saw 3")
def unquoted_comma_in_note(env, tmp):
    return {"--train": _file(tmp, "train.csv", "text,label\nchest pain,cardiac\nchest pain, edema,cardiac\n")}


@case(r"not well-formed CSV \(.*EOF inside string")
def unterminated_quote(env, tmp):
    return {"--train": _file(tmp, "train.csv", 'text,label\n"chest pain,cardiac\ncough,respiratory\n')}


@case(r"row 2, column 'text': the note text is empty")
def empty_note_text(env, tmp):
    return {"--train": _file(tmp, "train.csv", _csv_rows([env.train_rows[0], ("  ", "cardiac")] + env.train_rows[1:]))}


@case(r"row 3, column 'label': the label is missing")
def missing_label_value(env, tmp):
    return {"--train": _file(tmp, "train.csv", _csv_rows(env.train_rows[:2] + [("cough", "")] + env.train_rows[2:]))}


@case(r"the labels mix value types: text \(first at row 1\), number \(first at row 2\)")
def mixed_label_types(env, tmp):
    lines = [json.dumps({"text": t, "label": (l if i % 2 == 0 else LABELS.index(l))})
             for i, (t, l) in enumerate(env.train_rows)]
    return {"--train": _file(tmp, "train.jsonl", "\n".join(lines))}


@case(r"row \d+, column 'label': the label \(9 characters, not shown\) is not one of the model's labels.*"
      r"The model knows: cardiac, respiratory, substance")
def label_not_in_model(env, tmp):
    return {"--train": _file(tmp, "train.csv", _csv_rows(env.train_rows + [("headache and aura", "neurology")]))}


@case(r"the label \(\d+ characters, not shown\) is not one of the model.s labels")
def note_text_in_label_column(env, tmp):
    # a file whose columns are swapped by mistake: the "label" is note text and must not be echoed
    rows = [(l, t) for t, l in env.train_rows]
    return {"--train": _file(tmp, "train.csv", _csv_rows(rows, header=("text", "label")))}


@case(r"'neurology' is not a label of this model")
def forget_class_not_a_model_label(env, tmp):
    return {"--forget-class": "neurology"}


@case(r"forget set has no note of the forget class 'cardiac' \(its labels: 'substance'\)")
def forget_class_absent_from_forget_set(env, tmp):
    return {"--forget-class": "cardiac", "--forget": str(env.forget)}


@case(r"forget\.csv', row \d+, column 'label': the forget set contains a note of class 'cardiac'")
def forget_set_with_other_classes(env, tmp):
    rows = env.forget_rows + [r for r in env.train_rows if r[1] == "cardiac"][:2]
    return {"--forget": _file(tmp, "forget.csv", _csv_rows(rows))}


@case(r"forget set has 3 note\(s\) of class 'substance', fewer than the minimum of 5")
def too_few_forget_examples(env, tmp):
    return {"--forget": _file(tmp, "forget.csv", _csv_rows(env.forget_rows[:3]))}


@case(r"there is no note of the forget class 'substance'")
def forget_class_absent_from_training(env, tmp):
    rows = [r for r in env.train_rows if r[1] != "substance"]
    return {"--train": _file(tmp, "train.csv", _csv_rows(rows))}


@case(r"the evaluation file has no note of the forget class 'substance'")
def forget_class_absent_from_eval(env, tmp):
    rows = [r for r in make_notes(6, seed=2) if r[1] != "substance"]
    return {"--eval": _file(tmp, "eval.csv", _csv_rows(rows))}


@case(r"no notes of any class other than the forget class")
def training_file_only_forget_class(env, tmp):
    return {"--train": _file(tmp, "train.csv", _csv_rows(env.forget_rows))}


@case(r"is not valid UTF-8 \(byte \d+, line 3\)")
def non_utf8_bytes(env, tmp):
    raw = _csv_rows(env.train_rows[:1]).encode() + "caf\u00e9 au lait,cardiac\n".encode("latin-1")
    return {"--train": _file(tmp, "train.csv", raw)}


@case(r"is a ZIP archive \(or \.xlsx/\.docx\), not a CSV text file")
def zip_renamed_csv(env, tmp):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("train.csv", _csv_rows(env.train_rows))
    return {"--train": _file(tmp, "train.csv", buf.getvalue())}


@case(r"is a PDF document")
def pdf_renamed_csv(env, tmp):
    return {"--train": _file(tmp, "train.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")}


@case(r"contains binary data \(NUL bytes\)")
def binary_file_renamed_csv(env, tmp):
    return {"--train": _file(tmp, "train.csv", bytes(range(256)) * 8)}


@case(r"the file is 0\.00\d+ MB, over the 0\.0005 MB limit")
def over_size_limit(env, tmp):
    return {"--max-file-mb": "0.0005"}


@case(r"unknown file type '\.xlsx'")
def unknown_extension(env, tmp):
    return {"--train": _file(tmp, "train.xlsx", _csv_rows(env.train_rows))}


@case(r"file '.*nowhere\.csv': file not found")
def data_file_not_found(env, tmp):
    return {"--train": str(tmp / "nowhere.csv")}


@case(r"is a directory, not a file")
def data_path_is_directory(env, tmp):
    (tmp / "notes.csv").mkdir()
    return {"--train": str(tmp / "notes.csv")}


@case(r"row 1: is not a JSON object")
def jsonl_line_not_an_object(env, tmp):
    return {"--train": _file(tmp, "train.jsonl", '["chest pain", "cardiac"]\n')}


@case(r"row 2: is not a JSON object")
def jsonl_broken_line(env, tmp):
    return {"--train": _file(tmp, "train.jsonl", '{"text": "cough", "label": "respiratory"}\n{"text": "edema", \n')}


@case(r"cannot be read as Parquet")
def corrupt_parquet(env, tmp):
    return {"--train": _file(tmp, "train.parquet", b"PAR1" + bytes(200) + b"PAR1")}


# -- model directories ----------------------------------------------------------------------------
@case(r"model directory '.*' does not exist")
def model_dir_missing(env, tmp):
    return {"--model": str(tmp / "no_model")}


@case(r"is a file, not a model directory")
def model_path_is_a_file(env, tmp):
    return {"--model": str(env.model / "config.json")}


@case(r"has no config\.json")
def model_without_config(env, tmp):
    m = _model_copy(env, tmp)
    (m / "config.json").unlink()
    return {"--model": str(m)}


@case(r"has no weights \(model\.safetensors\)")
def model_without_weights(env, tmp):
    m = _model_copy(env, tmp)
    (m / "model.safetensors").unlink()
    return {"--model": str(m)}


@case(r"has no tokenizer files")
def model_without_tokenizer(env, tmp):
    m = _model_copy(env, tmp)
    for f in m.iterdir():
        if "token" in f.name or f.name.startswith("vocab"):
            f.unlink()
    return {"--model": str(m)}


@case(r"holds only pickle weights \(pytorch_model\.bin\).*pass --allow-pickle")
def pickle_only_weights(env, tmp):
    from safetensors.torch import load_file

    m = _model_copy(env, tmp)
    torch.save(load_file(m / "model.safetensors"), m / "pytorch_model.bin")
    (m / "model.safetensors").unlink()
    return {"--model": str(m)}


@case(r"the weights in '.*' cannot be read .*corrupted or truncated")
def corrupted_safetensors(env, tmp):
    m = _model_copy(env, tmp)
    (m / "model.safetensors").write_bytes(b"\x00" * 64 + b"not a safetensors file")
    return {"--model": str(m)}


@case(r"the weights in '.*' cannot be read .*corrupted or truncated")
def truncated_safetensors(env, tmp):
    m = _model_copy(env, tmp)
    raw = (m / "model.safetensors").read_bytes()
    (m / "model.safetensors").write_bytes(raw[: len(raw) // 2])
    return {"--model": str(m)}


@case(r"config\.json in '.*' cannot be read")
def invalid_config_json(env, tmp):
    m = _model_copy(env, tmp)
    (m / "config.json").write_text("{ this is not json")
    return {"--model": str(m)}


@case(r"the tokenizer has \d+ tokens but the model's embedding matrix has only \d+ rows")
def tokenizer_model_vocab_mismatch(env, tmp):
    m = make_tiny_classifier("roberta", tmp / "roberta", LABELS)  # 600-token BPE vocabulary
    for f in m.iterdir():
        if f.name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                      "special_tokens_map.json"):
            f.unlink()
    for f in env.model.iterdir():  # the 30k-token WordPiece tokenizer of the BERT model
        if "token" in f.name or f.name.startswith("vocab"):
            shutil.copy2(f, m / f.name)
    return {"--model": str(m)}


@case(r"has no trained classification head")
def model_without_head(env, tmp):
    from transformers import BertModel

    m = _model_copy(env, tmp)
    (m / "model.safetensors").unlink()
    BertModel.from_pretrained(env.model).save_pretrained(m)  # the encoder only
    return {"--model": str(m)}


# -- settings ---------------------------------------------------------------------------------------
@case(r"k = 10000000 is larger than the vocabulary \(\d+ tokens\)")
def k_larger_than_vocab(env, tmp):
    return {"--k": "10000000"}


@case(r"k must be at least 1 \(got 0\)")
def k_zero(env, tmp):
    return {"--k": "0"}


@case(r"budget 0\.0 is not a fraction between 0 and 1")
def budget_zero(env, tmp):
    return {"--k": None, "--budget": "0"}


@case(r"budget -0\.1 is not a fraction between 0 and 1")
def budget_negative(env, tmp):
    return {"--k": None, "--budget": "-0.1"}


@case(r"budget 1\.0 is not a fraction between 0 and 1")
def budget_one(env, tmp):
    return {"--k": None, "--budget": "1"}


@case(r"budget 2\.5 is not a fraction between 0 and 1")
def budget_above_one(env, tmp):
    return {"--k": None, "--budget": "2.5"}


@case(r"budget nan is not a fraction")
def budget_nan(env, tmp):
    return {"--k": None, "--budget": "nan"}


@case(r"does not even cover the classification head")
def budget_too_small_for_head(env, tmp):
    return {"--k": None, "--budget": "0.00001"}


@case(r"output directory '.*' already exists")
def output_directory_exists(env, tmp):
    out = tmp / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    return {"--out": str(out)}


@case(r"cannot create the output directory's parent")
def output_parent_is_a_file(env, tmp):
    (tmp / "afile").write_text("x")
    return {"--out": str(tmp / "afile" / "run")}


@case(r"CUDA was requested but no CUDA GPU is available",
      skip="a CUDA GPU is present" if torch.cuda.is_available() else None)
def cuda_without_gpu(env, tmp):
    return {"--device": "cuda"}


@case(r"unknown device 'tpu'")
def unknown_device(env, tmp):
    return {"--device": "tpu"}


@case(r"unknown method 'magic'.*Available: .*steu")
def unknown_method(env, tmp):
    return {"--method": "magic"}


@case(r"--settings is not valid JSON")
def settings_not_json(env, tmp):
    return {"--settings": "{max_steps: 3"}


@case(r"--settings must be a JSON object")
def settings_not_an_object(env, tmp):
    return {"--settings": "[1, 2]"}


@case(r"unknown setting\(s\) learning_rate for this method")
def settings_unknown_key(env, tmp):
    return {"--settings": '{"learning_rate": 0.1}'}


@case(r"setting 'max_steps' must be int \(got str 'ten'\)")
def settings_wrong_type(env, tmp):
    return {"--settings": '{"max_steps": "ten"}'}


@case(r"setting 'lr_rows' must be a positive number")
def settings_negative_learning_rate(env, tmp):
    return {"--settings": '{"lr_rows": -1}'}


@case(r"--max-length 4096 is longer than this model accepts \(256 tokens\)")
def max_length_beyond_model(env, tmp):
    return {"--max-length": "4096"}


@case(r"--max-length must be a whole number of at least 8")
def max_length_too_small(env, tmp):
    return {"--max-length": "2"}


@case(r"--min-forget must be a whole number of at least 1")
def min_forget_zero(env, tmp):
    return {"--min-forget": "0"}


@case(r"--batch-size must be a whole number of at least 1")
def batch_size_zero(env, tmp):
    return {"--batch-size": "0"}


def _train_with_ids(env, tmp) -> str:
    return _file(tmp, "train_ids.csv", _csv_rows([(f"N{i}", t, y) for i, (t, y) in enumerate(env.train_rows)],
                                                 header=("note_id", "text", "label")))


@case(r"2 of 4 id\(s\) are not in the training file .*'Z1', 'Z2'.*--id-column")
def forget_ids_unknown(env, tmp):
    wanted = [f"N{i}" for i, (_, y) in enumerate(env.train_rows) if y == "substance"][:2]
    return {"--train": _train_with_ids(env, tmp), "--min-forget": "1",
            "--forget-ids": _file(tmp, "ids.txt", "\n".join(wanted + ["Z1", "Z2"]))}


@case(r"id '\w+' names two notes \(rows \d+ and \d+\).*--id-column")
def forget_ids_column_is_no_id_column(env, tmp):
    return {"--train": _train_with_ids(env, tmp), "--id-column": "label",
            "--forget-ids": _file(tmp, "ids.csv", "label\nN1\n")}


@pytest.mark.parametrize("build,expect", CASES)
def test_bad_input_is_refused_cleanly(build, expect, env, tmp_path, capsys):
    out = tmp_path / "run"
    args = base_args(env, out)
    args.update(build(env, tmp_path) or {})
    out = Path(args["--out"])
    before_out = snapshot(out)
    before_model = hash_directory(env.model)
    code, stdout, stderr = run_cli(argv_of(args), capsys)
    assert code == 2, (code, stderr)
    assert stderr.startswith("error: "), stderr
    assert re.search(expect, stderr, flags=re.S), stderr
    assert "Traceback" not in stdout + stderr and "internal error" not in stderr
    assert stderr.count("\n") <= 2, "one message, not a dump"
    assert_nothing_finished(out, before_out, tmp_path)
    assert hash_directory(env.model) == before_model, "the input model directory must never change"


def test_at_least_thirty_bad_inputs():
    assert len(CASES) >= 30


def test_headerless_file_never_echoes_the_note(env, tmp_path, capsys):
    """The 'column names' of a file without a header are its first note: never in a message."""
    note = "Jane Roe MRN 4471 seen for opioid withdrawal"
    args = base_args(env, tmp_path / "run")
    args["--train"] = _file(tmp_path, "train.csv", _csv_rows([(note, "substance")] + env.train_rows, header=None))
    code, stdout, stderr = run_cli(argv_of(args), capsys)
    assert code == 2 and "Jane" not in stderr + stdout and "4471" not in stderr + stdout


# ------------------------------------------------------------------------------------------------
# Resources: a full disk, an exhausted GPU.

def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["model", "patch", "results", "everything"])
def test_disk_full_fails_cleanly(where, env, tmp_path, capsys, monkeypatch):
    from steu_core.runs import pipeline as runs, staging

    if where == "model":
        monkeypatch.setattr(runs, "write_model", _enospc)
    elif where == "patch":
        monkeypatch.setattr(runs, "save_patch", _enospc)
    elif where == "results":
        real = runs.write_json_atomic

        def failing(path, obj):
            if Path(path).name == "results.json":
                _enospc()
            return real(path, obj)
        monkeypatch.setattr(runs, "write_json_atomic", failing)
    else:  # from the first progress write on, every write fails, the failure report included
        monkeypatch.setattr(runs, "write_json_atomic", _enospc)
        monkeypatch.setattr(staging, "write_json_atomic", _enospc)
        monkeypatch.setattr(runs, "write_model", _enospc)
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(argv_of(base_args(env, out)), capsys)
    assert code == 2, stderr
    assert "the disk is full (no space left on device)" in stderr and "Free disk space" in stderr
    assert "Traceback" not in stderr
    assert_nothing_finished(out, None, tmp_path)
    if where == "everything":
        assert not staging_dir(out).exists(), "when not even progress.json can be written, staging goes entirely"
    # the failure is on record: a request entry and a failed run entry
    kinds = [(e["kind"], e["payload"].get("outcome")) for e in Ledger().entries()]
    if where != "everything":
        assert kinds[-1] == ("run", "failed")


@pytest.mark.parametrize("where", ["scoring", "training"])
def test_gpu_out_of_memory_says_what_to_do(where, env, tmp_path, capsys, monkeypatch):
    import steu_core.methods.pools as steu_method  # the training step scores its pools there
    from steu_core.runs import pipeline as runs

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    if where == "scoring":
        monkeypatch.setattr(runs, "compute_logits", oom)
    else:
        monkeypatch.setattr(steu_method, "pool_logits", oom)
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(argv_of(base_args(env, out)), capsys)
    assert code == 2, stderr
    # the runner's message (or the training loop's own, after it retried in smaller micro-batches)
    assert re.search(r"out of (gpu |cpu )?memory|ran out of memory", stderr, flags=re.I), stderr
    assert "--device cpu" in stderr and ("--batch-size" in stderr or "--max-length" in stderr)
    assert "Traceback" not in stderr
    assert_nothing_finished(out, None, tmp_path)


def test_unexpected_error_shows_no_message_text(env, tmp_path, capsys, monkeypatch):
    """An internal error names its type and place, never its message (which could quote a note)."""
    from steu_core.runs import pipeline as runs

    def boom(*args, **kwargs):
        raise ValueError("'Jane Roe, MRN 4471' is not in list")
    monkeypatch.setattr(runs, "compute_logits", boom)
    code, stdout, stderr = run_cli(argv_of(base_args(env, tmp_path / "run")), capsys)
    assert code == 1
    assert "internal error: ValueError at " in stderr and "STEU_DEBUG" in stderr
    assert "Jane" not in stderr and "4471" not in stderr
    assert_nothing_finished(tmp_path / "run", None, tmp_path)


# ------------------------------------------------------------------------------------------------
# Inputs that are accepted, with something to report.

def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_duplicate_forget_rows_are_counted_and_warned(env, tmp_path, capsys):
    args = base_args(env, tmp_path / "run")
    args["--forget"] = _file(tmp_path, "forget.csv", _csv_rows(env.forget_rows + env.forget_rows[:3]))
    code, stdout, stderr = run_cli(argv_of(args), capsys)
    assert code == 0, stderr
    r = _results(tmp_path / "run")
    assert r["data"]["forget"]["duplicate_rows"] == 3
    assert any("3 duplicate row(s)" in w for w in r["warnings"])
    assert "warning: the forget set holds 3 duplicate row(s)" in stdout


def test_forget_note_duplicated_in_retain_is_warned(env, tmp_path, capsys):
    args = base_args(env, tmp_path / "run")
    other = next(r for r in env.train_rows if r[1] == "cardiac")
    args["--forget"] = _file(tmp_path, "forget.csv", _csv_rows(env.forget_rows + [(other[0], "substance")]))
    code, stdout, stderr = run_cli(argv_of(args), capsys)
    assert code == 0, stderr
    assert "1 forget-set note(s) also appear, with another label" in stdout
    assert any("forget row 13 = training row" in w for w in _results(tmp_path / "run")["warnings"])


def test_forget_notes_in_eval_are_warned(env, tmp_path, capsys):
    args = base_args(env, tmp_path / "run")
    eval_rows = make_notes(6, seed=2) + env.forget_rows[:2]
    args["--eval"] = _file(tmp_path, "eval.csv", _csv_rows(eval_rows))
    code, stdout, stderr = run_cli(argv_of(args), capsys)
    assert code == 0, stderr
    assert "forget-set note(s) also appear in the evaluation file" in stdout
    assert any("also appear in the evaluation file" in w for w in _results(tmp_path / "run")["warnings"])


def test_long_notes_are_truncated_counted_and_reported(env, tmp_path, capsys):
    filler = " ".join(["patient seen in clinic vitals stable"] * 800)  # ~ 5000 tokens
    rows = list(env.train_rows)
    rows[0] = (rows[0][0] + " " + filler, rows[0][1])
    # the two long forget notes say their own text again after the filler: the model never reads that copy
    forget = [(t + " " + filler + " " + t, l) if i < 2 else (t, l) for i, (t, l) in enumerate(env.forget_rows)]
    args = base_args(env, tmp_path / "run")
    args["--train"] = _file(tmp_path, "train.csv", _csv_rows(rows))
    args["--forget"] = _file(tmp_path, "forget.csv", _csv_rows(forget))
    code, stdout, stderr = run_cli(argv_of(args), capsys)
    assert code == 0, stderr
    t = _results(tmp_path / "run")["data"]["truncated_notes"]
    assert t["forget"] == 2 and t["max_length"] == 48
    assert t["retain"] == (0 if rows[0][1] == "substance" else 1)
    assert re.search(r"note: 2 forget.* note\(s\) were longer than 48 tokens and were truncated", stdout)
    beyond = _results(tmp_path / "run")["coverage"]["beyond_limit"]  # the selected tokens in the cut-off text
    assert beyond["max_length"] == 48 and 0 < beyond["beyond_limit"] < beyond["occurrences"]
    assert beyond["fraction"] == beyond["beyond_limit"] / beyond["occurrences"]
    assert f"occurrences of the selected tokens, {beyond['beyond_limit']:,} (" in stdout


def test_allow_pickle_accepts_pickle_weights(env, tmp_path, capsys):
    args = base_args(env, tmp_path / "run")
    args.update(pickle_only_weights(env, tmp_path))
    code, stdout, stderr = run_cli(argv_of(args, extra=["--allow-pickle"]), capsys)
    assert code == 0, stderr
    assert _results(tmp_path / "run")["param_diff_verdict"] == "pass"


FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3 denies pain", "@SUM(A1:A2)", "\t=1+1", "=HYPERLINK(\"http://x\")"]
HTML = ["<script>alert('steu')</script> chest pain", "<img src=x onerror=alert(1)> cough"]


def test_formula_and_html_in_notes_are_inert(env, tmp_path, capsys):
    """Notes that are formulas or markup are data: the run works, nothing echoes them."""
    rows = list(env.train_rows)
    for i, payload in enumerate(FORMULAS + HTML):
        rows[i] = (payload + " " + rows[i][0], rows[i][1])
    # the forget notes carry a formula too, and (as a forget set must) they are training notes
    rows = [(FORMULAS[0] + " " + t, lab) if (t, lab) in set(env.forget_rows) else (t, lab) for t, lab in rows]
    forget = [(FORMULAS[0] + " " + t, lab) for t, lab in env.forget_rows]
    args = base_args(env, tmp_path / "run")
    args["--train"] = _file(tmp_path, "train.csv", _csv_rows(rows))
    args["--forget"] = _file(tmp_path, "forget.csv", _csv_rows(forget))
    code, stdout, stderr = run_cli(argv_of(args), capsys)
    assert code == 0, stderr
    for f in (tmp_path / "run").rglob("*"):
        if f.is_file():
            raw = f.read_bytes()
            for payload in ("cmd|", "SUM(", "<script", "onerror"):
                assert payload.encode() not in raw, (f, payload)
    assert "<script" not in stdout + stderr and "cmd|" not in stdout + stderr


def test_every_csv_written_is_formula_safe(tmp_path):
    notes = NoteSet(texts=tuple(FORMULAS + HTML + ["plain note"]), labels=("=a",) + ("b",) * (len(FORMULAS) + 2),
                    name="x")
    path = write_notes(notes, tmp_path / "out.csv")
    with open(path, newline="") as f:
        cells = [c for row in csv.reader(f) for c in row]
    risky = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert not risky, risky
    assert "'=cmd|' /C calc'!A0" in cells and "plain note" in cells
    # JSONL/Parquet stay exact, and a CSV can be written exactly when asked
    for ext in ("jsonl", "parquet"):
        assert load_notes(write_notes(notes, tmp_path / f"out.{ext}")).sha256 == notes.sha256
    exact = write_notes(notes, tmp_path / "exact.csv", formula_safe=False)
    assert load_notes(exact).sha256 == notes.sha256


def test_safety_helpers():
    assert csv_safe_cell("=1+1") == "'=1+1" and csv_safe_cell("@x") == "'@x" and csv_safe_cell("ok") == "ok"
    assert csv_safe_cell(-3) == -3 and csv_safe_cell("-0.25") == "-0.25" and csv_safe_cell("+3e-4") == "+3e-4"
    assert csv_safe_cell("-2+3") == "'-2+3" and csv_safe_cell("-") == "'-"  # numbers pass, formulas do not
    assert csv_safe_row(["=A1", 1.5, "ok"]) == ["'=A1", 1.5, "ok"]
    assert html_text("<script>alert('x')</script>") == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert shown_value("cardiac") == "'cardiac'"
    long_note = "pt with hx of IVDU presents with fever and new murmur"
    assert long_note not in shown_value(long_note) and "not shown" in shown_value(long_note)
    assert "not shown" in shown_value("line\nbreak")


# ------------------------------------------------------------------------------------------------
# Property-based: the loaders never raise anything but DataError, and formats round-trip.

LOADER_SETTINGS = settings(max_examples=60, deadline=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _load_or_data_error(path: Path):
    try:
        notes = load_notes(path)
    except DataError as exc:
        assert "Traceback" not in str(exc)
        return None
    assert len(notes) >= 1 and all(t.strip() for t in notes.texts) and all(notes.labels)
    return notes


@LOADER_SETTINGS
@given(raw=st.binary(max_size=600), ext=st.sampled_from(["csv", "tsv", "jsonl", "parquet"]))
def test_arbitrary_bytes_only_ever_raise_data_error(raw, ext, tmp_path):
    p = tmp_path / f"fuzz.{ext}"
    p.write_bytes(raw)
    _load_or_data_error(p)


CSVISH = st.text(alphabet=st.sampled_from(list('ab,;"\n\r\t =-+@\\\'{}[]:1é\u2028\x00')), max_size=200)


@LOADER_SETTINGS
@given(body=CSVISH, header=st.sampled_from(["text,label\n", "note,class\n", "", "text\n", "label,text,text2\n"]),
       ext=st.sampled_from(["csv", "tsv", "jsonl"]))
def test_csvish_text_only_ever_raises_data_error(body, header, ext, tmp_path):
    p = tmp_path / f"fuzz.{ext}"
    p.write_text(header + body, encoding="utf-8")
    _load_or_data_error(p)


@LOADER_SETTINGS
@given(records=st.lists(st.fixed_dictionaries({
    "text": st.one_of(st.text(max_size=30), st.integers(), st.none(), st.lists(st.integers(), max_size=2)),
    "label": st.one_of(st.text(max_size=8), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none())}),
    max_size=6))
def test_jsonl_records_only_ever_raise_data_error(records, tmp_path):
    p = tmp_path / "fuzz.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in records))
    _load_or_data_error(p)


NOTE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                    max_size=60).filter(lambda s: s.strip() != "")
LABEL = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd"), max_codepoint=0x2FF), min_size=1,
                max_size=10).filter(lambda s: s == s.strip() and not s.isdigit())


@LOADER_SETTINGS
@given(rows=st.lists(st.tuples(NOTE_TEXT, LABEL), min_size=1, max_size=8))
def test_valid_frames_round_trip_with_the_same_hash(rows, tmp_path):
    texts, labels = [r[0] for r in rows], [r[1] for r in rows]
    original = NoteSet(texts=tuple(texts), labels=tuple(labels), name="generated")
    write_notes(original, tmp_path / "a.csv", formula_safe=False)  # exact CSV (formula-safe is for people)
    write_notes(original, tmp_path / "a.tsv", formula_safe=False)
    write_notes(original, tmp_path / "a.jsonl")
    pd.DataFrame({"text": texts, "label": labels}).to_parquet(tmp_path / "a.parquet", index=False)
    expected = content_sha256(texts, labels)
    assert original.sha256 == expected
    for ext in ("csv", "tsv", "jsonl", "parquet"):
        notes = load_notes(tmp_path / f"a.{ext}")
        assert notes.texts == tuple(texts), ext
        assert notes.labels == tuple(labels), ext
        assert notes.sha256 == expected, ext


def test_forget_notes_saved_with_crlf_or_cr_line_endings_match_the_training_notes():
    """A forget file saved on Windows (CRLF) or an old Mac (CR) holds the training file's notes with other
    line breaks: they are the same notes (note hashes normalise line endings, docs/CONTRACTS.md)."""
    from steu_core.data import find_overlap
    from steu_core.runs.prepare import training_members

    lf = ["seen today\nchest pain", "heroin use\n\nwithdrawal", "one line"]
    train = NoteSet(tuple(lf), ("a", "b", "c"), "train.csv")
    for ending in ("\r\n", "\r"):
        forget = NoteSet(tuple(t.replace("\n", ending) for t in lf), ("a", "b", "c"), "forget.csv")
        assert training_members(forget, train).all(), repr(ending)
        assert find_overlap(forget, train) == [(1, 1), (2, 2), (3, 3)]
    other = NoteSet(("seen today chest pain",), ("a",), "forget.csv")  # other text still differs
    assert not training_members(other, train).any()
