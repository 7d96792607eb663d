"""Config of the register stage: where versions go, and when a new one becomes ``production``."""

from __future__ import annotations

from pydantic import Field

from webtune.configbase import RelPath, StrictModel

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ChampionGates(StrictModel):
    """A refresh run's gates against the production model (applied when evaluate compared them).

    On each set, the 95% interval of the loss delta (new model minus production) must lie below
    the margin: ``0.0`` means surely better, a small positive margin "not worse by more than it".
    None switches that set's gate off.
    """

    benchmark_loss_delta_upper: float | None = Field(0.02, description="on the frozen benchmark (the "
                                                     "union of earlier test splits): not worse than this")
    new_loss_delta_upper: float | None = Field(0.0, description="on this version's test split "
                                               "(new and changed records): surely better")


class PromotionGates(StrictModel):
    """Checks on the evaluation a new version must pass to become ``production``.

    A gate whose metric the evaluation does not have (e.g. the loss of a hosted model)
    fails: promotion never happens on missing evidence; `webtune registry promote` can.
    """

    tuned_loss_below_base: bool = True
    tuned_rouge_l_above_base: bool = False
    max_loss: float | None = Field(None, gt=0)
    min_rouge_l: float | None = Field(None, ge=0, le=1)
    # Block promotion when the evaluation flagged forgetting (general-set loss rose past
    # evaluate.forgetting.threshold), or when no forgetting check ran.
    no_forgetting: bool = False
    # On the 95% interval of the tuned-minus-base delta: better beyond doubt, by a margin.
    rouge_l_delta_lower: float | None = Field(None, description="the interval's lower bound of the "
                                              "ROUGE-L delta must be above this (0.0: surely better)")
    loss_delta_upper: float | None = Field(None, description="the interval's upper bound of the loss "
                                           "delta must be below this (0.0: surely lower)")
    delta_lower: dict[str, float] = Field({}, description="any figure: its delta interval's lower bound "
                                          "must be above the margin")
    delta_upper: dict[str, float] = Field({}, description="any figure: its delta interval's upper bound "
                                          "must be below the margin")
    # Does the tuned model stop where it should, and not loop?
    min_eot_fraction: float | None = Field(None, ge=0, le=1, description="share of the tuned model's "
                                           "answers that end with end-of-turn (not max_new_tokens)")
    max_repetition: float | None = Field(None, ge=0, le=1, description="the tuned model's mean "
                                         "repetition rate (repeated 4-grams within an answer)")
    champion: ChampionGates = ChampionGates()


class RegisterConfig(StrictModel):
    """Register the tuned model as a new version of ``model_name`` in the model registry."""

    model_name: str | None = Field(None, pattern=NAME_PATTERN, description="default: the pipeline name")
    path: RelPath | None = Field(None, description="registry directory (default: $WEBTUNE_HOME/registry)")
    promote: bool = Field(True, description="make the version `production` when the gates pass")
    promote_if: PromotionGates = PromotionGates()
    description: str = ""
