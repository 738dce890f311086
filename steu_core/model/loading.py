"""Loading a local checkpoint directory offline, refusing one that is incomplete, unsafe or inconsistent.

``load_classifier`` only takes a real directory; ``steu_core.demo.resolve_model_path`` turns the
model argument ``"default"`` into the demo model's directory above this layer.

transformers is imported inside the functions that need it: importing it takes seconds, and the
CLI's --help, the dashboard and the worker import this package without loading a model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from ..errors import ModelError
from ..safety import check_readable
from .classifier import Classifier
from .device import resolve_device
from .heads import find_head_adapter

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
CHECKPOINT_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".bin")  # what loading may open
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")


def check_model_dir(path: Path, allow_pickle: bool = False) -> None:
    """Refuse a directory that is not a complete, safe checkpoint, saying what is missing."""
    if not path.exists():
        raise ModelError(f"model directory '{path}' does not exist.", hint="Check the path.")
    if not path.is_dir():
        raise ModelError(f"'{path}' is a file, not a model directory.",
                         hint="Give the directory that holds config.json and model.safetensors.")
    if not (path / "config.json").is_file():
        raise ModelError(f"'{path}' has no config.json: it is not a Hugging Face checkpoint directory.",
                         hint="Save the model with save_pretrained() or point at the directory that holds config.json.")
    has_safe = any((path / f).is_file() for f in WEIGHT_FILES)
    has_pickle = any((path / f).is_file() for f in PICKLE_FILES)
    if not has_safe and not has_pickle:
        raise ModelError(f"'{path}' has no weights (model.safetensors).",
                         hint="Save the model with save_pretrained(safe_serialization=True).")
    if not has_safe and has_pickle and not allow_pickle:
        raise ModelError(f"'{path}' holds only pickle weights (pytorch_model.bin); loading them can run "
                         "arbitrary code, so they are refused.",
                         hint="Convert the checkpoint to safetensors, or pass --allow-pickle if you trust its source.")
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise ModelError(f"'{path}' has no tokenizer files (tokenizer.json or vocab.txt).",
                         hint="Save the tokenizer next to the model with tokenizer.save_pretrained().")
    for f in sorted(path.iterdir()):
        if f.suffix in CHECKPOINT_SUFFIXES and not f.is_dir():
            check_readable(f)  # else the loader reports an unreadable file as "No such file"


def load_classifier(path: str | Path, device: str | torch.device = "auto", *, num_labels: int | None = None,
                    labels: Sequence[str] | None = None, allow_pickle: bool = False,
                    require_head: bool = True) -> Classifier:
    """Load a local checkpoint directory offline (``demo.resolve_model_path`` turns ``"default"`` into one).

    With ``labels`` a base (headless) checkpoint is loaded with a fresh head for training.
    """
    path = Path(path).expanduser()
    check_model_dir(path, allow_pickle=allow_pickle)
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    config = _read_config(path, _label_settings(labels, num_labels))
    tokenizer = _read_tokenizer(path)
    model, info = _read_weights(path, config, allow_pickle)
    model.to(dev).eval()
    clf = Classifier(model=model, tokenizer=tokenizer, path=path,
                     labels=[str(model.config.id2label[i]) for i in range(model.config.num_labels)],
                     device=dev, source=str(path))
    if require_head and labels is None:
        _check_head_trained(clf, info.get("missing_keys", []))
    _check_tokenizer_fits(clf)
    _check_finite(clf)
    clf.adapter = find_head_adapter(model, tokenizer)
    return clf


def _label_settings(labels: Sequence[str] | None, num_labels: int | None) -> dict:
    """Config overrides giving a checkpoint ``labels`` (named) or ``num_labels`` (unnamed) outputs."""
    if labels is not None:
        return {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                "label2id": {l: i for i, l in enumerate(labels)}}
    if num_labels is not None:
        return {"num_labels": num_labels}
    return {}


def _read_config(path: Path, overrides: dict):
    from transformers import AutoConfig  # lazy: see the module docstring

    try:
        return AutoConfig.from_pretrained(path, local_files_only=True, **overrides)
    except Exception as exc:
        raise ModelError(f"config.json in '{path}' cannot be read ({type(exc).__name__}: {str(exc)[:200]})",
                         hint="Check that the file is a valid transformers config.") from None


def _read_tokenizer(path: Path):
    from transformers import AutoTokenizer  # lazy: see the module docstring

    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except Exception as exc:
        raise ModelError(f"the tokenizer in '{path}' cannot be loaded ({type(exc).__name__}: {str(exc)[:200]})",
                         hint="Save the tokenizer with tokenizer.save_pretrained() into the model directory.") from None


def _read_weights(path: Path, config, allow_pickle: bool) -> tuple[torch.nn.Module, dict]:
    """The model with its weights, and transformers' loading info (which keys were missing)."""
    from transformers import AutoModelForSequenceClassification  # lazy: see the module docstring
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            path, config=config, local_files_only=True, use_safetensors=not allow_pickle or None,
            output_loading_info=True)
    except ValueError as exc:
        raise ModelError(f"'{path}' cannot be loaded as a sequence classifier ({str(exc)[:300]})",
                         hint="Use a BERT-family checkpoint (BERT, DistilBERT, RoBERTa ...).") from None
    except (AttributeError, NameError):  # a fault of this program or its environment, not of the file
        raise
    except Exception as exc:
        raise ModelError(f"the weights in '{path}' cannot be read ({type(exc).__name__}: {str(exc)[:200]}); "
                         "the file may be corrupted or truncated.",
                         hint="Restore the checkpoint from a backup, or save it again.") from None
    finally:
        hf_logging.set_verbosity(verbosity)


def _check_head_trained(clf: Classifier, missing_keys: Sequence[str]) -> None:
    """Refuse a base checkpoint whose classification head transformers had to initialise at random."""
    head = set(clf.head_param_names)
    missing_head = [k for k in missing_keys if k in head]
    if missing_head:
        raise ModelError(f"'{clf.path}' has no trained classification head "
                         f"(missing {', '.join(sorted(missing_head)[:4])}).",
                         hint="Fine-tune it first: python -m steu_core train --base DIR --train FILE --out NEWDIR.")


def _check_finite(clf: Classifier) -> None:
    """NaN or infinite weights make every score NaN: refused here, where the file is named."""
    for name, p in clf.model.named_parameters():
        if p.is_floating_point() and not bool(torch.isfinite(p.detach()).all()):
            raise ModelError(f"the weights in '{clf.path}' hold NaN or infinite values (tensor {name}): the model "
                             "cannot score notes.", hint="The checkpoint is damaged or was trained with a learning "
                                                         "rate that diverged: restore or retrain it.")


def _check_tokenizer_fits(clf: Classifier) -> None:
    vocab_rows = int(clf.embedding.weight.shape[0])
    if len(clf.tokenizer) > vocab_rows:
        raise ModelError(f"the tokenizer has {len(clf.tokenizer)} tokens but the model's embedding matrix has only "
                         f"{vocab_rows} rows: tokenizer and model do not belong together.",
                         hint="Use the tokenizer saved with this model.")
