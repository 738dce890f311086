"""``verify`` decides what was allowed to change from the hash-checked patch and manifest and the run's
ledger entry, never from results.json: forged results, a changed tensor, a swapped patch or manifest
and a run without an entry all fail (exit 1, the tensor or file named); unusable input exits 2."""
from __future__ import annotations

import json
import shutil

import pytest
from safetensors.torch import save_file

from steu_core.audits.param_diff import load_state
from steu_core.cli import main
from steu_core.ledger import Ledger
from steu_core.model import file_sha256
from steu_core.patch import load_patch, make_patch, save_patch
from steu_core.runs import UnlearnRequest, run_unlearning

SETTINGS = {"max_steps": 30, "lr_rows": 0.05, "lr_head": 0.02, "min_df": 2, "k": 6}


@pytest.fixture(scope="module")
def finished(tiny_bert, tiny_data, tmp_path_factory):
    """One finished run and the ledger that recorded it (each test works on copies)."""
    home = tmp_path_factory.mktemp("verify_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STEU_HOME", str(home))
        out = run_unlearning(UnlearnRequest(
            model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"],
            forget_class=tiny_data["forget_class"], out=home / "run", settings=SETTINGS, device="cpu",
            max_length=48, min_forget=5))
    return out, home


@pytest.fixture
def run(finished, tmp_path):
    """A copy of the run directory and of its ledger: (run dir, ledger path)."""
    out, home = finished
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    for f in home.glob("ledger.sqlite*"):
        shutil.copy2(f, tmp_path / f.name)
    return copy, tmp_path / "ledger.sqlite"


def verify(capsys, original, run_dir, ledger, *extra):
    code = main(["verify", "--original", str(original), "--unlearned", str(run_dir), "--ledger", str(ledger), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def fail_lines(out: str) -> str:
    return "\n".join(line for line in out.splitlines() if line.startswith("FAIL"))


def edit_results(run_dir, **changes) -> None:
    r = json.loads((run_dir / "results.json").read_text())
    r.update(changes)
    (run_dir / "results.json").write_text(json.dumps(r))


def save_state(run_dir, state) -> None:
    save_file(state, str(run_dir / "model" / "model.safetensors"), metadata={"format": "pt"})


def test_a_clean_run_passes(run, tiny_bert, capsys):
    code, out, _ = verify(capsys, tiny_bert, *run)
    assert code == 0, out
    assert "Verdict: PASS" in out and "results.json is not read" in out and "FAIL" not in out
    assert "Encoder bit-identical: yes" in out


def test_changed_encoder_tensor_fails_even_with_forged_results(run, tiny_bert, capsys):
    run_dir, ledger = run
    state = load_state(run_dir / "model")
    key = next(k for k in state if "encoder.layer.0" in k and state[k].dim() == 2)
    state[key] = state[key].clone()
    state[key][0, 0] += 1.0
    save_state(run_dir, state)
    edit_results(run_dir, method="retrain_oracle", param_diff_verdict="pass", encoder_unchanged=True)
    code, out, _ = verify(capsys, tiny_bert, run_dir, ledger)
    assert code == 1 and "Verdict: FAIL" in out and "Encoder bit-identical: NO" in out
    assert key in fail_lines(out), out


def test_extra_changed_rows_listed_in_results_fail(run, tiny_bert, capsys):
    run_dir, ledger = run
    state = load_state(run_dir / "model")
    emb = next(k for k in state if k.endswith("word_embeddings.weight"))
    patched = set(load_patch(run_dir / "patch.safetensors")["tensors"]["row_ids"].tolist())
    extra = next(i for i in range(100, state[emb].shape[0]) if i not in patched)
    state[emb] = state[emb].clone()
    state[emb][extra] += 0.5
    save_state(run_dir, state)
    r = json.loads((run_dir / "results.json").read_text())
    edit_results(run_dir, selected_tokens=r["selected_tokens"] + [{"token": "x", "id": extra, "pmi": 1.0,
                                                                  "df_forget": 3, "df_total": 3, "l2_change": 0.5}])
    code, out, _ = verify(capsys, tiny_bert, run_dir, ledger)
    assert code == 1 and str(extra) in fail_lines(out) and emb in fail_lines(out), out


def test_a_patch_rewritten_to_cover_the_change_fails_its_hash(run, tiny_bert, capsys):
    """Whoever changes more rows and rewrites the patch to match cannot match the recorded hash."""
    run_dir, ledger = run
    state = load_state(run_dir / "model")
    emb = next(k for k in state if k.endswith("word_embeddings.weight"))
    state[emb] = state[emb].clone()
    state[emb][200] += 0.5
    save_state(run_dir, state)
    save_patch(make_patch(load_state(tiny_bert), state, emb), run_dir / "patch.safetensors")
    code, out, _ = verify(capsys, tiny_bert, run_dir, ledger)
    assert code == 1 and "patch hash" in fail_lines(out), out


def test_an_edited_manifest_fails_its_hash(run, tiny_bert, capsys):
    run_dir, ledger = run
    m = json.loads((run_dir / "manifest.json").read_text())
    m["patch"]["sha256"] = "0" * 64
    (run_dir / "manifest.json").write_text(json.dumps(m))
    code, out, _ = verify(capsys, tiny_bert, run_dir, ledger)
    assert code == 1 and "manifest hash" in fail_lines(out), out


def test_an_edited_results_json_fails_its_hash(run, tiny_bert, capsys):
    run_dir, ledger = run
    edit_results(run_dir, forget_f1_after=0.0)
    code, out, _ = verify(capsys, tiny_bert, run_dir, ledger)
    assert code == 1 and "results hash" in fail_lines(out), out


def test_a_run_without_a_ledger_entry_fails_and_says_how_to_fix(run, tiny_bert, tmp_path, capsys):
    other = Ledger(tmp_path / "other.sqlite")
    other.append("request", {"request_id": "R-1", "run_id": "run-somewhere-else"})
    code, out, _ = verify(capsys, tiny_bert, run[0], other.path)
    assert code == 1 and "has no entry for run" in fail_lines(out) and "--ledger" in out, out


def test_a_different_original_model_fails(run, tiny_bert, tmp_path, capsys):
    other = tmp_path / "other_model"
    shutil.copytree(tiny_bert, other)
    state = load_state(other)
    key = next(k for k in state if "encoder.layer.1" in k and state[k].dim() == 2)
    state[key] = state[key].clone() * 1.5
    save_file(state, str(next(other.glob("*.safetensors"))), metadata={"format": "pt"})
    code, out, _ = verify(capsys, other, *run)
    assert code == 1 and "original model" in fail_lines(out), out


@pytest.mark.parametrize("case,message", [
    ("missing", "does not exist"),
    ("data_file", "is a file, not a run directory"),
    ("corrupted_results", "not readable JSON"),
    ("no_patch", "has no patch.safetensors"),
    ("no_model", "has no model/ directory"),
])
def test_unusable_run_directories_exit_2(run, tiny_bert, tiny_data, capsys, case, message):
    run_dir, ledger = run
    target = {"missing": run_dir.parent / "nope", "data_file": tiny_data["train"]}.get(case, run_dir)
    if case == "corrupted_results":
        (run_dir / "results.json").write_text('{"method": "steu", ')
    elif case == "no_patch":
        (run_dir / "patch.safetensors").unlink()
    elif case == "no_model":
        shutil.rmtree(run_dir / "model")
    code, out, err = verify(capsys, tiny_bert, target, ledger)
    assert code == 2 and message in err and "internal error" not in err, err


def test_a_missing_ledger_exits_2(run, tiny_bert, tmp_path, capsys):
    code, _, err = verify(capsys, tiny_bert, run[0], tmp_path / "no-ledger.sqlite")
    assert code == 2 and "does not exist" in err and "--ledger" in err and "--allow-empty" not in err


def test_model_directory_leads_to_its_run(run, tiny_bert, capsys):
    run_dir, ledger = run
    code, out, _ = verify(capsys, tiny_bert, run_dir / "model", ledger)
    assert code == 0 and "Verdict: PASS" in out


def test_the_manifest_hash_is_in_the_run_entry(run):
    run_dir, ledger = run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    entry = Ledger(ledger).find_run(manifest["run_id"])
    assert entry["payload"]["hashes"]["manifest"] == file_sha256(run_dir / "manifest.json")
