"""The request's data, loaded and checked against the model before any work is done."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data import NoteSet, check_forget_set, check_labels_known, find_overlap, load_notes, note_digest
from ..errors import ConfigError, DataError
from ..forget_ids import forget_by_ids, read_forget_notes, read_ids, training_ids
from ..methods import calibration_share
from ..model import Classifier
from ..request import RunRequest, UnlearnRequest
from .forget_index import forget_from_run, forget_source_of_run

# Models whose position ids start after the padding index (so fewer positions are usable)
OFFSET_POSITION_MODELS = {"roberta", "xlm-roberta", "camembert", "longformer", "data2vec-text"}


@dataclass
class RequestData:
    train: NoteSet
    evaluation: NoteSet
    forget: NoteSet
    retain: NoteSet
    forget_class_id: int
    members: np.ndarray       # forget notes found in the training file (the only real members)
    forget_source: dict = field(default_factory=dict)  # notes, ids (with the ids file's hash) or the class
    # held-out notes of the forget class a stopping rule calibrates on, split off ``evaluation`` (which the
    # audits score) before any work; ``eval_file`` is the evaluation file as given (None: nothing split off)
    calibration: NoteSet | None = None
    eval_file: NoteSet | None = None

    @property
    def evaluation_file(self) -> NoteSet:
        return self.eval_file if self.eval_file is not None else self.evaluation


def text_digests(notes: NoteSet) -> list[bytes]:
    return [note_digest(t) for t in notes.texts]  # line endings normalised: CRLF and LF notes match


MEMBERS_RULE = "forget notes whose text (SHA-256) occurs in the training file, each note once"


def training_members(forget: NoteSet, train: NoteSet) -> np.ndarray:
    """Which forget notes are in the training file, by the SHA-256 of their text: a note that was
    never trained on is no member, and membership inference on it would measure nothing. A note listed
    twice is one member (its first copy): copies would count one note's score twice and make the attacks'
    intervals narrower than the notes allow."""
    trained, seen, out = set(text_digests(train)), set(), []
    for d in text_digests(forget):
        out.append(d in trained and d not in seen)
        seen.add(d)
    return np.array(out, dtype=bool)


def check_forget_was_trained(forget: NoteSet, members: np.ndarray, train: NoteSet) -> None:
    if len(forget) and not members.any():
        raise DataError(f"none of the {len(forget)} forget-set notes is in the training file {train.name}: these "
                        "notes were never used to train this model; nothing to forget", file=forget.name,
                        hint="Give the notes exactly as they appear in the training file, and the training "
                             "file the model was trained on.")


def max_length_limit(clf: Classifier) -> int | None:
    """The longest token sequence the model has positions for (None: the config does not say)."""
    cfg = clf.model.config
    limit = getattr(cfg, "max_position_embeddings", None)
    if not isinstance(limit, int):
        return None
    if cfg.model_type in OFFSET_POSITION_MODELS:
        limit -= (getattr(cfg, "pad_token_id", 1) or 0) + 1  # positions start after the padding index
    return limit


def check_max_length(clf: Classifier, max_length: int) -> None:
    """The model must have a position for every token of a ``max_length`` sequence."""
    limit = max_length_limit(clf)
    if limit is not None and max_length > limit:
        raise ConfigError(f"--max-length {max_length} is longer than this model accepts ({limit} tokens).",
                          hint=f"Use --max-length {limit} or less; longer notes are truncated and counted.")


def load_request_data(req: RunRequest, clf: Classifier) -> tuple[NoteSet, NoteSet, NoteSet, NoteSet, int]:
    """train, eval, forget, retain and the forget class id, validated against the model."""
    cols = {"text_column": req.text_column, "label_column": req.label_column, "max_file_mb": req.max_file_mb}
    train = load_notes(req.train, **cols)
    evaluation = load_notes(req.eval, **cols)
    check_labels_known(train, clf.labels)
    check_labels_known(evaluation, clf.labels)
    fc = clf.label_id(req.forget_class)
    name = clf.labels[fc]
    forget = load_forget_set(req, train, name, clf.labels, cols)
    retain = train.where_label(name, equal=False, name=f"{train.name} [other classes]")
    if len(retain) == 0:
        raise DataError("the training file has no notes of any class other than the forget class", file=train.name,
                        hint="The retain set (the other classes) is needed to keep the model's utility.")
    check_evaluation(evaluation, name)
    return train, evaluation, forget, retain, fc


def check_evaluation(evaluation: NoteSet, name: str) -> None:
    """The evaluation file needs notes of the forget class (forget F1, the non-members) and of the other
    classes (whether usefulness was kept): a forget file given as --eval has only the first."""
    if name not in evaluation.labels:
        raise DataError(f"the evaluation file has no note of the forget class '{name}'", file=evaluation.name,
                        hint="The forget F1 and the membership-inference audit need held-out notes of the "
                             "forget class; add some to the evaluation file.")
    if all(label == name for label in evaluation.labels):
        raise DataError(f"the evaluation file has only notes of the forget class '{name}', none of the retained "
                        "classes", file=evaluation.name,
                        hint="Whether the model's usefulness was kept is measured on held-out notes of the other "
                             "classes: give --eval a held-out file of every class (not the forget file).")


def load_forget_set(req: RunRequest, train: NoteSet, name: str, labels: list[str], cols: dict) -> NoteSet:
    """The forget notes: the file's, the training notes its ids name, or the training notes of the
    forget class when neither is given."""
    if req.forget_ids:
        ids = read_ids(req.forget_ids, req.id_column, req.max_file_mb)
        _, ids_of_train = training_ids(train, req.train, req.id_column, req.max_file_mb)
        forget = forget_by_ids(train, ids_of_train, ids)
    elif req.forget_from_run:
        forget = forget_from_run(req.forget_from_run, train, name)
    elif req.forget:
        forget = load_forget_file(req, name, labels, cols)
    else:
        forget = train.where_label(name, name=f"{train.name} [class {name}]")
    check_forget_set(forget, name, req.min_forget)
    return forget


def load_forget_file(req: RunRequest, name: str, labels: list[str], cols: dict) -> NoteSet:
    """The forget file's notes; a file without a label column holds notes of the forget class."""
    forget = read_forget_notes(req.forget, name, text_column=req.forget_text_column or cols["text_column"],
                               label_column=req.forget_label_column or cols["label_column"],
                               max_file_mb=req.max_file_mb)
    if forget.label_column:
        check_labels_known(forget, labels)
    return forget


def forget_source(req: RunRequest) -> dict:
    """How the request gave its forget set, for the run's evidence (names, hashes and counts only)."""
    if req.forget_ids:
        return {"given_by": "ids", "ids_file": read_ids(req.forget_ids, req.id_column, req.max_file_mb).describe()}
    return {"given_by": "notes" if req.forget else "training notes of the class"}


CALIBRATION_RULE = ("a seeded random share of the evaluation notes of the forget class, split off before the run: "
                    "the stopping rule's held-out reference, scored by no audit")


def split_calibration(evaluation: NoteSet, class_name: str, share: float, seed: int) -> tuple[NoteSet, NoteSet]:
    """(the evaluation notes the audits score, the calibration notes): ``share`` of the forget class's evaluation
    notes, drawn with ``seed``. The draw is a prefix of one seeded order, so a smaller share's notes are part of a
    larger one's: a comparison takes the largest share of its methods off every method's audits."""
    of_class = [i for i, y in enumerate(evaluation.labels) if y == class_name]
    n = round(share * len(of_class))
    if n < 2 or len(of_class) - n < 2:
        raise DataError(f"calibration_share {share:g} of the {len(of_class)} evaluation notes of '{class_name}' leaves "
                        f"{n} to calibrate on and {len(of_class) - n} for the audits; each needs at least 2",
                        file=evaluation.name, hint="Add held-out notes of the class to the evaluation file, change "
                                                   "calibration_share, or use stop_at 'forgotten'.")
    order = np.random.default_rng(seed).permutation(len(of_class))
    chosen = {of_class[i] for i in order[:n]}
    kept = [i for i in range(len(evaluation)) if i not in chosen]
    return (evaluation.subset(kept, name=f"{evaluation.name} [without the calibration notes]"),
            evaluation.subset(sorted(chosen), name=f"{evaluation.name} [calibration notes]"))


def calibration_section(data: RequestData) -> dict | None:
    """What results.json says of the calibration split (its share and seed are the run's): counts and
    evaluation-file rows, never text; None where nothing was split off."""
    if data.calibration is None:
        return None
    return {"notes": len(data.calibration), "eval_file_rows": list(data.calibration.row_numbers),
            "rule": CALIBRATION_RULE}


def prepare_data(req: UnlearnRequest, clf: Classifier) -> RequestData:
    train, evaluation, forget, retain, fc = load_request_data(req, clf)
    members = training_members(forget, train)
    check_forget_was_trained(forget, members, train)
    source = forget_source_of_run(req.forget_from_run, forget) if req.forget_from_run else forget_source(req)
    share = calibration_share(req.method, req.settings)
    if not share:
        return RequestData(train, evaluation, forget, retain, fc, members, source)
    audited, calibration = split_calibration(evaluation, clf.labels[fc], share, req.seed)
    return RequestData(train, audited, forget, retain, fc, members, source, calibration, evaluation)


def data_warnings(train: NoteSet, evaluation: NoteSet, forget: NoteSet, retain: NoteSet) -> list[str]:
    """Things worth knowing about the data that do not stop a run (counts and row numbers only)."""
    out = []
    clash = find_overlap(forget, retain)
    if clash:
        # Real corpora hold the same text under two labels (Medical Abstracts: 12 such notes in the
        # benchmark's forget class). Training them towards the other label agrees with forgetting the
        # class, so this is reported rather than refused.
        out.append(f"{len(clash)} forget-set note(s) also appear, with another label, among the training notes "
                   f"kept for the other classes (e.g. forget row {clash[0][0]} = training row {clash[0][1]}); "
                   "the retain term keeps training them towards that other label")
    if forget.duplicate_rows:
        out.append(f"the forget set holds {forget.duplicate_rows} duplicate row(s) ({forget.name}); each copy "
                   "is used in unlearning, which weights those notes more, and counts once in membership inference")
    if train.duplicate_rows:
        out.append(f"the training file holds {train.duplicate_rows} duplicate row(s) ({train.name})")
    leaked = find_overlap(forget, evaluation)
    if leaked:
        out.append(f"{len(leaked)} forget-set note(s) also appear in the evaluation file (e.g. forget row "
                   f"{leaked[0][0]} = eval row {leaked[0][1]}): the held-out audits then see forgotten notes")
    return out


def request_warnings(data: RequestData) -> list[str]:
    """:func:`data_warnings`, and forget notes that were never trained on (not members)."""
    out = data_warnings(data.train, data.evaluation, data.forget, data.retain)
    ids_file = data.forget_source.get("ids_file") or {}
    if ids_file.get("duplicates_dropped"):
        out.append(f"the ids file {ids_file['name']} names {ids_file['duplicates_dropped']} id(s) more than once; "
                   "each note is forgotten once")
    missing = int((~data.members).sum())
    if missing:
        out.append(f"{missing} of {len(data.forget)} forget-set note(s) are not in the training file: they were never "
                   f"members; membership inference is measured on the {int(data.members.sum())} found")
    return out
