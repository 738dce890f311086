"""The states of a deletion request, in order, and what each means for the officer and the auditor.

received -> contained -> erasure scheduled -> erased -> verified -> closed; "declined" (with a reason) from
any state before closed. A request may skip "erasure scheduled" (an erasure run schedules it) and
"contained" (a request erased in the next batch without a sparse edit first).
"""
from __future__ import annotations

from ..threat_models import MODEL_FILE, OUTPUTS

RECEIVED, CONTAINED, SCHEDULED, ERASED, VERIFIED, CLOSED, DECLINED = (
    "received", "contained", "erasure_scheduled", "erased", "verified", "closed", "declined")
FINAL = (CLOSED, DECLINED)
LEDGER_KIND = "request_state"  # the ledger entries that move a request

LABELS = {RECEIVED: "Received", CONTAINED: "Contained", SCHEDULED: "Erasure scheduled", ERASED: "Erased",
          VERIFIED: "Verified", CLOSED: "Closed", DECLINED: "Declined"}

# What a state establishes, and against which attacker (steu_core.threat_models)
SATISFIES = {CONTAINED: OUTPUTS, ERASED: MODEL_FILE, VERIFIED: MODEL_FILE}
MEANING = {
    RECEIVED: "The request and its forget notes (by hash) are on record; the deployed model still knows them.",
    CONTAINED: "A sparse edit stops the served model from predicting the class: it answers an attacker who sees "
               "the predictions. The model file still holds what the encoder learned from the notes.",
    SCHEDULED: "A retrain without the forget notes is scheduled.",
    ERASED: "A model was trained from the original's starting point without the forget notes: the model file "
            "no longer holds them.",
    VERIFIED: "The erased model's training manifest was checked: no forget note's hash is in it.",
    CLOSED: "Nothing is owed on the request.",
    DECLINED: "The request was declined; the reason is on record.",
}
OWED = {RECEIVED: "containment (a sparse edit, minutes) or erasure (a retrain without the notes)",
        CONTAINED: "erasure: a retrain without the forget notes (the model file still holds them)",
        SCHEDULED: "erasure: the scheduled retrain",
        ERASED: "verification of the erasure (verify-erasure)",
        VERIFIED: "closing the request",
        CLOSED: "nothing", DECLINED: "nothing"}

# Which states each state may move to (declined: from any state that is not final)
NEXT = {RECEIVED: (CONTAINED, SCHEDULED, ERASED), CONTAINED: (CONTAINED, SCHEDULED, ERASED),
        SCHEDULED: (CONTAINED, SCHEDULED, ERASED), ERASED: (ERASED, VERIFIED), VERIFIED: (VERIFIED, CLOSED),
        CLOSED: (), DECLINED: ()}


def can_move(current: str | None, new: str) -> bool:
    """Whether a request in ``current`` (None: not received) may move to ``new``."""
    if current is None:
        return new == RECEIVED
    if new == DECLINED:
        return current not in FINAL
    return new in NEXT.get(current, ())
