"""The request a finished run was made for, read from the run's own results.json: what the Run page
shows once the run has ended (its uploads are deleted by then, so the session's files no longer say)."""
from __future__ import annotations

FORGET_SOURCE_WORDS = {"notes": "notes", "ids": "ids of training notes",
                       "training notes of the class": "the training notes of the class"}


def _file(data: dict, role: str) -> str:
    d = data.get(role) or {}
    return f"{d.get('name', '?')} ({int(d.get('rows') or 0):,} notes)" if d else "-"


def forget_set_text(data: dict) -> str:
    """The forget set as the request gave it: the notes file, or the ids file with its count."""
    source = data.get("forget_source") or {}
    ids_file = source.get("ids_file")
    if ids_file:
        return (f"{int(ids_file.get('ids') or 0):,} ids in {ids_file.get('name', '?')} -> "
                f"{_file(data, 'forget')}")
    return _file(data, "forget")


def stored_request_rows(r: dict) -> dict[str, str]:
    """Label -> value of the run's request, from its results (names, counts and people; never text)."""
    data, req = r.get("data") or {}, r.get("request") or {}
    source = (data.get("forget_source") or {}).get("given_by")
    return {
        "Run": str(r.get("run_id", "")),
        "Model": str((r.get("model") or {}).get("source", "")),
        "Class to forget": str(r.get("forget_class", "")),
        "Forget set given as": FORGET_SOURCE_WORDS.get(source, "notes"),
        "Forget set": forget_set_text(data),
        "Training notes": _file(data, "train"),
        "Evaluation notes": _file(data, "eval"),
        "Request id": req.get("request_id") or "-",
        "Requester": req.get("requester") or "-",
        "Reason": req.get("reason") or "-",
        "Operator": req.get("operator") or "-",
        "Method": str(r.get("method", "")),
    }
