"""Classifier: a loaded sequence-classification model with its tokenizer, label names and origin.

Works for any BERT-family architecture through the generic parts of transformers: the input
word-embedding matrix is ``model.get_input_embeddings()``, the base model is
``getattr(model, model.base_model_prefix)``, and the classification head is every parameter outside
the base model. Nothing assumes MiniLM's sizes or module names.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError, ModelError
from .device import device_description
from .heads import HeadAdapter


@dataclass
class Classifier:
    """A loaded classifier with its tokenizer, label names and where it came from."""

    model: nn.Module
    tokenizer: object
    path: Path
    labels: list[str]
    device: torch.device
    source: str = ""
    adapter: HeadAdapter | None = None
    precision: str = "auto"  # autocast on CUDA: auto, fp32, bf16, fp16 (steu_core.accel)

    @property
    def model_type(self) -> str:
        return str(self.model.config.model_type)

    @property
    def architecture(self) -> str:
        return type(self.model).__name__

    @property
    def params_total(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def hidden_size(self) -> int:
        return int(self.embedding.weight.shape[1])

    @property
    def embedding(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    @property
    def embedding_param_name(self) -> str:
        target = self.embedding.weight
        for name, p in self.model.named_parameters():
            if p is target:
                return name
        raise ModelError("cannot find the input embedding matrix among the model's parameters")

    @property
    def head_param_names(self) -> list[str]:
        prefix = self.model.base_model_prefix + "."
        return [n for n, _ in self.model.named_parameters() if not n.startswith(prefix)]

    @property
    def head_params_total(self) -> int:
        params = dict(self.model.named_parameters())
        return sum(params[n].numel() for n in self.head_param_names)

    def label_id(self, label: str | int) -> int:
        """A label given by name, or by its numeric id when no label has that name."""
        key = str(label).strip()
        if key in self.labels:
            return self.labels.index(key)
        if key.lstrip("-").isdigit() and 0 <= int(key) < len(self.labels):
            return int(key)
        raise ConfigError(f"'{key}' is not a label of this model",
                          hint=f"Labels: {', '.join(self.labels)} (or their ids 0..{len(self.labels) - 1}).")

    def info(self) -> dict:
        return {"architecture": self.architecture, "model_type": self.model_type, "labels": self.labels,
                "params_total": self.params_total, "hidden_size": self.hidden_size,
                "vocab_size": int(self.embedding.weight.shape[0]), "source": self.source,
                "device": device_description(self.device)}

    def copy(self) -> "Classifier":
        """An independent copy of the weights (the original object is never edited by a method)."""
        return Classifier(model=copy.deepcopy(self.model), tokenizer=self.tokenizer, path=self.path,
                          labels=list(self.labels), device=self.device, source=self.source, adapter=self.adapter,
                          precision=self.precision)
