"""Sparse autoencoders: one weight layout, four variants, their losses, the one fit, save/load
(chapter 3).

    z = act((x - b_dec) W_enc + b_enc)        W_enc (d_in, d_sae), b_enc (d_sae,)
    x_hat = z W_dec + b_dec                   W_dec (d_sae, d_in): row j is feature j's direction

Variants (rows of `VARIANTS`, each a few properties the code reads; a new variant is a new row):
- "relu": ReLU, with an L1 penalty on z weighted by the decoder row norms, warmed up;
- "topk": the k largest pre-activations of each sample, and the AuxK loss that revives dead
  features;
- "batchtopk": the k * B largest of the whole batch; at inference, a threshold fitted on the data;
- "matryoshka": BatchTopK whose nested prefixes of the dictionary (`groups`) must each reconstruct
  x on their own: the loss sums over prefixes, all computed from one running sum of group decodes.
Options of the config, not of the code: paper B's KL sparsity and prediction-aware term, paper C's
per-vector standardisation and cosine loss.

Inputs are standardised with a mean and one scale, measured on the training data and stored with the
SAE (and, with `standardise_each`, each vector first on its own); `decode` undoes it, so callers see
vectors in the model's units. `fit` is the one training function of the book: Adam, stopped when the
loss on held-out samples stops improving. Conventions follow SAELens and dictionary_learning (Gao et
al. 2024 for TopK/AuxK, Bussmann et al. 2024-25 for BatchTopK and Matryoshka).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor, nn
from tqdm.auto import tqdm

__all__ = ["Variant", "VARIANTS", "SAEConfig", "SAE", "FitConfig", "FitHistory", "Fit", "fit"]


@dataclass(frozen=True)
class Variant:
    sparse: bool  # features chosen by rank (TopK-like); else ReLU with an L1 penalty
    batch_wide: bool = False  # k * B largest of the whole batch; a threshold at inference
    nested: bool = False  # Matryoshka: every prefix of groups reconstructs x


VARIANTS = {
    "relu": Variant(sparse=False),
    "topk": Variant(sparse=True),
    "batchtopk": Variant(sparse=True, batch_wide=True),
    "matryoshka": Variant(sparse=True, batch_wide=True, nested=True),
}


@dataclass
class SAEConfig:
    d_in: int  # size of the hidden states read
    d_sae: int  # number of features
    variant: str = "topk"  # one of VARIANTS
    k: int = 16  # active features per sample (topk; on average for batchtopk and matryoshka)
    groups: tuple[int, ...] = ()  # matryoshka: sizes of the nested groups, summing to d_sae
    l1_coefficient: float = 5.0  # relu: weight of the L1 penalty
    l1_warmup_steps: int = 500  # relu: the L1 weight grows linearly from 0 over these steps
    code_l1: float = 0.0  # the sparse variants: a small L1 on the codes (paper C: 1e-3)
    aux_k: int = 0  # topk/batchtopk: dead features AuxK may use; 0 means d_in // 2
    aux_coefficient: float = 1 / 32  # weight of the AuxK loss
    kl_coefficient: float = 0.0  # paper B's KL sparsity term (0: off)
    kl_target: float = 0.05  # rho, the target mean activation of a feature
    pred_coefficient: float = 0.0  # w_pred: weight of a prediction-aware term given to `fit`
    standardise_each: bool = False  # paper C: each vector to mean 0, std 1 before the SAE
    loss: str = "mse"  # reconstruction loss: "mse", or "cosine" (paper C: d_in * (1 - cos))

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"variant {self.variant!r} is not one of {tuple(VARIANTS)}")
        if self.loss not in ("mse", "cosine"):
            raise ValueError(f"loss must be 'mse' or 'cosine', got {self.loss!r}")
        if self.d_in < 1 or self.d_sae < 1:
            raise ValueError(f"d_in ({self.d_in}) and d_sae ({self.d_sae}) must be positive")
        if VARIANTS[self.variant].sparse and not 1 <= self.k <= self.d_sae:
            raise ValueError(f"k = {self.k} must be between 1 and d_sae = {self.d_sae}")
        self.groups = tuple(self.groups)
        if VARIANTS[self.variant].nested:
            if sum(self.groups) != self.d_sae or min(self.groups, default=0) < 1:
                raise ValueError(
                    f"matryoshka groups {self.groups} must be positive and sum to d_sae = "
                    f"{self.d_sae}, e.g. groups=({self.d_sae // 4}, {self.d_sae // 4}, "
                    f"{self.d_sae // 2})"
                )


class SAE(nn.Module):
    def __init__(self, config: SAEConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = c = config
        self.variant = VARIANTS[c.variant]
        W = torch.randn(c.d_sae, c.d_in, generator=generator)
        self.W_dec = nn.Parameter(F.normalize(W, dim=-1))
        self.W_enc = nn.Parameter(self.W_dec.detach().T.clone())  # init W_enc = W_dec^T
        self.b_enc = nn.Parameter(torch.zeros(c.d_sae))
        self.b_dec = nn.Parameter(torch.zeros(c.d_in))
        # input standardisation (set by fit_normalisation) and BatchTopK's inference threshold
        self.register_buffer("input_mean", torch.zeros(c.d_in))
        self.register_buffer("input_scale", torch.ones(()))
        self.register_buffer("threshold", torch.zeros(()))
        # matryoshka: the group of each feature (derived from the config, so not saved)
        sizes = torch.tensor(c.groups or (c.d_sae,))
        group_of = torch.repeat_interleave(torch.arange(len(sizes)), sizes)
        self.register_buffer("group_of", group_of, persistent=False)

    # -- the forward pass ---------------------------------------------------------------------

    def each(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Paper C's per-vector standardisation: the mean and std (B, 1) of each vector of x, or
        (0, 1) without `standardise_each`."""
        if not self.config.standardise_each:
            return x.new_zeros(()), x.new_ones(())
        return x.mean(-1, keepdim=True), x.std(-1, keepdim=True).clamp_min(1e-8)

    @torch.no_grad()
    def fit_normalisation(self, x: Tensor) -> None:
        """Centre on the data mean and scale so that E ||x||^2 = d_in."""
        self.check_d_in(x)
        if len(x) == 0:
            raise ValueError(
                f"no hidden states to fit the SAE on (x has shape {tuple(x.shape)}): is the split "
                "empty, or were they collected from an empty stage?"
            )
        check_finite(x, "activations")
        mean, std = self.each(x)
        x = (x - mean) / std
        self.input_mean.copy_(x.mean(0))
        sq = (x - self.input_mean).pow(2).sum(-1).mean()
        self.input_scale.copy_((sq / self.config.d_in).sqrt().clamp_min(1e-8))

    def check_d_in(self, x: Tensor) -> None:
        d_in = self.config.d_in
        if not isinstance(x, Tensor):
            raise TypeError(
                f"the SAE reads a torch.Tensor of shape (batch, d_in = {d_in}), got "
                f"{type(x).__name__}: convert it with torch.as_tensor(x)"
            )
        if x.ndim != 2 or x.shape[-1] != d_in:
            hint = "was it trained on another model or layer?"
            if x.ndim == 1 and len(x) == d_in:
                hint = "for one vector, pass x[None]"
            raise ValueError(
                f"the SAE reads vectors of size d_in = {d_in}, got shape {tuple(x.shape)}: {hint}"
            )

    @torch.no_grad()
    def calibrate_threshold(self, x: Tensor, n: int = 8_192) -> None:
        """BatchTopK's inference threshold: the value above which k features per sample fire on
        average, measured on (up to n of) the training samples x."""
        pre = F.relu(self.pre_acts(self.normalise(x[:n])))
        self.threshold.copy_(pre.flatten().topk(self.config.k * len(pre)).values[-1])

    def normalise(self, x: Tensor) -> Tensor:
        """Standardised x; input of another dtype (numpy's float64) is converted to the SAE's."""
        self.check_d_in(x)
        if x.device != self.input_mean.device:
            raise ValueError(
                f"the hidden states are on {x.device} and the SAE on {self.input_mean.device}: "
                "move them with x.to(sae.W_dec.device)"
            )
        x = x.to(self.input_mean.dtype)
        mean, std = self.each(x)
        return ((x - mean) / std - self.input_mean) / self.input_scale

    def pre_acts(self, x_norm: Tensor) -> Tensor:
        # (x - b_dec) W_enc + b_enc, written so that b_dec's gradient does not cost a (B, d_in)
        # input gradient through the encoder's matmul, and the bias is added inside the matmul
        return torch.addmm(self.b_enc - self.b_dec @ self.W_enc, x_norm, self.W_enc)  # (B, d_sae)

    def pre_acts_at(self, x_norm: Tensor, pre: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        """pre[rows, cols], where pre = pre_acts(x_norm) was computed without gradient, given the
        gradient of the chosen entries only (see `_PickedPreActs`)."""
        bias = self.b_enc - self.b_dec @ self.W_enc
        return _PickedPreActs.apply(x_norm, self.W_enc, bias, pre, rows, cols)

    @torch.no_grad()
    def select(self, pre: Tensor) -> tuple[Tensor, Tensor]:
        """The features kept in training as (rows, cols), sorted by row: topk keeps the k largest
        of each sample, batchtopk and matryoshka the k * B largest of the whole batch."""
        c, B = self.config, len(pre)
        if not self.variant.batch_wide:
            cols = pre.topk(c.k, dim=-1).indices  # (B, k)
            return torch.arange(B, device=pre.device).repeat_interleave(c.k), cols.flatten()
        # candidates first: a sample keeps at most 4k features, so the batch-wide top k * B runs
        # over B * 4k values instead of B * d_sae (the top-k of the whole array is the slow part)
        m = min(4 * c.k, c.d_sae)
        candidates, cols = pre.topk(m, dim=-1)  # (B, m)
        flat = candidates.flatten().topk(c.k * B).indices.sort().values  # row * m + candidate
        return flat // m, cols.flatten()[flat]

    def activate(self, pre: Tensor) -> Tensor:
        """Sparse codes z (B, d_sae) from pre-activations."""
        if not self.variant.sparse:
            return F.relu(pre)
        if self.variant.batch_wide and not self.training:
            return pre * (pre > self.threshold)  # batchtopk at inference: one threshold
        rows, cols = self.select(pre)
        return torch.zeros_like(pre).index_put_((rows, cols), F.relu(pre[rows, cols]))

    def decode_sparse(self, bags: Tensor, cols: Tensor, values: Tensor, n_bags: int) -> Tensor:
        """(n_bags, d_in): for each bag, the sum of values * W_dec[cols] over its entries, which
        must be sorted by bag. Only the active rows of W_dec are read: with k of d_sae features
        active, decoding costs a k / d_sae share of a dense matmul, forward and backward."""
        offsets = torch.searchsorted(bags, torch.arange(n_bags, device=bags.device))
        return F.embedding_bag(cols, self.W_dec, offsets, mode="sum", per_sample_weights=values)

    def encode(self, x: Tensor) -> Tensor:
        """Sparse codes z (B, d_sae) of hidden states x (B, d_in), in the model's units; NaN or
        inf in x is refused (it would give NaN codes)."""
        x_norm = self.normalise(x)
        check_finite(x, "the hidden states passed to encode")
        return self.activate(self.pre_acts(x_norm))

    def decode(self, z: Tensor, like: Tensor | None = None, shift: bool = True) -> Tensor:
        """Reconstructions (B, d_in) of codes z in the model's units. like: the vectors z encodes,
        whose own mean and std `standardise_each` restores. shift=False leaves out the biases and
        means: the change in the reconstruction that a change of z makes."""
        if self.config.standardise_each and like is None:
            raise ValueError("this SAE standardises each vector: decode(z, like=x) needs x")
        mean, std = self.each(like if like is not None else z)
        if not shift:
            return z @ self.W_dec * self.input_scale * std
        return ((z @ self.W_dec + self.b_dec) * self.input_scale + self.input_mean) * std + mean

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x), like=x)

    # -- training -----------------------------------------------------------------------------

    def losses(self, x: Tensor, dead: Tensor | None = None, step: int = 0) -> dict[str, Tensor]:
        """The loss terms for a batch x (B, d_in) of hidden states; "loss" is their sum. Also
        returned: "x_hat" (normalised), "codes" (relu: z (B, d_sae); the others: the active
        features as (rows, cols, values)), "fired" (d_sae,) and "l0".

        dead: (d_sae,) bool, the features that have not fired for a while (for AuxK)."""
        c = self.config
        x_norm = self.normalise(x)
        B = len(x)
        if not self.variant.sparse:
            z = F.relu(self.pre_acts(x_norm))
            x_hat = z @ self.W_dec + self.b_dec
            out = {"mse": (x_hat - x_norm).pow(2).sum(-1).mean()}
            warm = min(1.0, (step + 1) / max(1, c.l1_warmup_steps))
            out["l1"] = (z * self.W_dec.norm(dim=-1)).sum(-1).mean()
            out["loss"] = out["mse"] + warm * c.l1_coefficient * out["l1"] / c.d_in
            out["codes"] = z
            active, mean_z = z > 0, z.mean(0)
            out["fired"], out["l0"] = active.any(0), active.float().sum(-1).mean()
        else:
            # the features are chosen on the dense pre-activations, which need no gradient; the
            # chosen ones are computed again with one, so the backward pass is sparse too
            with torch.no_grad():
                pre = self.pre_acts(x_norm)
                rows, cols = self.select(pre)
            values = F.relu(self.pre_acts_at(x_norm, pre, rows, cols))
            if self.variant.nested:
                # one decode into one bag per (group, sample); prefix g sums the first g groups.
                # A running sum, not cumsum: CUDA's cumsum is not deterministic
                bags, order = (self.group_of[cols] * B + rows).sort()
                parts = self.decode_sparse(bags, cols[order], values[order], len(c.groups) * B)
                prefixes, total = [], self.b_dec
                for part in parts.view(len(c.groups), B, c.d_in):
                    total = total + part
                    prefixes.append(total)
                prefixes = torch.stack(prefixes)  # (G, B, d_in)
                mse = (prefixes - x_norm).pow(2).sum(-1).mean(-1).sum()  # summed over prefixes
                x_hat = prefixes[-1]
            else:
                x_hat = self.decode_sparse(rows, cols, values, B) + self.b_dec
                mse = (x_hat - x_norm).pow(2).sum(-1).mean()
            out = {"mse": mse, "loss": mse, "codes": (rows, cols, values)}
            mean_z = torch.zeros(c.d_sae, device=x.device).index_add(0, cols, values) / B
            out["fired"], out["l0"] = mean_z.detach() > 0, (values.detach() > 0).sum() / B
            if c.code_l1:
                out["loss"] = out["loss"] + c.code_l1 * values.sum() / B
            if dead is not None:
                out["aux"] = self.aux_loss(x_norm, x_norm - x_hat, pre, dead)
                out["loss"] = out["loss"] + c.aux_coefficient * out["aux"]
        if c.loss == "cosine":  # in place of the squared error, in the same normalised units
            cosine = F.cosine_similarity(x_hat, x_norm, dim=-1).mean()
            out["loss"] = out["loss"] - out["mse"] + c.d_in * (1 - cosine)
        if c.kl_coefficient:
            rate = mean_z.clamp(1e-6, 1 - 1e-6)  # each feature's mean activation
            rho = c.kl_target
            kl = rho * (rho / rate).log() + (1 - rho) * ((1 - rho) / (1 - rate)).log()
            out["kl"] = kl.sum()
            out["loss"] = out["loss"] + c.kl_coefficient * out["kl"]
        out["x_hat"] = x_hat
        return out

    def aux_loss(self, x_norm: Tensor, residual: Tensor, pre: Tensor, dead: Tensor) -> Tensor:
        """AuxK (Gao et al.): the top dead features try to reconstruct the residual e = x - x_hat,
        so dead features get gradient; normalised by the residual's variance. Without dead
        features it is 0 (and the fit skips it, passing dead=None). pre: the batch's
        pre-activations, without gradient (they only choose the features)."""
        residual = residual.detach()
        k_aux = min(self.config.aux_k or self.config.d_in // 2, self.config.d_sae)
        with torch.no_grad():
            chosen, cols = pre.masked_fill(~dead, float("-inf")).topk(k_aux, dim=-1)
            rows = torch.arange(len(pre), device=pre.device).repeat_interleave(k_aux)
            cols, keep = cols.flatten(), chosen.flatten() > float("-inf")  # fewer dead than k_aux
        values = F.relu(self.pre_acts_at(x_norm, pre, rows, cols)) * keep
        e_hat = self.decode_sparse(rows, cols, values, len(pre))
        variance = (residual - residual.mean(0)).pow(2).sum(-1).mean().clamp_min(1e-8)
        return (e_hat - residual).pow(2).sum(-1).mean() / variance * dead.any()

    @torch.no_grad()
    def constrain(self) -> None:
        """Unit-norm decoder rows, for the variants whose sparsity does not use their norms."""
        if self.variant.sparse:
            self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-8))

    @torch.no_grad()
    def remove_parallel_grad(self) -> None:
        """Drop the part of W_dec's gradient along its rows: a step then only turns the rows."""
        if self.variant.sparse and self.W_dec.grad is not None:
            w, g = self.W_dec, self.W_dec.grad
            g -= (g * w).sum(-1, keepdim=True) * w / w.pow(2).sum(-1, keepdim=True)

    # -- storage ------------------------------------------------------------------------------

    def save(self, folder: str | Path) -> None:
        """sae.safetensors + cfg.json in `folder`. cfg.json also holds the sha256 of the weights
        file and of its own fields, which `load` checks; it is written last, so a save cut short
        fails that check instead of loading."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        weights = save_safetensors(state)
        (folder / "sae.safetensors").write_bytes(weights)
        config = json.loads(json.dumps(dataclasses.asdict(self.config)))  # as it will read back
        sha256 = {"sae.safetensors": _sha256(weights), "cfg.json": _sha256(config)}
        (folder / "cfg.json").write_text(json.dumps({**config, "sha256": sha256}, indent=1))

    @classmethod
    def load(cls, folder: str | Path, expect: SAEConfig | None = None) -> SAE:
        """The SAE saved in `folder`; with `expect`, refuse one of another variant or shape.
        A damaged, truncated or edited file is refused with a ValueError naming it."""
        folder = Path(folder)
        cfg, weights_file = folder / "cfg.json", folder / "sae.safetensors"
        for path in (cfg, weights_file):
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing: is {folder} a saved SAE?")
        try:
            fields = json.loads(cfg.read_text())
        except ValueError as e:  # not JSON, or not UTF-8
            raise ValueError(f"{cfg} is damaged ({e}): save the SAE again") from None
        if not isinstance(fields, dict):
            raise ValueError(f"{cfg} is damaged (not a JSON object): save the SAE again")
        sha256 = fields.pop("sha256", None)
        weights = weights_file.read_bytes()
        if sha256 is None:  # saved before files carried a checksum
            warnings.warn(f"{cfg} has no checksum: its files cannot be verified", stacklevel=2)
        else:
            sha256 = sha256 if isinstance(sha256, dict) else {}
            for path, content in ((cfg, fields), (weights_file, weights)):
                if sha256.get(path.name) != _sha256(content):
                    raise ValueError(
                        f"{path} does not match the sha256 saved with it: it is damaged, truncated "
                        "or edited; save the SAE again"
                    )
        try:
            config = SAEConfig(**fields)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{cfg} does not describe an SAE: {e}") from None
        if expect is not None:
            for field in ("variant", "d_in", "d_sae", "k", "groups"):
                if getattr(config, field) != getattr(expect, field):
                    raise ValueError(
                        f"the SAE in {folder} has {field} = {getattr(config, field)!r}, "
                        f"expected {getattr(expect, field)!r}"
                    )
        sae = cls(config)
        try:
            state = load_safetensors(weights)
        except SafetensorError as e:
            raise ValueError(f"{weights_file} is damaged ({e}): save the SAE again") from None
        shapes = {k: tuple(v.shape) for k, v in sae.state_dict().items()}
        if {k: tuple(v.shape) for k, v in state.items()} != shapes:
            raise ValueError(f"{weights_file} does not match its cfg.json {config}")
        sae.load_state_dict(state)
        return sae.eval()


@dataclass
class FitConfig:
    max_steps: int = 5_000  # a cap: the held-out plateau usually stops the fit sooner
    batch_size: int = 4_096  # samples per step
    lr: float = 1e-3  # Adam's rate, for every SAE of the book: small dictionaries, small data
    warmup_steps: int = 100  # linear warm-up of the learning rate, then constant
    held_out: float = 0.1  # share of the samples kept out of training to decide when to stop
    eval_every: int = 50  # steps between held-out FVU checks (and entries of the history)
    patience: int = 4  # checks without a better held-out loss (by min_gain) before stopping
    min_gain: float = 0.005  # an improvement smaller than this share of the best does not count
    grad_clip: float = 1.0  # max gradient norm
    dead_window: int = 0  # samples without firing after which a feature counts as dead; 0: 5 x
    #                       the dataset size (recommender datasets are small)
    bf16: bool = False  # bfloat16 autocast, used only on a GPU that computes bf16 natively
    seed: int = 0


@dataclass
class FitHistory:
    step: list[int] = dataclasses.field(default_factory=list)
    mse: list[float] = dataclasses.field(default_factory=list)  # normalised training error
    held_out_fvu: list[float] = dataclasses.field(default_factory=list)
    l0: list[float] = dataclasses.field(default_factory=list)  # active features per sample
    dead: list[float] = dataclasses.field(default_factory=list)  # share of dead features
    best_step: int = 0  # the step whose weights the fit kept
    seconds: float = 0.0


class Fit:
    """The state of an SAE's training on hidden states x (N, d_in), kept on the SAE's device, and
    its step. Nothing is copied to the host between checks: batches are drawn on the device, dead
    features are tracked there, and logged values stay tensors until a check."""

    def __init__(self, sae: SAE, x: Tensor, config: FitConfig, prediction=None, losses=None):
        """prediction: a prediction-aware term, sae -> Tensor, weighted by the SAE's
        pred_coefficient (e.g. `two_tower.prediction_term`). losses: another function with the
        signature of `SAE.losses` (tests and benchmarks train the plain `sae_reference` this
        way)."""
        c = sae.config
        if c.pred_coefficient and prediction is None:
            raise ValueError("pred_coefficient is set: pass prediction, the prediction-aware term")
        self.sae, self.config, self.prediction = sae, config, prediction
        self.losses = losses or SAE.losses
        self.device = device = sae.W_dec.device
        x = x.to(device)
        check_finite(x, "activations")
        if len(x) < 2:
            raise ValueError(
                f"no hidden states to fit the SAE on (x has shape {tuple(x.shape)}): it needs at "
                "least 2, one of them held out"
            )
        # the held-out samples: a seeded draw, so that the same seed stops at the same step
        generator = torch.Generator(device=device).manual_seed(config.seed)
        order = torch.randperm(len(x), device=device, generator=generator)
        n_held = min(max(1, round(config.held_out * len(x))), len(x) - 1)
        self.x, self.x_held = x[order[n_held:]], x[order[:n_held]]
        sae.fit_normalisation(self.x)
        self.window = config.dead_window or 5 * len(self.x)
        self.optimizer = torch.optim.Adam(sae.parameters(), lr=config.lr)
        self.since_fired = torch.zeros(c.d_sae, dtype=torch.long, device=device)
        self.generator = generator
        bf16 = config.bf16 and device.type == "cuda" and torch.cuda.is_bf16_supported(False)
        self.autocast = torch.autocast(device.type, torch.bfloat16, enabled=bf16)
        self.any_dead, self.logged, self.steps_done = False, [], 0
        sae.train()

    def step(self) -> None:
        sae, c, step = self.sae, self.config, self.steps_done
        for group in self.optimizer.param_groups:
            group["lr"] = c.lr * min(1.0, (step + 1) / max(1, c.warmup_steps))
        index = torch.randint(0, len(self.x), (min(c.batch_size, len(self.x)),),
                              device=self.device, generator=self.generator)  # fmt: skip
        dead = self.since_fired >= self.window
        with self.autocast:
            out = self.losses(sae, self.x[index], dead if self.any_dead else None, step)
            if self.prediction is not None and sae.config.pred_coefficient:
                out["pred"] = self.prediction(sae)
                out["loss"] = out["loss"] + sae.config.pred_coefficient * out["pred"]
        self.optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        sae.remove_parallel_grad()
        torch.nn.utils.clip_grad_norm_(sae.parameters(), c.grad_clip)
        self.optimizer.step()
        sae.constrain()
        self.since_fired = torch.where(out["fired"], 0, self.since_fired + len(index))
        if step % c.eval_every == 0:
            self.any_dead = bool(dead.any())  # one host sync per check: AuxK when needed
            mse = out["mse"].detach() / sae.config.d_in
            self.logged.append((step, mse, out["l0"].detach(), dead.float().mean()))
        self.steps_done += 1

    @torch.no_grad()
    def held_out(self) -> tuple[float, float]:
        """(FVU, loss) on the held-out samples: the FVU in the SAE's normalised units, the loss
        the fit minimises (for a ReLU SAE it includes the L1 penalty, which FVU alone ignores).
        Features are chosen as in training (BatchTopK's threshold is fitted only at the end)."""
        x_norm = self.sae.normalise(self.x_held)
        out = self.losses(self.sae, self.x_held, None, self.steps_done)
        total = (x_norm - x_norm.mean(0)).pow(2).sum().clamp_min(1e-12)
        return ((out["x_hat"] - x_norm).pow(2).sum() / total).item(), out["loss"].item()

    def finish(self) -> None:
        self.sae.eval()
        if self.sae.variant.batch_wide:
            self.sae.calibrate_threshold(self.x)


def fit(
    x: Tensor,
    config: SAEConfig,
    fit_config: FitConfig | None = None,
    prediction: Callable[[SAE], Tensor] | None = None,
    progress: bool = True,
    losses=None,
) -> SAE:
    """The one way the book trains an SAE: a new SAE of `config` (initialised from the fit's
    seed) trained on hidden states x (N, d_in) until its loss on a held-out share of x stops
    improving (or `max_steps`), keeping the weights of its best check. For the variants that
    fix the sparsity (TopK and its kin) that loss is the held-out FVU, up to a constant. Returns
    the SAE in eval mode, with `.history` (a `FitHistory`). See `Fit` for `prediction` and
    `losses`."""
    fit_config = fit_config or FitConfig()
    start, history = time.perf_counter(), FitHistory()
    generator = torch.Generator().manual_seed(fit_config.seed)
    sae = SAE(config, generator).to(x.device)
    run = Fit(sae, x, fit_config, prediction, losses)
    best, best_state, waited = 0.0, None, 0
    # checks count once the learning rate (and a ReLU SAE's L1 weight) have warmed up
    settled = max(fit_config.warmup_steps, 0 if sae.variant.sparse else config.l1_warmup_steps)
    settled = min(settled, fit_config.max_steps)
    bar = tqdm(total=fit_config.max_steps, desc=f"SAE {config.variant}", disable=not progress)
    while run.steps_done < fit_config.max_steps:
        run.step()
        bar.update()
        if run.steps_done % fit_config.eval_every and run.steps_done < fit_config.max_steps:
            continue
        fvu, loss = run.held_out()
        step, mse, l0, dead_share = run.logged[-1]
        history.step.append(run.steps_done)
        history.held_out_fvu.append(fvu)
        history.mse.append(mse.item())
        history.l0.append(l0.item())
        history.dead.append(dead_share.item())
        bar.set_postfix(held_out_fvu=f"{fvu:.3f}", l0=f"{history.l0[-1]:.1f}")
        if run.steps_done < settled:  # the loss is still warming up: no guide yet
            continue
        if best_state is None or loss < best - fit_config.min_gain * abs(best):
            best, waited, history.best_step = loss, 0, run.steps_done
            best_state = copy.deepcopy(sae.state_dict())
        else:
            waited += 1
            if waited >= fit_config.patience:
                break
    bar.total = run.steps_done  # a fit that stops early ends its bar full, not red
    bar.close()
    sae.load_state_dict(best_state)
    run.finish()
    history.seconds = time.perf_counter() - start
    sae.history = history
    return sae


class _PickedPreActs(torch.autograd.Function):
    """Entries (rows, cols) of the pre-activations pre = x W + bias, with their gradient.

    The forward pass reads them from `pre`, already computed without gradient. The backward pass
    is that of pre[rows, cols] = x[rows] . W[:, cols] + bias[cols], summed per feature: with g the
    incoming gradient, dW[:, j] = sum of g * x[r] over the entries (r, j) and dbias[j] = sum of g.
    The dense (B, d_sae) gradient of a plain backward pass, and its matmul, never exist."""

    @staticmethod
    def forward(ctx, x, W, bias, pre, rows, cols):
        ctx.save_for_backward(x, rows, cols)
        ctx.d_sae = W.shape[1]
        return pre[rows, cols].to(W.dtype)  # pre may be bfloat16 (autocast); the rest is not

    @staticmethod
    def backward(ctx, grad):
        x, rows, cols = ctx.saved_tensors
        by_feature, order = cols.sort()
        offsets = torch.searchsorted(by_feature, torch.arange(ctx.d_sae, device=cols.device))
        # one bag per feature j: the sum of g * x[r] over its entries, i.e. dW[:, j]
        weights = grad[order].to(x.dtype)
        grad_W = F.embedding_bag(rows[order], x, offsets, mode="sum", per_sample_weights=weights)
        grad_bias = torch.zeros(ctx.d_sae, device=grad.device, dtype=grad.dtype)
        return None, grad_W.T, grad_bias.index_add_(0, cols, grad), None, None, None


def _sha256(content: bytes | dict) -> str:
    """sha256 of a file's bytes, or of a JSON object's fields (key order aside)."""
    if isinstance(content, dict):
        content = json.dumps(content, sort_keys=True).encode()
    return hashlib.sha256(content).hexdigest()


def check_finite(x: Tensor, what: str) -> None:
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).any(-1).nonzero()[0].item()
        raise ValueError(
            f"{what} hold NaN or inf (first in row {bad}): check the model that produced them"
        )
