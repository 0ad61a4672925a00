"""The base recommenders (chapter 2), all behind one interface: `models.base.Recommender`.

Every module of this folder is imported here, so a model class registered in its own file
(`base.register`) can be built by name: `zoo.model(name, ...)`.
"""

import importlib
import pkgutil

from .base import REGISTRY, Batch, Recommender, make_batch, register
from .elsa import ELSA, ELSAConfig
from .mf import MF, MFConfig
from .ncf import NCF, NCFConfig
from .neumf import NeuMF, NeuMFConfig
from .pop import PopConfig, Popularity
from .sasrec import SASRec, SASRecConfig

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "REGISTRY", "Batch", "Recommender", "make_batch", "register", "ELSA", "ELSAConfig", "MF",
    "MFConfig", "NCF", "NCFConfig", "NeuMF", "NeuMFConfig", "PopConfig", "Popularity", "SASRec",
    "SASRecConfig"
]  # fmt: skip
