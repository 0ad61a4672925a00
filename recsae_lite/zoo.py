"""Train or load (no need to read): base models and SAEs cached by what made them, chapter 2.

    trained = zoo.model("sasrec", dataset="ml-100k", profile="quick")
    trained.model, trained.history, trained.split

The first call trains and saves (safetensors weights + a JSON card); a later call with the same
dataset, configuration, seed, device type and package version loads. A checkpoint that is corrupt,
edited or made for something else is detected (the card holds the key, the weights' sha256 and a
sha256 of its own fields) and retrained; files appear complete or not at all; a zoo that cannot be
written still gives the model, with a warning. Training and loading draw their own random numbers,
so what a chapter draws after a zoo call is the same whether the model was trained or loaded.
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
from .data.sources import respect_umask, write_atomic
from .models import Recommender
from .train import History, TrainConfig, train

__all__ = [
    "MODELS", "FITS", "RELU_L1", "PROFILES", "Trained", "build", "model", "sae",
    "sae_settings", "fit_settings", "zoo_dir"
]  # fmt: skip

MODELS = tuple(models.REGISTRY)  # every registered model; its settings per profile are its own
PROFILES = ("ci", "quick", "full")  # quick: the book's default (ML-100K on a laptop CPU); ci: the
#                                     tests, in seconds; full: paper scale on a GPU


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


def _registered(name: str) -> type[Recommender]:
    if name not in models.REGISTRY:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return models.REGISTRY[name]


def build(name: str, dataset: Dataset, split: Split, **config) -> Recommender:
    """A fresh model of kind `name` for `dataset`, with config fields overriding the defaults."""
    return _registered(name).build(dataset, split, **config)


def model(
    name: str,
    dataset: str | Dataset = "ml-100k",
    profile: str = "quick",
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    training: dict | None = None,
    **config,
) -> Trained:
    """Train `name` on `dataset` with the `profile`'s settings (overridden by `config`, and by
    `training` for the `TrainConfig` fields), or load the checkpoint an identical call saved."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose ci, quick or full")
    model_config, train_fields = _registered(name).settings[profile]
    data = load_dataset(dataset) if isinstance(dataset, str) else dataset
    split = leave_one_out(data)
    train_config = TrainConfig(**{**train_fields, **(training or {}), "seed": seed})
    model_config = {**model_config, **config}
    key = _key(name, data, model_config, train_config, device)
    path = zoo_dir() / f"{name}-{data.name}-{key[:16]}.safetensors"

    with _own_random_numbers(device):
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


def _own_random_numbers(device: str | torch.device):
    """A context in which training or loading draws random numbers without moving the caller's
    generators (the CPU's, and the GPU's when it trains on one): training draws many, loading
    none, and what the caller draws next must not depend on which of the two happened."""
    device = torch.device(device)
    if device.type != "cuda":
        return torch.random.fork_rng(devices=[])
    index = torch.cuda.current_device() if device.index is None else device.index
    return torch.random.fork_rng(devices=[index], device_type="cuda")


def _key(name, data: Dataset, model_config: dict, train_config: TrainConfig, device) -> str:
    return _hash({"model": name, "dataset": data.fingerprint(), "config": model_config,
                  "train": dataclasses.asdict(train_config), **_made_by(device)})  # fmt: skip


def _made_by(device) -> dict:
    """What else a checkpoint depends on: a CPU-trained and a GPU-trained model differ."""
    return {"device": torch.device(device).type, "version": __version__}


def _hash(what: dict) -> str:
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _not_saved(where: Path, error: OSError) -> None:
    warnings.warn(
        f"the trained model is returned but not saved: {where} cannot be written "
        f"({error.strerror or error}). Set the RECSAE_ZOO environment variable to a folder you "
        "can write to keep it for the next run",
        stacklevel=4,
    )


def _write_card(path: Path, card: dict) -> None:
    """Write a card (JSON) with a sha256 of its fields ("card_sha256"), which `_read_card`
    checks: an edited or damaged card is noticed."""
    card = json.loads(json.dumps(card, default=str))  # the fields as they will read back
    text = json.dumps({**card, "card_sha256": _hash(card)}, indent=1)
    write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def _read_card(path: Path, key: str) -> dict:
    """A card's fields; ValueError when it is edited, damaged, or saved for another key."""
    try:
        card = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path.name} is not valid JSON ({e})") from None
    if card.pop("card_sha256", None) != _hash(card):
        raise ValueError(f"{path.name} was edited or is damaged: its fields do not match its hash")
    if card["key"] != key:
        raise ValueError("it was saved for another dataset, configuration, device or version")
    return card


def _save(net: Recommender, history: History, path: Path, key: str) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    try:
        write_atomic(path, lambda tmp: save_file(state, tmp))
        card = {
            "key": key,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "describe": net.describe(),
            "history": dataclasses.asdict(history),
        }
        # the card is written last: a checkpoint without its card is incomplete and is retrained
        _write_card(path.with_suffix(".json"), card)
    except OSError as e:
        _not_saved(path.parent, e)


def _load(net: Recommender, path: Path, key: str) -> History | None:
    """The saved history after loading the weights into `net`; None when there is no usable
    checkpoint (missing, or refused with a warning saying why)."""
    card_path = path.with_suffix(".json")
    if not path.exists() and not card_path.exists():
        return None
    try:
        card = _read_card(card_path, key)
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
    """An SAE (`sae.SAEConfig`, `sae.FitConfig`) on the hidden states of a trained base model
    (`activations.collect` with `positions`, `layer`, from its training histories), trained or
    loaded like the models; returns (the SAE, in eval mode, on `device`; those hidden states)."""
    from .activations import collect
    from .sae import SAE, fit

    x = collect(trained.model, trained.split, "train", positions, layer)
    what = {
        "base": trained.path.stem,
        "sae": dataclasses.asdict(config),
        "train": dataclasses.asdict(train_config),
        "positions": positions,
        "layer": layer,
        **_made_by(device),
    }
    key = _hash(what)
    folder = zoo_dir() / "sae" / f"{trained.path.stem}-{config.variant}-{key[:16]}"
    with _own_random_numbers(device):
        if (folder / "card.json").exists():
            try:
                _read_card(folder / "card.json", key)
                return SAE.load(folder, expect=config).to(device), x  # SAE.load checks its sha256
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
                warnings.warn(f"retraining: the SAE in {folder} is unusable: {e}", stacklevel=2)
        model = fit(x.to(device), config, train_config, progress=progress)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            model.save(staging)
            _write_card(staging / "card.json", {"key": key, **what})
            respect_umask(staging)
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(staging, folder)  # the folder appears complete, or not at all
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as e:
        _not_saved(folder.parent, e)
    return model.eval(), x


# Every SAE fit of the book, by the kind of vectors it reads, per profile: Adam's rate, the batch
# and the step cap (the held-out stopping rule usually ends a fit sooner). quick: measured by
# benchmarks/fit_budget.py, the setting that reaches the held-out FVU the book's fits had before in
# the least time; full: the quick rates with larger batches and caps (not measured); ci: seconds.
#   sasrec:    SASRec's states at every position (chapters 3, 4, 5, 7 and 8, shared via `sae`)
#   two_tower: MF's and NCF's user and item embeddings, prediction-aware (chapters 6 and 8)
#   elsa:      ELSA's user embeddings and their views (chapter 8)
#   items:     item embeddings of a few hundred to a few thousand items (chapters 7 and 9)
FITS = {
    "ci": {
        "sasrec": {"lr": 4e-3, "batch_size": 1_024, "max_steps": 60, "eval_every": 20},
        "two_tower": {"lr": 4e-3, "batch_size": 512, "max_steps": 100},
        "elsa": {"lr": 1e-3, "batch_size": 1_024, "max_steps": 100},
        "items": {"lr": 4e-3, "batch_size": 1_024, "max_steps": 150},
    },
    "quick": {  # benchmarks/results/fit_budget.json (sasrec: the larger cap of TopK's and
        #         Matryoshka's; elsa: no setting reached the previous fit's FVU, which stays)
        "sasrec": {"lr": 4e-3, "batch_size": 1_024, "max_steps": 650},
        "two_tower": {"lr": 4e-3, "batch_size": 512, "max_steps": 400},
        "elsa": {"lr": 1e-3, "batch_size": 1_024, "max_steps": 2_000},
        "items": {"lr": 4e-3, "batch_size": 1_024, "max_steps": 350},
    },
    "full": {
        "sasrec": {"lr": 4e-3, "batch_size": 8_192, "max_steps": 5_000},
        "two_tower": {"lr": 4e-3, "batch_size": 512, "max_steps": 5_000},
        "elsa": {"lr": 1e-3, "batch_size": 1_024, "max_steps": 5_000},
        "items": {"lr": 4e-3, "batch_size": 8_192, "max_steps": 5_000},
    },
}
RELU_L1 = {4: 400.0, 8: 250.0, 16: 150.0, 32: 80.0, 64: 40.0}  # relu: L1 weights for an L0 near k


def sae_settings(
    d_in: int, profile: str, seed: int = 0, k: int = 8, expansion: int = 16, variant: str = "topk"
):
    """(SAEConfig, FitConfig) of the book's SAE of `variant` for a model with hidden size d_in:
    k active features (TopK exactly, BatchTopK and Matryoshka on average; for ReLU the L1 weight
    that gives an L0 near k), Matryoshka's nested groups of d, 3 d and 12 d features."""
    from .sae import SAEConfig

    fit_config = fit_settings("sasrec", profile, seed)
    options = {}
    if variant == "relu":
        options = {"l1_coefficient": RELU_L1[k], "l1_warmup_steps": fit_config.max_steps // 4}
    if variant == "matryoshka":
        options = {"groups": (d_in, 3 * d_in, (expansion - 4) * d_in)}
    config = SAEConfig(d_in, expansion * d_in, variant, k=k, **options)
    return config, fit_config


def fit_settings(kind: str, profile: str, seed: int = 0, **changes):
    """The `FitConfig` of the book's SAE fits of `kind` (sasrec, two_tower, elsa, items; see
    `FITS`) in `profile`, with `changes` (FitConfig fields) on top."""
    from .sae import FitConfig

    if profile not in FITS:
        raise ValueError(f"unknown profile {profile!r}: choose ci, quick or full")
    if kind not in FITS[profile]:
        raise ValueError(f"unknown kind of fit {kind!r}: choose {', '.join(FITS[profile])}")
    return FitConfig(**{**FITS[profile][kind], "seed": seed, **changes})
