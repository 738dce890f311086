"""Every CLI path ends in success or exit 2 with a specific ``error:`` (issue 15): one row per bad
input of train, patch, report's output path, data loading and the data directory. Each row checks
the exit code, a fragment of the message, that no "internal error" was printed, and that nothing
was written: the listing of the scratch folder (where every --out points) and of the data directory
is the same after the command as before (lock files, kept by design, and a failed run's staging
progress aside)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import CLASS_WORDS, make_notes, write_csv
from tiny_models import make_tiny_classifier

from steu_core.audits.param_diff import load_state
from steu_core.cli import main
from steu_core.patch import make_patch, save_patch

ROOT = Path(__file__).resolve().parent.parent
LABELS = sorted(CLASS_WORDS)
FAST = '{"max_steps": 3, "min_df": 2}'
SETPRIV = shutil.which("setpriv")
# root reads and writes files whatever their permission bits; without these two capabilities it does not
DROP_DAC = ["--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_errors")
    model = make_tiny_classifier("bert", d / "model", LABELS)
    state = load_state(model)
    emb = next(k for k in state if k.endswith("word_embeddings.weight"))
    head = next(k for k in state if k.startswith("classifier.") and k.endswith("weight"))
    after = dict(state)
    after[emb] = state[emb].clone()
    after[emb][[5, 6]] += 1.0
    after[head] = state[head] + 0.5
    patch = make_patch(state, after, emb)
    save_patch(patch, d / "patch.safetensors")
    return SimpleNamespace(dir=d, model=model, patch=patch, emb=emb, head=head,
                           train=write_csv(d / "train.csv", make_notes(12, seed=1)))


def _patch_variant(env, tmp: Path, name: str, change) -> str:
    """A copy of the good patch with ``change(tensors, metadata)`` applied, saved as ``name``."""
    tensors = {k: v.clone() for k, v in env.patch["tensors"].items()}
    meta = dict(env.patch["metadata"])
    change(tensors, meta)
    save_patch({"tensors": tensors, "metadata": meta}, tmp / name)
    return str(tmp / name)


def _unlearn(env, out: Path, **changes) -> list[str]:
    args = {"--model": str(env.model), "--train": str(env.train), "--eval": str(env.train),
            "--forget-class": "substance", "--out": str(out), "--device": "cpu", "--k": "4", "--settings": FAST,
            "--min-forget": "5", "--max-length": "48", **changes}
    return ["unlearn", "--quiet"] + [x for kv in args.items() for x in kv]


def _train(env, out: Path, *extra) -> list[str]:
    return ["train", "--quiet", "--base", str(env.model), "--train", str(env.train), "--out", str(out),
            "--device", "cpu", *extra]


def _patch(env, out: Path, patch=None, model=None) -> list[str]:
    return ["patch", "apply", "--model", str(model or env.model), "--patch", str(patch or env.dir / "patch.safetensors"),
            "--out", str(out)]


def _fifo(tmp: Path, name: str) -> str:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    os.mkfifo(tmp / name)
    return str(tmp / name)


# ------------------------------------------------------------------------------------------------
# The rows: each builder gets (env, tmp, monkeypatch) and returns the argv. ``unprivileged``: the
# command must run without root's power to ignore permission bits.

ROWS = []


def row(message: str, unprivileged: bool = False):
    def deco(fn):  # values: (builder, message, unprivileged)
        ROWS.append(pytest.param(fn, message, unprivileged, id=fn.__name__))
        return fn
    return deco


@row(r"--epochs must be a whole number of at least 1")
def train_zero_epochs(env, tmp, mp):
    return _train(env, tmp / "out", "--epochs", "0")


@row(r"--batch-size must be a whole number of at least 1")
def train_zero_batch_size(env, tmp, mp):
    return _train(env, tmp / "out", "--batch-size", "0")


@row(r"--lr must be a positive learning rate.*got -1\.0")
def train_negative_lr(env, tmp, mp):
    return _train(env, tmp / "out", "--lr", "-1")


@row(r"--lr must be a positive learning rate.*got nan")
def train_nan_lr(env, tmp, mp):
    return _train(env, tmp / "out", "--lr", "nan")


@row(r"--max-length must be a whole number of at least 8")
def train_zero_max_length(env, tmp, mp):
    return _train(env, tmp / "out", "--max-length", "0")


@row(r"--out '/proc/steu-test/model' cannot be written: no file can be made in '/proc'")
def train_out_under_proc(env, tmp, mp):
    return _train(env, Path("/proc/steu-test/model"))


@row(r"--out '.*' cannot be written: '.*a_file' is a file, not a folder")
def train_out_below_a_file(env, tmp, mp):
    (tmp / "a_file").write_text("x")
    return _train(env, tmp / "a_file" / "model")


@row(r"file '.*nowhere\.safetensors': file not found")
def patch_file_missing(env, tmp, mp):
    return _patch(env, tmp / "out", patch=tmp / "nowhere.safetensors")


@row(r"file 'garbage\.safetensors': cannot be read as a safetensors patch")
def patch_file_garbage(env, tmp, mp):
    (tmp / "garbage.safetensors").write_bytes(b"\x00\x01 not a patch at all")
    return _patch(env, tmp / "out", patch=tmp / "garbage.safetensors")


@row(r"file 'other\.safetensors': is not a STEU patch")
def patch_file_of_another_kind(env, tmp, mp):
    return _patch(env, tmp / "out", patch=_patch_variant(env, tmp, "other.safetensors",
                                                         lambda t, m: m.update(format="pt")))


@row(r"file 'far\.safetensors': changes embedding row 1000000000, but this model's embedding has rows 0 to")
def patch_row_id_out_of_range(env, tmp, mp):
    return _patch(env, tmp / "out", patch=_patch_variant(env, tmp, "far.safetensors",
                                                         lambda t, m: t["row_ids"].__setitem__(0, 10**9)))


@row(r"file 'lists\.safetensors': is incomplete: it has no before\.no\.such\.tensor")
def patch_metadata_names_a_tensor_it_lacks(env, tmp, mp):
    def change(t, m):
        m["tensors"] = json.dumps(json.loads(m["tensors"]) + ["no.such.tensor"])
    return _patch(env, tmp / "out", patch=_patch_variant(env, tmp, "lists.safetensors", change))


@row(r"file 'foreign\.safetensors': changes tensor 'pooler\.extra', which this model does not have")
def patch_names_a_tensor_the_model_lacks(env, tmp, mp):
    def change(t, m):
        t["before.pooler.extra"], t["after.pooler.extra"] = torch.zeros(2), torch.ones(2)
        m["tensors"] = json.dumps(json.loads(m["tensors"]) + ["pooler.extra"])
    return _patch(env, tmp / "out", patch=_patch_variant(env, tmp, "foreign.safetensors", change))


@row(r"file '.*pipe\.safetensors': is a named pipe \(FIFO\), not a regular file")
def patch_file_is_a_fifo(env, tmp, mp):
    return _patch(env, tmp / "out", patch=_fifo(tmp, "pipe.safetensors"))


@row(r"model directory '.*nomodel' does not exist")
def patch_model_missing(env, tmp, mp):
    return _patch(env, tmp / "out", model=tmp / "nomodel")


@row(r"--out '/proc/steu-test/patched' cannot be written")
def patch_out_under_proc(env, tmp, mp):
    return _patch(env, Path("/proc/steu-test/patched"))


@row(r"--out '.*' cannot be written: '.*a_file' is a file, not a folder")
def patch_out_below_a_file(env, tmp, mp):
    (tmp / "a_file").write_text("x")
    return _patch(env, tmp / "a_file" / "sub" / "patched")


@row(r"--out '/proc/steu-report\.pdf' cannot be written: no file can be made in '/proc'")
def report_out_under_proc(env, tmp, mp):
    return ["report", "--run", str(tmp), "--out", "/proc/steu-report.pdf"]


@row(r"--out '.*folder' is an existing folder")
def report_out_is_a_folder(env, tmp, mp):
    (tmp / "folder").mkdir()
    return ["report", "--run", str(tmp), "--out", str(tmp / "folder")]


@row(r"--json '/proc/steu-report\.json' cannot be written")
def report_json_under_proc(env, tmp, mp):
    return ["report", "--run", str(tmp), "--out", str(tmp / "r.pdf"), "--json", "/proc/steu-report.json"]


# issue 30: generic errors and wrongly accepted values, each refused specifically before any work
@row(r"--seed must be a whole number from 0 to 4294967295; got -1")
def unlearn_negative_seed(env, tmp, mp):
    return _unlearn(env, tmp / "out", **{"--seed": "-1"})


@row(r"--seed must be a whole number from 0 to 4294967295; got 1180591620717411303424")
def unlearn_huge_seed(env, tmp, mp):
    return _unlearn(env, tmp / "out", **{"--seed": str(2 ** 70)})


@row(r"--seed must be a whole number from 0 to 4294967295; got -1")
def train_negative_seed(env, tmp, mp):
    return _train(env, tmp / "out", "--seed", "-1")


@row(r"--seed must be a whole number from 0 to 4294967295; got 1180591620717411303424")
def train_huge_seed(env, tmp, mp):
    return _train(env, tmp / "out", "--seed", str(2 ** 70))


@row(r"--wait must be a number of seconds, 0 or more; got nan")
def unlearn_wait_nan(env, tmp, mp):
    return _unlearn(env, tmp / "out", **{"--wait": "nan"})


@row(r"--wait must be a number of seconds, 0 or more; got -1\.0")
def unlearn_wait_negative(env, tmp, mp):
    return _unlearn(env, tmp / "out", **{"--wait": "-1"})


@row(r"--request-id is 100,000 characters long; at most 1,000 are recorded")
def unlearn_request_id_too_long(env, tmp, mp):
    return _unlearn(env, tmp / "out", **{"--request-id": "R" * 100_000})


@row(r"k = 1000000000 is larger than the vocabulary")
def unlearn_k_beyond_the_vocabulary(env, tmp, mp):
    return _unlearn(env, tmp / "out", **{"--k": "1000000000"})


@row(r"budget 0\.000000 .* does not even cover")
def unlearn_budget_below_the_head(env, tmp, mp):
    argv = _unlearn(env, tmp / "out")
    i = argv.index("--k")
    return argv[:i] + ["--budget", "1e-12"] + argv[i + 2:]


@row(r"the weights in '.*nan_model' hold NaN or infinite values \(tensor .*\)")
def unlearn_model_with_nan_weights(env, tmp, mp):
    from safetensors.torch import save_file

    model = tmp / "nan_model"
    shutil.copytree(env.model, model)
    state = load_state(model)
    state[env.head] = torch.full_like(state[env.head], float("nan"))
    save_file(state, str(model / "model.safetensors"), metadata={"format": "pt"})
    return _unlearn(env, tmp / "out", **{"--model": str(model)})


@row(r"training diverged: the loss became nan at step \d+ \(--lr 1e\+06\)")
def train_lr_that_diverges(env, tmp, mp):
    return _train(env, tmp / "out", "--lr", "1e6")


@row(r"the evaluation file has only notes of the forget class .substance., none of the retained classes")
def unlearn_eval_without_held_out_notes(env, tmp, mp):
    forget = write_csv(tmp / "forget_only.csv", [r for r in make_notes(12, seed=1) if r[1] == "substance"])
    return _unlearn(env, tmp / "out", **{"--eval": str(forget)})


# issue 30: every output path is a new or an existing regular file, replaced only with --overwrite
@row(r"--html '/dev/null' is not a regular file \(a device, a FIFO or a socket\)")
def report_html_onto_a_device(env, tmp, mp):
    return ["report", "--run", str(tmp), "--html", "/dev/null", "--overwrite"]


@row(r"--html '.*pipe\.html' is not a regular file")
def report_html_onto_a_fifo(env, tmp, mp):
    return ["report", "--run", str(tmp), "--html", _fifo(tmp, "pipe.html")]


@row(r"--html '.*notes\.csv' already exists; an output is never overwritten silently.*--overwrite")
def report_html_onto_an_existing_file(env, tmp, mp):
    (tmp / "notes.csv").write_text("text,label\n")
    return ["report", "--run", str(tmp), "--html", str(tmp / "notes.csv")]


@row(r"--html '.*link\.html' is a symbolic link")
def report_html_onto_a_symlink(env, tmp, mp):
    (tmp / "target.html").write_text("<p>kept</p>")
    (tmp / "link.html").symlink_to(tmp / "target.html")
    return ["report", "--run", str(tmp), "--html", str(tmp / "link.html"), "--overwrite"]


@row(r"--html '.*folder' is an existing folder")
def report_html_is_a_folder(env, tmp, mp):
    (tmp / "folder").mkdir()
    return ["report", "--run", str(tmp), "--html", str(tmp / "folder")]


@row(r"--html '.*' cannot be written: '.*a_file' is a file, not a folder")
def report_html_below_a_file(env, tmp, mp):
    (tmp / "a_file").write_text("x")
    return ["report", "--run", str(tmp), "--html", str(tmp / "a_file" / "p.html")]


@row(r"--json '.*old\.json' already exists")
def report_json_onto_an_existing_file(env, tmp, mp):
    (tmp / "old.json").write_text("{}")
    return ["report", "--run", str(tmp), "--out", str(tmp / "r.pdf"), "--json", str(tmp / "old.json")]


@row(r"--json writes the PDF report's content, so it needs --out")
def report_json_without_out(env, tmp, mp):
    return ["report", "--run", str(tmp), "--html", str(tmp / "p.html"), "--json", str(tmp / "r.json")]


@row(r"--out '.*pipe\.pdf' is not a regular file")
def report_out_onto_a_fifo(env, tmp, mp):
    return ["report", "--run", str(tmp), "--out", _fifo(tmp, "pipe.pdf"), "--overwrite"]


@row(r"file '.*notes\.csv': is a named pipe \(FIFO\), not a regular file")
def data_file_is_a_fifo(env, tmp, mp):
    return _unlearn(env, tmp / "out", **{"--train": _fifo(tmp, "notes.csv")})


@row(r"file '.*zero\.csv': is a character device, not a regular file")
def data_file_links_to_dev_zero(env, tmp, mp):
    (tmp / "zero.csv").symlink_to("/dev/zero")
    return _unlearn(env, tmp / "out", **{"--train": str(tmp / "zero.csv")})


@row(r"file 'wide\.csv': looks like UTF-16 text without a byte-order mark UTF-16: save as UTF-8")
def data_file_utf16_without_bom(env, tmp, mp):
    (tmp / "wide.csv").write_bytes(Path(env.train).read_text().encode("utf-16-le"))
    return _unlearn(env, tmp / "out", **{"--train": str(tmp / "wide.csv")})


@row(r"file 'broken16\.csv': starts with a UTF-16 byte-order mark but is not valid UTF-16")
def data_file_bad_utf16_after_bom(env, tmp, mp):
    (tmp / "broken16.csv").write_bytes(b"\xff\xfe" + "text,label\n".encode("utf-16-le") + b"\x00\xdc\x41")
    return _unlearn(env, tmp / "out", **{"--train": str(tmp / "broken16.csv")})


@row(r"the data folder '/proc/steu-home' cannot be made or used.*Set STEU_HOME")
def data_dir_cannot_be_made(env, tmp, mp):
    mp.setenv("STEU_HOME", "/proc/steu-home")
    return _unlearn(env, tmp / "out")


@row(r"the data folder '.*home_file' cannot be made or used \(Not a directory\).*Set STEU_HOME")
def data_dir_is_a_file(env, tmp, mp):
    (tmp / "home_file").write_text("x")
    mp.setenv("STEU_HOME", str(tmp / "home_file"))
    return _unlearn(env, tmp / "out")


@row(r"the data folder '.*read_only_home/locks' cannot be made or used \(Permission denied\)", unprivileged=True)
def data_dir_not_writable(env, tmp, mp):
    (tmp / "read_only_home").mkdir(mode=0o500)
    mp.setenv("STEU_HOME", str(tmp / "read_only_home"))
    return _unlearn(env, tmp / "out")


@row(r"file '.*model\.safetensors': cannot be read: permission denied", unprivileged=True)
def model_file_unreadable(env, tmp, mp):
    model = tmp / "model"
    shutil.copytree(env.model, model)
    (model / "model.safetensors").chmod(0)
    return _unlearn(env, tmp / "out", **{"--model": str(model)})


@row(r"file '.*secret\.csv': cannot be read: permission denied", unprivileged=True)
def data_file_unreadable(env, tmp, mp):
    shutil.copy(env.train, tmp / "secret.csv")
    (tmp / "secret.csv").chmod(0)
    return _train(env, tmp / "out", "--train", str(tmp / "secret.csv"))


# ------------------------------------------------------------------------------------------------

def _listing(root: Path) -> list[str]:
    """Everything under ``root``, except lock files (kept by design) and a failed run's staging
    progress record (issue 15 deliverable 4 removes those; this test does not depend on it)."""
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] == "locks" or re.fullmatch(r"\..*\.partial", rel.parts[0]):
            continue
        out.append(f"{rel}{'/' if p.is_dir() else ''}")
    return out


def _staging_is_at_most_failed(tmp: Path) -> None:
    for stage in tmp.glob(".*.partial"):
        assert sorted(p.name for p in stage.iterdir()) == ["progress.json"], stage
        assert json.loads((stage / "progress.json").read_text())["state"] in ("failed", "cancelled")


def _run_in_process(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse
        return exc.code


# Runs several CLI commands in one child (one import of torch instead of one per row)
CHILD = """
import contextlib, io, json, os, sys
from steu_core.cli import main
for argv, home in json.loads(sys.stdin.read()):
    os.environ["STEU_HOME"] = home
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    print(json.dumps([code, err.getvalue()]))
"""


def _run_unprivileged(jobs: list[tuple[list[str], str]]) -> list[tuple[int, str]]:
    """(exit code, stderr) of each (argv, STEU_HOME) run by the CLI in one child process that
    permission bits apply to (root without its file-permission capabilities)."""
    prefix = []
    if os.geteuid() == 0:
        if not SETPRIV or subprocess.run([SETPRIV, *DROP_DAC, "true"], capture_output=True).returncode:
            pytest.skip("running as root without a way to drop the file-permission capabilities")
        prefix = [SETPRIV, *DROP_DAC]
    proc = subprocess.run([*prefix, sys.executable, "-c", CHILD], cwd=ROOT, input=json.dumps(jobs), text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [tuple(json.loads(line)) for line in proc.stdout.splitlines() if line.startswith("[")]


@pytest.fixture(scope="module")
def unprivileged(env, tmp_path_factory) -> dict:
    """Every unprivileged row built, listed and run (in one child); by row id: what the test checks."""
    built = {}
    for param in (p for p in ROWS if p.values[2]):
        scratch = tmp_path_factory.mktemp(param.id)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("STEU_HOME", str(tmp_path_factory.mktemp(f"{param.id}_home")))
            argv = param.values[0](env, scratch, mp)
            home = Path(os.environ["STEU_HOME"])
        built[param.id] = (argv, scratch, home, (_listing(scratch), _listing(home)))
    results = _run_unprivileged([(argv, str(home)) for argv, _, home, _ in built.values()])
    return {rid: (*result, scratch, home, before) for (rid, (_, scratch, home, before)), result
            in zip(built.items(), results)}


def _check_refused(code: int, err: str, message: str, scratch: Path, home: Path, before) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and "internal error" not in err and "Traceback" not in err, err
    assert re.search(message, err), err
    assert (_listing(scratch), _listing(home)) == before, "nothing may be written to --out or the data directory"
    _staging_is_at_most_failed(scratch)


@pytest.mark.parametrize("build, message", [pytest.param(*p.values[:2], id=p.id) for p in ROWS if not p.values[2]])
def test_cli_error_is_specific_and_writes_nothing(build, message, env, tmp_path, monkeypatch, capsys):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    argv = build(env, scratch, monkeypatch)
    home = Path(os.environ["STEU_HOME"])
    before = (_listing(scratch), _listing(home))
    code = _run_in_process(argv)
    _check_refused(code, capsys.readouterr().err, message, scratch, home, before)


@pytest.mark.parametrize("rid, message", [pytest.param(p.id, p.values[1], id=p.id) for p in ROWS if p.values[2]])
def test_cli_error_without_permission_is_specific(rid, message, unprivileged):
    code, err, scratch, home, before = unprivileged[rid]
    _check_refused(code, err, message, scratch, home, before)


def test_every_row_is_distinct():
    assert len(ROWS) >= 25 and len({p.id for p in ROWS}) == len(ROWS)


def test_patch_out_in_missing_folders_is_made(env, tmp_path, capsys):
    """A --out below folders that do not exist yet is written (as train and unlearn do), not refused."""
    out = tmp_path / "new" / "folders" / "patched"
    assert main(_patch(env, out)) == 0
    assert (out / "model.safetensors").is_file() and not list(out.parent.glob(".patched.*"))


def test_unexpected_os_error_on_a_named_file_is_a_user_error(env, tmp_path, monkeypatch, capsys):
    """The generic handler: an OSError about a named file that no check caught names the file and
    exits 2; any other unexpected error stays an internal error (exit 1)."""
    import steu_core.cli.train as cli_train

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/somewhere/notes.csv")

    monkeypatch.setattr(cli_train, "load_notes", refuse)
    assert main(_train(env, tmp_path / "out")) == 2
    assert "error: '/somewhere/notes.csv': Permission denied." in capsys.readouterr().err

    def bug(*args, **kwargs):
        raise OSError(5, "Input/output error")  # no file named: nothing the user can act on

    monkeypatch.setattr(cli_train, "load_notes", bug)
    assert main(_train(env, tmp_path / "out")) == 1
    assert "internal error: OSError" in capsys.readouterr().err


def test_train_settings_are_checked_by_the_library_before_the_model_is_loaded(env, tmp_path):
    """train_classifier itself refuses bad settings first (a base that does not exist is not reached)."""
    from steu_core.data import load_notes
    from steu_core.errors import ConfigError
    from steu_core.train import TrainConfig, train_classifier

    with pytest.raises(ConfigError, match="--epochs must be"):
        train_classifier(tmp_path / "no-base", load_notes(env.train), tmp_path / "out", TrainConfig(epochs=0))
    assert not (tmp_path / "out").exists()


def test_patch_errors_are_value_errors_too(env):
    """Callers that caught the library's ValueError still catch a PatchError."""
    from steu_core.errors import PatchError
    from steu_core.patch import apply_patch

    state = load_state(env.model)
    state[env.head] = state[env.head] + 1
    with pytest.raises(ValueError, match="does not match the patch") as info:
        apply_patch(state, env.patch)
    assert isinstance(info.value, PatchError)


def test_dev_null_stays_a_device(capsys):
    """``report --html /dev/null`` once renamed a regular file over the device node."""
    import stat

    assert main(["report", "--run", "nowhere", "--html", "/dev/null", "--overwrite"]) == 2
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_failed_output_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    from steu_core import outputs

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs, "place", fail)
    with pytest.raises(OSError):
        outputs.write_output(tmp_path / "p.html", b"x" * 4096, "--html")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "p.html").write_text("old")
    monkeypatch.undo()
    assert outputs.write_output(tmp_path / "p.html", b"new", "--html", overwrite=True).read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.html"]


def test_an_interrupt_is_recorded_as_a_cancel_not_an_internal_error(env, tmp_path, monkeypatch):
    """Ctrl-C (SIGINT) mid-run: the outcome entry and progress.json say the run was interrupted."""
    from steu_core.ledger import Ledger
    from steu_core.runs import pipeline

    def interrupted(*step_inputs):
        raise KeyboardInterrupt

    from steu_core.cli import EXIT_CANCELLED

    monkeypatch.setattr(pipeline, "score_original", interrupted)
    assert main(_unlearn(env, tmp_path / "out")) == EXIT_CANCELLED
    [outcome] = [e["payload"] for e in Ledger().find("run")]
    assert outcome["outcome"] == "cancelled" and outcome["error"].startswith("interrupted (Ctrl-C or SIGINT)")
    [stage] = tmp_path.glob(".out.partial")
    assert "internal error" not in (stage / "progress.json").read_text()


def test_control_characters_in_a_message_are_shown_as_escapes(env, tmp_path, capsys):
    """A class or file name with a newline or an ANSI escape cannot forge a line or drive the terminal."""
    forged = "heart\nerror: all checks passed\x1b[2J"
    code = main(["unlearn", "--model", str(env.model), "--train", str(env.train), "--eval", str(env.train),
                 "--forget-class", forged, "--out", str(tmp_path / "run"), "--settings", FAST, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "internal error" not in err
    assert "\x1b" not in err and err.count("\n") == 1, err  # one line, the escape shown as text
    assert "heart\\nerror: all checks passed\\x1b[2J" in err
