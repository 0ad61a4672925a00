"""Train or load: base models cached by (dataset, config, code version), chapter 2.

    trained = zoo.model("sasrec", dataset="ml-100k", profile="quick")
    trained.model, trained.history, trained.split

The first call trains and saves a checkpoint (safetensors weights + a JSON card); later calls with
the same dataset, configuration, seed and package version load it. A checkpoint that is corrupt,
truncated or made for something else is detected (the card holds the weights' sha256 and the key)
and retrained, never used. Files are written to a temporary name and renamed: a crash leaves no
half-written checkpoint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from . import __version__, models
from .data import Dataset, Split, cache_dir, leave_one_out, load_dataset
from .models import Recommender
from .train import History, TrainConfig, train

MODELS = ("pop", "mf", "ncf", "elsa", "sasrec")

# per model and profile: (model config fields, training config fields). quick is the book's
# default (ML-100K on a laptop CPU), ci is seconds for the tests, full is paper scale on a GPU
SETTINGS = {
    "pop": {p: ({}, {}) for p in ("ci", "quick", "full")},
    "mf": {
        "ci": ({"hidden_size": 16}, {"epochs": 2, "lr": 2e-2}),
        "quick": ({"hidden_size": 64}, {"lr": 2e-2, "weight_decay": 1.0}),
        "full": ({"hidden_size": 64}, {"lr": 2e-2, "weight_decay": 1.0, "batch_size": 512}),
    },
    "ncf": {
        "ci": ({"hidden_size": 16}, {"epochs": 2, "lr": 1e-2}),
        "quick": ({"hidden_size": 64}, {"lr": 1e-2, "weight_decay": 1.0}),
        "full": ({"hidden_size": 64}, {"lr": 1e-2, "weight_decay": 1.0, "batch_size": 512}),
    },
    "neumf": {  # NCF's settings, not tuned for NeuMF
        "ci": ({"hidden_size": 16}, {"epochs": 2, "lr": 1e-2}),
        "quick": ({"hidden_size": 64}, {"lr": 1e-2, "weight_decay": 1.0}),
        "full": ({"hidden_size": 64}, {"lr": 1e-2, "weight_decay": 1.0, "batch_size": 512}),
    },
    "elsa": {
        "ci": ({"hidden_size": 32}, {"epochs": 2}),
        "quick": ({"hidden_size": 256}, {"lr": 1e-3}),
        "full": ({"hidden_size": 512}, {"lr": 1e-3, "batch_size": 512}),
    },
    "sasrec": {
        "ci": ({"hidden_size": 16, "max_len": 50}, {"epochs": 2}),
        # paper A's SASRec+ recipe: 2 blocks, hidden 64, 1 head, max length 200, batch 128
        "quick": ({"dropout": 0.2, "max_len": 200}, {"lr": 2e-3}),
        "full": ({"dropout": 0.2, "max_len": 200}, {"lr": 1e-3}),
    },
}


@dataclass
class Trained:
    """A trained base model and what came with it."""

    model: Recommender
    history: History  # the validations during training
    dataset: Dataset
    split: Split  # leave-one-out: what it was trained and evaluated on
    path: Path  # its checkpoint (.safetensors; the card is the .json beside it)
    loaded: bool  # True when read from the cache, False when trained by this call


def zoo_dir() -> Path:
    """Where checkpoints are kept: $RECSAE_ZOO if set, else a folder "zoo" in the data cache."""
    return Path(os.environ.get("RECSAE_ZOO") or cache_dir() / "zoo").expanduser()


def build(name: str, dataset: Dataset, split: Split, **config) -> Recommender:
    """A fresh model of kind `name` for `dataset`, with config fields overriding the defaults."""
    sizes = {"n_users": dataset.n_users, "n_items": dataset.n_items}
    if name == "pop":
        return models.Popularity(models.PopConfig(dataset.n_items), split.train)
    kinds = {
        "mf": (models.MF, models.MFConfig),
        "ncf": (models.NCF, models.NCFConfig),
        "neumf": (models.NeuMF, models.NeuMFConfig),
        "elsa": (models.ELSA, models.ELSAConfig),
        "sasrec": (models.SASRec, models.SASRecConfig),
    }
    if name not in kinds:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    model_class, config_class = kinds[name]
    names = {f.name for f in dataclasses.fields(config_class)}
    if unknown := set(config) - names:
        raise TypeError(f"{name} has no setting {', '.join(sorted(unknown))}; it has {names}")
    return model_class(config_class(**{k: v for k, v in sizes.items() if k in names}, **config))


def model(
    name: str,
    dataset: str | Dataset = "ml-100k",
    profile: str = "quick",
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    **config,
) -> Trained:
    """Train `name` on `dataset` with the `profile`'s settings (overridden by `config`), or load the
    checkpoint an identical earlier call saved."""
    if name not in SETTINGS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    if profile not in SETTINGS[name]:
        raise ValueError(f"unknown profile {profile!r}: choose ci, quick or full")
    data = load_dataset(dataset) if isinstance(dataset, str) else dataset
    split = leave_one_out(data)
    model_config, train_fields = SETTINGS[name][profile]
    train_config = TrainConfig(**{**train_fields, "seed": seed})
    model_config = {**model_config, **config}
    key = _key(name, data, model_config, train_config)
    path = zoo_dir() / f"{name}-{data.name}-{key[:16]}.safetensors"

    torch.manual_seed(seed)
    net = build(name, data, split, **model_config)
    history = _load(net, path, key)
    loaded = history is not None
    if not loaded:
        net.to(device)
        history = train(net, split, train_config, progress=progress)
        _save(net, history, path, key)
    net.to(device).eval()
    return Trained(net, history, data, split, path, loaded)


def _key(name: str, data: Dataset, model_config: dict, train_config: TrainConfig) -> str:
    what = {
        "model": name,
        "dataset": data.fingerprint(),
        "config": model_config,
        "train": dataclasses.asdict(train_config),
        "version": __version__,
    }
    return _hash(what)


def _hash(what: dict) -> str:
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _write_atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _save(net: Recommender, history: History, path: Path, key: str) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    _write_atomic(path, lambda tmp: save_file(state, tmp))
    card = {
        "key": key,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "describe": net.describe(),
        "history": dataclasses.asdict(history),
    }
    # the card is written last: a checkpoint without its card is incomplete and is retrained
    text = json.dumps(card, indent=1, default=str)
    _write_atomic(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text))


def _load(net: Recommender, path: Path, key: str) -> History | None:
    """The saved history after loading the weights into `net`; None when there is no usable
    checkpoint (missing, or refused with a warning saying why)."""
    card_path = path.with_suffix(".json")
    if not path.exists() and not card_path.exists():
        return None
    try:
        card = json.loads(card_path.read_text())
        if card["key"] != key:
            raise ValueError("it was saved for another dataset, configuration or version")
        if hashlib.sha256(path.read_bytes()).hexdigest() != card["sha256"]:
            raise ValueError("its weights do not match their checksum (corrupt or truncated)")
        net.load_state_dict(load_file(path))
        return History(**card["history"])
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        warnings.warn(f"retraining: the checkpoint {path} is unusable: {e}", stacklevel=3)
        return None


def sae(
    trained: Trained,
    config,
    train_config,
    positions: str = "all",
    layer: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
):
    """An SAE (`sae.SAEConfig`, `sae.SAETrainConfig`) on the hidden states of a trained base model
    (`activations.collect` with `positions`, `layer`, from its training histories), trained or
    loaded like the models; returns (the SAE, in eval mode, on `device`; those hidden states)."""
    from .activations import collect
    from .sae import SAE, train_sae

    x = collect(trained.model, trained.split, "train", positions, layer)
    what = {
        "base": trained.path.stem,
        "sae": dataclasses.asdict(config),
        "train": dataclasses.asdict(train_config),
        "positions": positions,
        "layer": layer,
        "version": __version__,
    }
    key = _hash(what)
    folder = zoo_dir() / "sae" / f"{trained.path.stem}-{config.variant}-{key[:16]}"
    card_path = folder / "card.json"
    if card_path.exists():
        try:
            card = json.loads(card_path.read_text())
            weights = (folder / "sae.safetensors").read_bytes()
            if card["key"] != key or hashlib.sha256(weights).hexdigest() != card["sha256"]:
                raise ValueError("it was saved for something else, or its weights are corrupt")
            return SAE.load(folder, expect=config).to(device), x
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
            warnings.warn(f"retraining: the SAE in {folder} is unusable: {e}", stacklevel=2)
    torch.manual_seed(train_config.seed)
    model = SAE(config).to(device)
    train_sae(model, x.to(device), train_config, progress=progress)
    staging = folder.with_name(f".{folder.name}.tmp")
    model.save(staging)
    sha = hashlib.sha256((staging / "sae.safetensors").read_bytes()).hexdigest()
    (staging / "card.json").write_text(json.dumps({"key": key, "sha256": sha, **what}, indent=1))
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(staging, folder)  # the folder appears complete, or not at all
    return model.eval(), x


# the SAE chapters 4 and 5 (and benchmarks/sasrec_steering.py) share, per profile: TopK, k = 8,
# 16 x d_in latents (RecSAE's choice for SASRec), on every position of the training histories
SAE_SETTINGS = {
    "ci": {"steps": 60, "batch_size": 1_024, "lr": 1e-3},
    "quick": {"steps": 1_500, "batch_size": 4_096, "lr": 1e-3},
    "full": {"steps": 5_000, "batch_size": 8_192, "lr": 1e-3},
}


def sae_settings(d_in: int, profile: str, seed: int = 0, k: int = 8, expansion: int = 16):
    """(SAEConfig, SAETrainConfig) of the book's TopK SAE for a model with hidden size d_in."""
    from .sae import SAEConfig, SAETrainConfig

    if profile not in SAE_SETTINGS:
        raise ValueError(f"unknown profile {profile!r}: choose ci, quick or full")
    config = SAEConfig(d_in=d_in, d_sae=expansion * d_in, variant="topk", k=k)
    return config, SAETrainConfig(**SAE_SETTINGS[profile], seed=seed)
