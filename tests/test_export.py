"""steu_core.model.export: the model zip and the patch as downloads, with the SHA-256 of their bytes."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from steu_core.errors import ConfigError
from steu_core.model.export import model_download, model_zip_bytes, model_zip_sha256, patch_download
from steu_core.runs import UnlearnRequest, run_unlearning


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_bert, tiny_data) -> Path:
    home = tmp_path_factory.mktemp("export_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STEU_HOME", str(home))
        return run_unlearning(UnlearnRequest(
            model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"], forget=tiny_data["forget"],
            forget_class="substance", out=home / "runs" / "run-export", device="cpu", max_length=48, min_forget=5,
            settings={"max_steps": 5}, record_ledger=False))


def test_the_model_zip_holds_the_model_files_and_its_hash_is_of_those_bytes(run_dir):
    dl = model_download(run_dir)
    data = dl.read()
    assert dl.file_name == "run-export-model.zip"
    assert hashlib.sha256(data).hexdigest() == dl.sha256
    model = run_dir / "model"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = sorted(zf.namelist())
        assert names == sorted(f"run-export-model/{p.relative_to(model).as_posix()}"
                               for p in model.rglob("*") if p.is_file())
        for name in names:
            assert zf.read(name) == (model / name.split("/", 1)[1]).read_bytes()


def test_the_zip_is_the_same_bytes_every_time(run_dir, tmp_path):
    model = run_dir / "model"
    assert model_zip_bytes(model) == model_zip_bytes(model)
    assert model_zip_sha256(model) == hashlib.sha256(model_zip_bytes(model)).hexdigest()
    copy = tmp_path / "m"
    copy.mkdir()
    for p in model.iterdir():  # other timestamps and modes: the same archive
        (copy / p.name).write_bytes(p.read_bytes())
        (copy / p.name).chmod(0o600)
    assert model_zip_sha256(copy) == model_zip_sha256(model)
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert model_zip_sha256(copy) != model_zip_sha256(model)


def test_the_patch_hash_matches_the_manifest_and_the_results(run_dir):
    dl = patch_download(run_dir)
    data = dl.read()
    assert data == (run_dir / "patch.safetensors").read_bytes()
    assert hashlib.sha256(data).hexdigest() == dl.sha256 == dl.recorded_sha256
    assert dl.matches_record is True
    assert json.loads((run_dir / "results.json").read_text())["hashes"]["patch"] == dl.sha256


def test_a_changed_patch_no_longer_matches_its_record(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "run-copy"
    shutil.copytree(run_dir, copy)
    with open(copy / "patch.safetensors", "ab") as f:
        f.write(b"\0")
    assert patch_download(copy).matches_record is False


def test_a_directory_without_a_manifest_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no readable manifest.json"):
        patch_download(tmp_path)
    with pytest.raises(ConfigError, match="no readable manifest.json"):
        model_download(tmp_path)
