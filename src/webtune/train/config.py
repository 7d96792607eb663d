"""Config of the train stage: one config per trainer backend, chosen by ``backend``.

Each backend keeps its settings in ``train/backends/<name>_config.py`` (light modules: no
torch import), so that loading a pipeline file stays fast.
"""

from __future__ import annotations

from webtune.plugins import config_field
from webtune.train.backends import TRAINERS
from webtune.train.backends.local_config import LocalTrainConfig
from webtune.train.backends.openai_config import OpenAITrainConfig

# The pipeline's ``train`` section: ``backend`` picks the registered trainer's config (built-in
# or plugin; ``local`` when left out, filled in by PipelineConfig before validation).
TrainConfig = config_field(TRAINERS)

__all__ = ["LocalTrainConfig", "OpenAITrainConfig", "TrainConfig"]
