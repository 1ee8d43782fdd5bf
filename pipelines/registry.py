"""Every pipeline tfpipe knows, by name. Importing this must stay free of TensorFlow."""

from __future__ import annotations

from pipelines.cifar10.config import Cifar10Config
from pipelines.config import PipelineConfig
from pipelines.digits.config import DigitsConfig
from pipelines.fashion_mnist.config import FashionMnistConfig
from pipelines.iris.config import IrisConfig
from pipelines.letters.config import LettersConfig
from pipelines.mnist.config import MnistConfig
from pipelines.pronunciation.config import PronunciationConfig
from pipelines.spoken_digits.config import SpokenDigitsConfig
from pipelines.stock.config import StockConfig
from pipelines.table.config import TableConfig

PIPELINES: dict[str, type[PipelineConfig]] = {
    config.name: config
    for config in (
        IrisConfig,
        StockConfig,
        DigitsConfig,
        MnistConfig,
        LettersConfig,
        SpokenDigitsConfig,
        FashionMnistConfig,
        Cifar10Config,
        TableConfig,
        PronunciationConfig,
    )
}


class UnknownPipelineError(KeyError):
    """A name that is no pipeline's; the second argument, if given, names the workdir's named pipelines."""

    def __str__(self) -> str:
        named = self.args[1] if len(self.args) > 1 else ()
        also = f"; named in this workdir: {', '.join(named)}" if named else ""
        return f"Unknown pipeline {self.args[0]!r}; known pipelines: {', '.join(sorted(PIPELINES))}{also}."


def config_for(name: str) -> PipelineConfig:
    """The default config of the pipeline called `name`."""
    if name not in PIPELINES:
        raise UnknownPipelineError(name)
    return PIPELINES[name]()
