"""A deletion request as the unit of work: received -> contained -> erasure scheduled -> erased ->
verified -> closed (or declined), every state a ledger entry with its time, person and proof.

Modules: ``states`` (the states, their order, what each owes and which threat model it satisfies),
(training manifests, their Merkle roots and absence proofs are steu_core.training_manifest),
``intake`` (a request received: its forget notes by hash), ``book`` (every request's state, read back from
the ledger), ``actions`` (schedule, verify, close, decline), ``erase`` (one retrain without the forget notes
of several requests, checkpointed), ``verify`` (``verify-erasure``), ``deploy`` (which model to serve) and
``report`` (one report per request). Nothing is imported here: ``runs.pipeline`` imports ``intake`` and
``erase`` imports ``runs``, so the package itself stays free of either.
"""
