"""The model layer: local Hugging Face sequence classifiers, loaded offline, tokenised corpora and
batched scoring. One module per job:

- ``device``: where computations run, and seeds;
- ``hashing``: SHA-256 of checkpoint files and directories;
- ``heads``: head adapters (features vs. head) for the exact feature cache;
- ``classifier``: the loaded :class:`Classifier`;
- ``loading``: checking and loading a checkpoint directory (``"default"`` is resolved above this
  package, by ``steu_core.demo.resolve_model_path``);
- ``saving``: atomic writes of a model directory and of JSON records;
- ``tokens``: compact token ids, padding, length-bucketed batches;
- ``features``: batched features and logits;
- ``trainable``: training only chosen embedding rows, or nothing.

Every public name is re-exported here: importers use ``from steu_core.model import ...``.
"""
from .classifier import Classifier
from .device import SEED_MAX, check_seed, device_description, resolve_device, seed_everything
from .features import compute_features, compute_logits, head_logits
from .hashing import file_sha256, hash_directory
from .heads import DistilBertHead, FirstTokenHead, HeadAdapter, PooledLinearHead, find_head_adapter
from .loading import PICKLE_FILES, TOKENIZER_FILES, WEIGHT_FILES, check_model_dir, load_classifier
from .saving import save_model_atomically, write_json_atomic, write_model
from .tokens import (CHARS_PER_TOKEN, MIN_MAX_LENGTH, Encoded, TokenIds, beyond_limit, char_budget, encode,
                     iter_encode, length_batches, length_order, pad_batch, pad_id)
from .trainable import RowOverride, frozen

__all__ = [
    "CHARS_PER_TOKEN", "Classifier", "DistilBertHead", "Encoded", "FirstTokenHead", "HeadAdapter", "MIN_MAX_LENGTH",
    "PICKLE_FILES", "beyond_limit", "char_budget",
    "PooledLinearHead", "RowOverride", "TOKENIZER_FILES", "TokenIds", "WEIGHT_FILES", "check_model_dir",
    "compute_features", "compute_logits", "device_description", "encode", "file_sha256", "find_head_adapter",
    "frozen", "hash_directory", "head_logits", "iter_encode", "length_batches", "length_order", "load_classifier",
    "pad_batch", "pad_id", "resolve_device", "SEED_MAX", "check_seed", "save_model_atomically", "seed_everything", "write_json_atomic",
    "write_model",
]
