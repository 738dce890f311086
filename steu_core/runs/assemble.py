"""results.json of one run, assembled from what its steps made (:mod:`.step_results`; the schema's one
builder is :func:`.record.build_results`)."""
from __future__ import annotations

import time

import torch

from .. import lanes
from ..accel import precision_used
from ..model import beyond_limit, device_description
from ..pmi import coverage
from . import record
from .prepare import MEMBERS_RULE, request_warnings
from .step_results import Audited, Computed, Control, SeedRuns


def results_of(ctl: Control, computed: Computed, audited: Audited, seeds: SeedRuns, new_hash: dict,
               hashes: dict) -> dict:
    """results.json of this run (the schema's one builder is :func:`record.build_results`)."""
    req, clf, result = ctl.req, computed.model.clf, computed.unlearning.result
    data, tokens = computed.data, computed.tokens
    audits = dict(audited.audits)
    changed_rows = {r["id"]: r for r in audits.pop("changed_rows")}
    # where each edited row sits in the patch (its row ids ascending): how a masked token is revealed locally,
    # from the run's own patch, without its vocabulary id in results.json (steu_core.phi)
    patch_rows = {row_id: i for i, row_id in enumerate(sorted(changed_rows))}
    cov_mask = coverage(tokens.forget.ids, result.row_ids)
    fc = data.forget_class_id
    header = {"run_id": ctl.run_id, "created_utc": record.utc_now(), "method": req.method,
              "method_settings": result.settings, "seed": req.seed, "device": device_description(clf.device),
              "precision": {"requested": req.precision, **precision_used(clf.device, clf.precision)},
              "cpu_threads": torch.get_num_threads(), "cpu_lanes": lanes.count(clf.device),
              "processes": ctl.dp.world, "forget_class": clf.labels[fc], "forget_class_id": fc,
              "labels": clf.labels}
    budget = result.settings.get("budget") if result.settings.get("k") is None else None
    selection = {"k": len(result.selected_tokens), "budget": budget,
                 "selected_tokens": [{**t.as_dict(), "l2_change": changed_rows.get(t.id, {}).get("l2_change", 0.0),
                                      "patch_row": patch_rows.get(t.id)} for t in result.selected_tokens],
                 "coverage": {"forget_examples": len(tokens.forget),
                              "forget_examples_with_selected_token": int(cov_mask.sum()),
                              "fraction": float(cov_mask.mean()) if len(cov_mask) else 0.0,
                              # the selected tokens' occurrences in the forget notes that a cut note loses
                              "beyond_limit": beyond_limit(clf.tokenizer, data.forget.texts, result.row_ids,
                                                           req.max_length)}}
    rest = {"wall_seconds": {"select": result.seconds.get("select", 0.0),
                             "unlearn": result.seconds.get("unlearn", 0.0),
                             "score_original": computed.original.seconds,
                             "audit": computed.new.seconds + audited.seconds, "seeds": seeds.seconds,
                             "total": time.perf_counter() - ctl.t_start},
            "training": result.training,
            "data": record.data_section(data, tokens, int((tokens.eval_labels == fc).sum()), req.max_length),
            "seeds": seeds.summary,
            "members": {"found": int(data.members.sum()), "total": len(data.members), "rule": MEMBERS_RULE},
            "model": model_section(req, computed, new_hash), "hashes": hashes, "request": record.request_section(req),
            "notes": result.notes,
            "warnings": request_warnings(data)}
    return record.build_results(header=header, selection=selection, audits=audits, rest=rest)


def model_section(req, computed: Computed, new_hash: dict) -> dict:
    clf = computed.model.clf
    return {"source": str(req.model), "path": str(clf.path), "architecture": clf.architecture,
            "model_type": clf.model_type, "params_total": clf.params_total, "hidden_size": clf.hidden_size,
            "head_params": clf.head_params_total, "sha256_before": computed.model.sha256,
            "sha256_after": new_hash["sha256"], "feature_cache": computed.new.exact_cache}
