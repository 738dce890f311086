"""Pre-flight checks of a request being put together (the dashboard's Request and Run pages): each
file on its own, then the checks across files that only the whole request can do, in the words of
:mod:`.prepare` (the same checks the run itself makes)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..data import NoteSet, check_forget_set, check_labels_known, load_notes
from ..errors import SteuError
from ..forget_ids import forget_by_ids, read_forget_notes, read_ids, training_ids
from ..model import Classifier
from ..request import UnlearnRequest
from .prepare import prepare_data, request_warnings

ROLES = {"forget": "forget set", "train": "training (retain) set", "eval": "evaluation set"}


@dataclass
class FileCheck:
    role: str
    path: str | None
    name: str | None
    notes: NoteSet | None = None
    error: BaseException | None = None
    ids_file: dict | None = None  # a forget set given by ids: the ids file's name, SHA-256 of its bytes, counts

    @property
    def ok(self) -> bool:
        return self.notes is not None and self.error is None


def check_file(role: str, path: str | None, name: str | None, labels: list[str] | None,
               forget_class: str | None = None, min_forget: int = 10, read=load_notes) -> FileCheck:
    """Load and validate the file of ``role`` against the model's labels (and, for the forget set,
    the forget class). ``read`` loads the notes (a caching reader in the dashboard)."""
    chk = FileCheck(role, path, name)
    if path is None:
        return chk
    try:
        chk.notes = read(path)
        if labels is not None:
            check_labels_known(chk.notes, labels)
        if role == "forget" and forget_class:
            check_forget_set(chk.notes, forget_class, min_forget)
    except SteuError as exc:
        chk.error = exc
    return chk


def check_forget(path: str | None, name: str | None, labels: list[str] | None, forget_class: str | None,
                 min_forget: int = 10, *, by_ids: bool = False, columns: dict | None = None,
                 train_path: str | None = None, read=load_notes) -> FileCheck:
    """The forget set being prepared, checked as the run will build it: a notes file (with or without
    a label column), or a file of ids naming training notes (``by_ids``). ``columns`` holds the
    request's column fields (``forget_text_column``, ``forget_label_column``, ``id_column``);
    ``read`` loads the training notes."""
    chk, cols = FileCheck("forget", path, name), columns or {}
    if path is None:
        return chk
    try:
        if by_ids:
            train = read(train_path)
            _, ids_of_train = training_ids(train, train_path, cols.get("id_column"))
            ids = read_ids(path, cols.get("id_column"))
            chk.ids_file = ids.describe()
            chk.notes = forget_by_ids(train, ids_of_train, ids)
        else:
            chk.notes = read_forget_notes(path, forget_class or "",
                                          text_column=cols.get("forget_text_column") or cols.get("text_column"),
                                          label_column=cols.get("forget_label_column") or cols.get("label_column"))
            if labels is not None and chk.notes.label_column:
                check_labels_known(chk.notes, labels)
        if forget_class:
            check_forget_set(chk.notes, forget_class, min_forget)
    except SteuError as exc:
        chk.error = exc
    return chk


def cross_check(clf: Classifier, request_fields: dict) -> tuple[SteuError | None, list[str]]:
    """The checks across files (e.g. no retain notes) and the warnings that do not stop a run, for a
    request given by its fields (``out`` and ``model`` are filled in here)."""
    try:
        req = UnlearnRequest(**{**request_fields, "out": "", "model": str(clf.path)})
        data = prepare_data(req, clf)
    except SteuError as exc:
        return exc, []
    return None, request_warnings(data)


@dataclass
class RequestCheck:
    """Where a request being prepared stands: each file's check, the class, the cross-file check."""

    checks: dict
    forget_class: str | None
    cross_error: SteuError | None = None
    warnings: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.forget_class is not None and all(c.ok for c in self.checks.values())
                and self.cross_error is None)

    def first_problem(self) -> str | None:
        """What to do next, in a few words (None when the request is ready)."""
        if self.forget_class is None:
            return "choose the class to forget"
        for role, chk in self.checks.items():
            if chk.path is None:
                return f"add the {ROLES[role]}"
            if chk.error is not None:
                return f"fix the {ROLES[role]}: {chk.error.message}"
        if self.cross_error is not None:
            return self.cross_error.message
        return None


def detected_class(notes: NoteSet, labels: list[str]) -> str | None:
    """The forget set's class: its most common label that the model knows."""
    counts = sorted(notes.label_counts.items(), key=lambda kv: -kv[1])
    return next((lab for lab, _ in counts if lab in labels), None)
