"""results.json of one run, gathered from the runner's state (the schema's one builder is
:func:`.record.build_results`)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch

from .. import lanes
from ..accel import precision_used
from ..model import beyond_limit, device_description
from ..pmi import coverage
from . import record
from .prepare import MEMBERS_RULE, request_warnings

if TYPE_CHECKING:  # the runner imports this module; the type is only for readers
    from .pipeline import Run


def results_of(run: Run, new_hash: dict, hashes: dict) -> dict:
    """results.json of this run (the schema's one builder is :func:`record.build_results`)."""
    req, clf, result = run.req, run.clf, run.result
    audits = dict(run.audits)
    changed_rows = {r["id"]: r for r in audits.pop("changed_rows")}
    # where each edited row sits in the patch (its row ids ascending): how a masked token is revealed locally,
    # from the run's own patch, without its vocabulary id in results.json (steu_core.phi)
    patch_rows = {row_id: i for i, row_id in enumerate(sorted(changed_rows))}
    cov_mask = coverage(run.enc["forget"].ids, result.row_ids)
    fc = run.data.forget_class_id
    header = {"run_id": run.run_id, "created_utc": record.utc_now(), "method": req.method,
              "method_settings": result.settings, "seed": req.seed, "device": device_description(clf.device),
              "precision": {"requested": req.precision, **precision_used(clf.device, clf.precision)},
              "cpu_threads": torch.get_num_threads(), "cpu_lanes": lanes.count(clf.device),
              "processes": run.dp.world, "forget_class": clf.labels[fc], "forget_class_id": fc,
              "labels": clf.labels}
    budget = result.settings.get("budget") if result.settings.get("k") is None else None
    selection = {"k": len(result.selected_tokens), "budget": budget,
                 "selected_tokens": [{**t.as_dict(), "l2_change": changed_rows.get(t.id, {}).get("l2_change", 0.0),
                                      "patch_row": patch_rows.get(t.id)} for t in result.selected_tokens],
                 "coverage": {"forget_examples": len(run.enc["forget"]),
                              "forget_examples_with_selected_token": int(cov_mask.sum()),
                              "fraction": float(cov_mask.mean()) if len(cov_mask) else 0.0,
                              # the selected tokens' occurrences in the forget notes that a cut note loses
                              "beyond_limit": beyond_limit(clf.tokenizer, run.data.forget.texts, result.row_ids,
                                                           req.max_length)}}
    rest = {"wall_seconds": {"select": result.seconds.get("select", 0.0),
                             "unlearn": result.seconds.get("unlearn", 0.0),
                             "score_original": run.seconds["score_original"], "audit": run.seconds["audit"],
                             "seeds": run.seconds.get("seeds", 0.0),
                             "total": time.perf_counter() - run.t_start},
            "training": result.training,
            "data": record.data_section(run.data, run.enc, int((run.eval_labels == fc).sum()), req.max_length),
            "seeds": run.seed_summary or {"n": 1, "seeds": [req.seed], "kept_model_seed": req.seed},
            "members": {"found": int(run.data.members.sum()), "total": len(run.data.members),
                        "rule": MEMBERS_RULE},
            "model": model_section(run, new_hash), "hashes": hashes, "request": record.request_section(req),
            "notes": result.notes,
            "warnings": request_warnings(run.data)}
    return record.build_results(header=header, selection=selection, audits=audits, rest=rest)


def model_section(run: Run, new_hash: dict) -> dict:
    clf = run.clf
    return {"source": str(run.req.model), "path": str(clf.path), "architecture": clf.architecture,
            "model_type": clf.model_type, "params_total": clf.params_total, "hidden_size": clf.hidden_size,
            "head_params": clf.head_params_total, "sha256_before": run.original_hash["sha256"],
            "sha256_after": new_hash["sha256"], "feature_cache": run.exact_cache}
