"""Settings of the hosted OpenAI fine-tuning backend (light module: no ``openai`` import)."""

from __future__ import annotations

import re
from typing import Literal, Union

from pydantic import Field, field_validator, model_validator

from webtune.configbase import StrictModel
from webtune.hosted.sunset import DEFAULT_HOSTED_MODEL

Auto = Literal["auto"]


class OpenAITrainConfig(StrictModel):
    """``train: {backend: openai, ...}``: fine-tune a hosted model through the OpenAI API.

    The API key is read from the environment variable named by ``api_key_env`` (never from
    the file); ``base_url`` (or ``OPENAI_BASE_URL``) points at another OpenAI-compatible API.
    ``method: dpo`` runs preference fine-tuning (Direct Preference Optimization) on the dataset
    stage's ``preference_train.jsonl`` / ``preference_validation.jsonl`` (uploaded in OpenAI's
    preference format), with ``beta`` as the DPO hyperparameter.
    """

    backend: Literal["openai"]
    model: str = DEFAULT_HOSTED_MODEL  # not one scheduled to shut down (webtune.hosted.sunset)
    method: Literal["supervised", "dpo"] = "supervised"
    # The method's hyperparameters; "auto" lets the API choose.
    epochs: Union[int, Auto] = Field(default="auto", description="n_epochs")
    batch_size: Union[int, Auto] = "auto"
    learning_rate_multiplier: Union[float, Auto] = "auto"
    beta: Union[float, Auto] = Field(default="auto", description="dpo only: how far the tuned model may "
                                     "move from the base model (lower: further)")
    suffix: str | None = Field(default=None, description="part of the ft: model name; default: pipeline name")
    seed: int | None = Field(default=None, description="default: the pipeline's seed")
    metadata: dict[str, str] = {}
    # Connection.
    base_url: str | None = None
    api_key_env: str = Field(default="OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    max_retries: int = Field(default=5, ge=0, le=20)
    request_timeout: float = Field(default=60.0, gt=0)
    # Monitoring.
    poll_interval: float = Field(default=10.0, ge=0.01)
    # Cost confirmation: asked on a terminal unless `confirm: false` or `yes: true` (or --yes).
    confirm: bool = True
    yes: bool = False
    max_cost_usd: float | None = Field(default=None, ge=0)

    @field_validator("epochs", "batch_size")
    @classmethod
    def _positive_int(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("must be at least 1 or 'auto'")
        return value

    @field_validator("learning_rate_multiplier", "beta")
    @classmethod
    def _positive_float(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and value <= 0:
            raise ValueError("must be greater than 0 or 'auto'")
        return value

    @field_validator("suffix")
    @classmethod
    def _suffix(cls, value: str | None) -> str | None:
        # The API allows up to 64 characters in the model name suffix.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", value):
            raise ValueError("use 1-64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str]) -> dict[str, str]:
        # The API takes at most 16 pairs; webtune adds 3 of its own.
        if len(value) > 13:
            raise ValueError("at most 13 keys (webtune adds 3 of the API's 16)")
        for key, item in value.items():
            if len(key) > 64 or len(item) > 512:
                raise ValueError(f"metadata '{key[:20]}': keys up to 64 and values up to 512 characters")
        return value

    @model_validator(mode="after")
    def _beta_is_dpo(self) -> "OpenAITrainConfig":
        if self.method != "dpo" and self.beta != "auto":
            raise ValueError("beta: only the dpo method takes beta")
        return self

    def hyperparameters(self) -> dict[str, int | float | str]:
        """The method's hyperparameters as the API names them (``beta`` too for dpo)."""
        hyper: dict[str, int | float | str] = {"n_epochs": self.epochs, "batch_size": self.batch_size,
                                               "learning_rate_multiplier": self.learning_rate_multiplier}
        if self.method == "dpo":
            hyper["beta"] = self.beta
        return hyper
