"""A deletion request as the unit of work: received -> contained -> erasure scheduled -> erased ->
verified -> closed (or declined), every state a ledger entry with its time, person and proof.

Modules: ``states`` (the states, their order, what each owes and which threat model it satisfies), ``book``
(every request's state, read back from the ledger), ``actions`` (open, schedule, verify, close, decline),
``erase`` (one retrain without the forget notes of several requests, checkpointed by ``checkpoint``; ``job``
runs it in a worker), ``verify`` (``verify-erasure``), ``deploy`` (which model to serve) and ``summary`` (a
request in words and rows); its report is ``report.request_report``. Below them: ``runs.forget_hashes``
(every run records its forget notes by hash)
and ``training_manifest`` (which notes a model was trained on; absence proofs).
"""
