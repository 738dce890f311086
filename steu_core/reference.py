"""The reference every figure is read against: a retrain without the forget notes, made by the method of this
name (steu_core.methods.retrain_oracle). Its one definition, light enough for the charts to import."""
from __future__ import annotations

ORACLE = "retrain_oracle"
# The method name under which an erasure's retrained model is audited (steu_core.methods.erased): a retrain
# without the requests' forget notes, made for the request rather than as a reference.
ERASED = "erased"
# Models trained without the forget notes: none of the notes is a member of theirs, by construction (the oracle
# trains on the other classes' notes; an erasure's training manifest lists every note it used)
TRAINED_WITHOUT_NOTES = (ORACLE, ERASED)
