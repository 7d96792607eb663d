"""The local trainer backend (skeleton; the train issue fills it in)."""

from webtune.train.backends import TRAINERS


@TRAINERS.register("local")
class LocalTrainer:
    def train(self, ctx):
        raise NotImplementedError
