"""Head adapters: split a classifier into "features" (the input to the head; a function of the frozen
encoder) and "head" (the small trainable part). Used for the exact feature cache. Each adapter is
checked against the model's own forward on load; a model without a working adapter still works,
without the cache."""
from __future__ import annotations

import torch
from torch import nn


class HeadAdapter:
    name = "generic"

    def features(self, model, input_ids, attention_mask) -> torch.Tensor:
        raise NotImplementedError

    def logits(self, model, feats: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class PooledLinearHead(HeadAdapter):
    """BERT-style: pooler output -> dropout -> classifier."""

    name = "pooled-linear"

    def features(self, model, input_ids, attention_mask):
        out = getattr(model, model.base_model_prefix)(input_ids=input_ids, attention_mask=attention_mask)
        return out.pooler_output

    def logits(self, model, feats):
        return model.classifier(model.dropout(feats))


class DistilBertHead(HeadAdapter):
    """DistilBERT: first-token hidden state -> pre_classifier -> ReLU -> dropout -> classifier."""

    name = "distilbert"

    def features(self, model, input_ids, attention_mask):
        out = getattr(model, model.base_model_prefix)(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state[:, 0]

    def logits(self, model, feats):
        return model.classifier(model.dropout(torch.relu(model.pre_classifier(feats))))


class FirstTokenHead(HeadAdapter):
    """RoBERTa-style: the head module takes the sequence output and reads its first token."""

    name = "first-token"

    def features(self, model, input_ids, attention_mask):
        out = getattr(model, model.base_model_prefix)(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state[:, 0]

    def logits(self, model, feats):
        return model.classifier(feats.unsqueeze(1))


def _candidate_adapters(model) -> list[HeadAdapter]:
    out: list[HeadAdapter] = []
    if hasattr(model, "pre_classifier") and hasattr(model, "classifier") and hasattr(model, "dropout"):
        out.append(DistilBertHead())
    if isinstance(getattr(model, "classifier", None), nn.Linear) and hasattr(model, "dropout"):
        out.append(PooledLinearHead())
    if isinstance(getattr(model, "classifier", None), nn.Module):
        out.append(FirstTokenHead())
    return out


def find_head_adapter(model, tokenizer) -> HeadAdapter | None:
    """The adapter whose features+head reproduce the model's logits exactly, or None."""
    was_training = model.training
    model.eval()
    try:
        enc = tokenizer(["the patient denies chest pain", "shortness of breath for three days"],
                        padding=True, return_tensors="pt")
        device = next(model.parameters()).device
        ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        with torch.inference_mode():
            ref = model(input_ids=ids, attention_mask=mask).logits
            for adapter in _candidate_adapters(model):
                try:
                    got = adapter.logits(model, adapter.features(model, ids, mask))
                except Exception:  # an adapter that does not fit this architecture
                    continue
                if got.shape == ref.shape and torch.allclose(got, ref, atol=1e-5, rtol=1e-4):
                    return adapter
    finally:
        model.train(was_training)
    return None
