"""``patch apply|revert``: apply or undo a run's patch.safetensors, into a new directory."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from safetensors.torch import save_file

from ..audits.param_diff import load_state
from ..errors import ModelError, SteuError
from ..model import check_model_dir, hash_directory
from ..patch import apply_patch, load_patch, revert_patch
from ..paths import check_writable_location
from .verify import model_dir_of


def patched_state(src_dir: Path, patch_path: str, action: str) -> dict:
    """The model's weights with the patch applied or reverted (a PatchError names what does not fit)."""
    patch = load_patch(patch_path)
    fn = apply_patch if action == "apply" else revert_patch
    try:
        state = load_state(src_dir)
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise ModelError(f"the weights in '{src_dir}' cannot be read ({type(exc).__name__}); the file may be "
                         "corrupted or truncated.", hint="Restore the checkpoint from a backup.") from None
    return fn(state, patch)


def write_patched_model(src_dir: Path, weights_name: str, state: dict, out: Path) -> None:
    """Copy the model directory with new weights, appearing at ``out`` only when complete (in the
    same folder: a rename never crosses disks; missing folders above ``out`` are made first)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for f in src_dir.iterdir():
            if f.is_file() and f.suffix != ".safetensors":
                shutil.copy2(f, tmp / f.name)
        save_file(state, str(tmp / weights_name), metadata={"format": "pt"})
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def cmd_patch(args) -> int:
    src, out = Path(args.model), Path(args.out)
    if out.exists():
        raise SteuError(f"output directory '{out}' already exists.", hint="Choose a new --out.")
    check_writable_location(out, "--out")
    src_dir = model_dir_of(src)
    check_model_dir(src_dir)
    files = sorted(src_dir.glob("*.safetensors"))
    if len(files) != 1:
        raise SteuError(f"'{src_dir}' must hold exactly one .safetensors file to patch (found {len(files)}).")
    state = patched_state(src_dir, args.patch, args.action)
    write_patched_model(src_dir, files[0].name, state, out)
    print(f"{args.action} -> {out} (sha256 {hash_directory(out)['sha256']})")
    return 0


def register(sub) -> None:
    pa = sub.add_parser("patch", help="apply or revert a run's patch.safetensors")
    pa.add_argument("action", choices=["apply", "revert"])
    pa.add_argument("--model", required=True, help="model to patch (original for apply, unlearned for revert)")
    pa.add_argument("--patch", required=True, help="patch.safetensors of a run")
    pa.add_argument("--out", required=True, help="new directory for the result")
    pa.set_defaults(func=cmd_patch)
