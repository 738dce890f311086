"""random_tokens: STEU with k *random* rows instead of the k PMI-selected ones (control).

Same k (given, or derived from the same parameter budget), same objective, same head training,
same stopping rule; only the choice of rows differs. The rows are drawn uniformly, without
replacement, with a seeded generator (``selection_seed``, default: the run's seed) from

- ``pool="forget"`` (default): the tokens that occur in at least ``min_df`` forget notes (the same
  eligibility rule as STEU's PMI selection, special tokens excluded). This is the control that
  isolates the PMI *ranking*: the random rows touch the forget notes about as often as STEU's
  do, so a difference from ``steu`` is due to which tokens were chosen, not to whether the edit
  reaches the forget notes at all.
- ``pool="vocab"``: any non-special vocabulary row. Most rows of a 30k WordPiece vocabulary never
  occur in a few hundred notes, so this edit is close to a no-op on the data and the method then
  collapses towards ``head_only``; it is offered to show exactly that.

The selected tokens are reported with their (unused) PMI scores, so the report shows how far the
random draw is from the PMI top-k; ``notes`` says how many of them are also in STEU's top-k.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..pmi import TokenScore, document_frequency, pmi_scores
from .base import UnlearnContext, register
from .steu import Steu, SteuConfig, choose_tokens, default_min_df, rows_to_edit

POOLS = ("forget", "vocab")


@dataclass
class RandomTokensConfig(SteuConfig):
    pool: str = field(default="forget", metadata={"help": "draw rows from tokens of the forget notes ('forget') "
                                                          "or from the whole vocabulary ('vocab')"})
    selection_seed: int | None = field(default=None, metadata={"help": "seed of the random draw (default: the run's seed)"})

    def __post_init__(self):
        super().__post_init__()
        if self.pool not in POOLS:
            raise ConfigError(f"setting 'pool' must be one of {', '.join(POOLS)} (got {self.pool!r}).")


def random_selection(ctx: UnlearnContext, cfg: RandomTokensConfig) -> list[TokenScore]:
    clf = ctx.original
    vocab = int(clf.embedding.weight.shape[0])
    k = rows_to_edit(cfg, clf)
    df_f, n_f = document_frequency(ctx.forget.ids, vocab)
    df_r, n_r = document_frequency(ctx.retain.ids, vocab)
    df_all = df_f + df_r
    scores = pmi_scores(df_f, n_f, df_all, n_f + n_r, cfg.alpha)
    if cfg.pool == "forget":
        min_df = cfg.min_df if cfg.min_df is not None else default_min_df(len(ctx.forget))
        eligible = df_f >= min_df
    else:
        eligible = np.ones(vocab, dtype=bool)
    special = [i for i in getattr(clf.tokenizer, "all_special_ids", []) if 0 <= i < vocab]
    eligible[special] = False
    cand = np.flatnonzero(eligible)
    if cand.size < k:
        where = (f"tokens occurring in at least {min_df} forget notes" if cfg.pool == "forget"
                 else "non-special vocabulary tokens")
        raise ConfigError(f"k = {k} random rows were asked for but there are only {cand.size} {where}.",
                          hint="Give a smaller --k, lower min_df, or use pool 'vocab'.")
    seed = ctx.seed if cfg.selection_seed is None else cfg.selection_seed
    chosen = np.random.default_rng(seed).choice(cand, size=k, replace=False)
    chosen = chosen[np.lexsort((chosen, -scores[chosen]))]  # listed by PMI, like STEU's selection
    tokens = clf.tokenizer.convert_ids_to_tokens([int(i) for i in chosen])
    return [TokenScore(token=str(t), id=int(i), pmi=float(scores[i]), df_forget=int(df_f[i]),
                       df_total=int(df_all[i])) for t, i in zip(tokens, chosen)]


@register("random_tokens")
class RandomTokens(Steu):
    """k random rows (seeded) + the head: the control for STEU's PMI selection."""

    Config = RandomTokensConfig
    description = ("Control for STEU: k random embedding rows (from tokens of the forget notes) plus the head, "
                   "trained with STEU's objective.")
    label = "random-row control"
    edits = "rows+head"
    how = ("A control for STEU: k rows of the input token-embedding matrix are drawn at random (seeded) from the "
           "tokens STEU could choose from (those in at least a few forget notes), or from the whole vocabulary, "
           "instead of being ranked by PMI. Those rows and the classification head are trained with STEU's "
           "objective and stopping rule. Every encoder parameter stays frozen.")
    limitations = (
        ("What this control changes",
         "It edits only the classification head and k randomly drawn rows of the input token-embedding matrix. The "
         "encoder is not touched, and this report shows that it is bit-identical to the original."),
        ("What that means",
         "It is a control, not a method to rely on: set against STEU it shows how much of STEU's effect comes from "
         "choosing the rows by PMI. Any forgetting is behavioural suppression: the encoder's weights are unchanged, "
         "so a new classifier trained on the model's features, or a small amount of fine-tuning, may recover the "
         "class, which also keeps its output slot in the head. Rows drawn from the whole vocabulary rarely occur in "
         "the notes; the method then acts much like training the head alone."),
    )

    def select(self, ctx: UnlearnContext) -> list[TokenScore]:
        selected = random_selection(ctx, self.cfg)
        try:
            pmi_ids = {t.id for t in choose_tokens(ctx, self.cfg)}
            self._overlap = len(pmi_ids & {t.id for t in selected})
        except ConfigError:
            self._overlap = None
        return selected

    def run(self, ctx: UnlearnContext):
        result = super().run(ctx)
        overlap = getattr(self, "_overlap", None)
        result.notes.append(f"{len(result.selected_tokens)} rows drawn at random from the "
                            f"{'tokens of the forget notes' if self.cfg.pool == 'forget' else 'vocabulary'} "
                            f"(seed {ctx.seed if self.cfg.selection_seed is None else self.cfg.selection_seed})"
                            + (f"; {overlap} of them are also in STEU's PMI top-k" if overlap is not None else ""))
        return result
