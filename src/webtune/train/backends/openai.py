"""The hosted OpenAI fine-tuning backend (skeleton; the hosted-training issue fills it in)."""

from webtune.train.backends import TRAINERS


@TRAINERS.register("openai")
class OpenAITrainer:
    def train(self, ctx):
        raise NotImplementedError
