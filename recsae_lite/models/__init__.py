"""The base recommenders (chapter 2), all behind one interface: `models.base.Recommender`."""

from .base import Batch, Recommender, make_batch
from .elsa import ELSA, ELSAConfig
from .mf import MF, MFConfig
from .ncf import NCF, NCFConfig
from .neumf import NeuMF, NeuMFConfig
from .pop import PopConfig, Popularity
from .sasrec import SASRec, SASRecConfig

__all__ = [
    "Batch", "Recommender", "make_batch", "ELSA", "ELSAConfig", "MF", "MFConfig", "NCF",
    "NCFConfig", "NeuMF", "NeuMFConfig", "PopConfig", "Popularity", "SASRec", "SASRecConfig",
]  # fmt: skip
