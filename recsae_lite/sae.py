"""Sparse autoencoders: one weight layout, four variants, their losses, and save/load (chapter 3).

    z = act((x - b_dec) W_enc + b_enc)        W_enc (d_in, d_sae), b_enc (d_sae,)
    x_hat = z W_dec + b_dec                   W_dec (d_sae, d_in): row j is feature j's direction

Variants (a field of `SAEConfig`, not a class each):
- "relu": ReLU, with an L1 penalty on z weighted by the decoder row norms, warmed up;
- "topk": the k largest pre-activations of each sample, and the AuxK loss that revives dead latents;
- "batchtopk": the k * B largest of the whole batch; at inference, a threshold fitted on the data;
- "matryoshka": BatchTopK whose nested prefixes of the dictionary (`groups`) must each reconstruct
  x on their own: the loss sums over prefixes, all computed from one cumulative decode.
Optional terms: paper B's KL sparsity (each latent's mean activation pulled to `kl_target`) and the
prediction-aware loss (the frozen rest of the model compared on original and reconstructed input).

Inputs are standardised with a mean and one scale, measured on the training data and stored with the
SAE; `decode` undoes it, so callers see unscaled vectors. Conventions follow SAELens and
dictionary_learning (Gao et al. 2024 for TopK/AuxK, Bussmann et al. 2024-25 for BatchTopK and
Matryoshka).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor, nn
from tqdm.auto import tqdm

VARIANTS = ("relu", "topk", "batchtopk", "matryoshka")


@dataclass
class SAEConfig:
    d_in: int  # size of the hidden states read
    d_sae: int  # number of latents (features)
    variant: str = "topk"  # one of VARIANTS
    k: int = 16  # active latents per sample (topk; on average for batchtopk and matryoshka)
    groups: tuple[int, ...] = ()  # matryoshka: sizes of the nested groups, summing to d_sae
    l1_coefficient: float = 5.0  # relu: weight of the L1 penalty
    l1_warmup_steps: int = 500  # relu: the L1 weight grows linearly from 0 over these steps
    aux_k: int = 0  # topk/batchtopk: dead latents AuxK may use; 0 means d_in // 2
    aux_coefficient: float = 1 / 32  # weight of the AuxK loss
    kl_coefficient: float = 0.0  # paper B's KL sparsity term (0: off)
    kl_target: float = 0.05  # rho, the target mean activation of a latent
    pred_coefficient: float = 0.0  # w_pred, weight of the prediction-aware term (0: off)
    pred_items: int = 256  # items sampled per step for the prediction-aware term

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"variant {self.variant!r} is not one of {VARIANTS}")
        if self.d_in < 1 or self.d_sae < 1:
            raise ValueError(f"d_in ({self.d_in}) and d_sae ({self.d_sae}) must be positive")
        if self.variant != "relu" and not 1 <= self.k <= self.d_sae:
            raise ValueError(f"k = {self.k} must be between 1 and d_sae = {self.d_sae}")
        self.groups = tuple(self.groups)
        if self.variant == "matryoshka":
            if sum(self.groups) != self.d_sae or min(self.groups, default=0) < 1:
                raise ValueError(
                    f"matryoshka groups {self.groups} must be positive and sum to d_sae = "
                    f"{self.d_sae}, e.g. groups=({self.d_sae // 4}, {self.d_sae // 4}, "
                    f"{self.d_sae // 2})"
                )


class SAE(nn.Module):
    def __init__(self, config: SAEConfig):
        super().__init__()
        self.config = c = config
        self.W_dec = nn.Parameter(F.normalize(torch.randn(c.d_sae, c.d_in), dim=-1))
        self.W_enc = nn.Parameter(self.W_dec.detach().T.clone())  # init W_enc = W_dec^T
        self.b_enc = nn.Parameter(torch.zeros(c.d_sae))
        self.b_dec = nn.Parameter(torch.zeros(c.d_in))
        # input standardisation (set by fit_normalisation) and BatchTopK's inference threshold
        self.register_buffer("input_mean", torch.zeros(c.d_in))
        self.register_buffer("input_scale", torch.ones(()))
        self.register_buffer("threshold", torch.zeros(()))
        # matryoshka: the group of each latent (derived from the config, so not saved)
        sizes = torch.tensor(c.groups or (c.d_sae,))
        group_of = torch.repeat_interleave(torch.arange(len(sizes)), sizes)
        self.register_buffer("group_of", group_of, persistent=False)

    # -- the forward pass ---------------------------------------------------------------------

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
        """BatchTopK's inference threshold: the value above which k latents per sample fire on
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
        return (x - self.input_mean) / self.input_scale

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
        """The latents kept in training as (rows, cols), sorted by row: topk keeps the k largest
        of each sample, batchtopk and matryoshka the k * B largest of the whole batch."""
        c, B = self.config, len(pre)
        if c.variant == "topk":
            cols = pre.topk(c.k, dim=-1).indices  # (B, k)
            return torch.arange(B, device=pre.device).repeat_interleave(c.k), cols.flatten()
        # candidates first: a sample keeps at most 4k latents, so the batch-wide top k * B runs
        # over B * 4k values instead of B * d_sae (the top-k of the whole array is the slow part)
        m = min(4 * c.k, c.d_sae)
        candidates, cols = pre.topk(m, dim=-1)  # (B, m)
        flat = candidates.flatten().topk(c.k * B).indices.sort().values  # row * m + candidate
        return flat // m, cols.flatten()[flat]

    def activate(self, pre: Tensor) -> Tensor:
        """Sparse codes z (B, d_sae) from pre-activations."""
        if self.config.variant == "relu":
            return F.relu(pre)
        if self.config.variant != "topk" and not self.training:
            return pre * (pre > self.threshold)  # batchtopk at inference: one threshold
        rows, cols = self.select(pre)
        return torch.zeros_like(pre).index_put_((rows, cols), F.relu(pre[rows, cols]))

    def decode_sparse(self, bags: Tensor, cols: Tensor, values: Tensor, n_bags: int) -> Tensor:
        """(n_bags, d_in): for each bag, the sum of values * W_dec[cols] over its entries, which
        must be sorted by bag. Only the active rows of W_dec are read: with k of d_sae latents
        active, decoding costs a k / d_sae share of a dense matmul, forward and backward."""
        offsets = torch.searchsorted(bags, torch.arange(n_bags, device=bags.device))
        return F.embedding_bag(cols, self.W_dec, offsets, mode="sum", per_sample_weights=values)

    def encode(self, x: Tensor) -> Tensor:
        """Sparse codes z (B, d_sae) of unscaled hidden states x (B, d_in); NaN or inf in x is
        refused (it would give NaN codes)."""
        x_norm = self.normalise(x)
        check_finite(x, "the hidden states passed to encode")
        return self.activate(self.pre_acts(x_norm))

    def decode(self, z: Tensor) -> Tensor:
        """Unscaled reconstructions (B, d_in) of codes z."""
        return (z @ self.W_dec + self.b_dec) * self.input_scale + self.input_mean

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    # -- training -----------------------------------------------------------------------------

    def losses(
        self, x: Tensor, dead: Tensor | None = None, step: int = 0, predict=None
    ) -> dict[str, Tensor]:
        """The loss terms for a batch x (B, d_in) of unscaled hidden states; "loss" is their sum.
        Also returned: "x_hat" (normalised), "codes" (relu: z (B, d_sae); the others: the
        active latents as (rows, cols, values)), "fired" (d_sae,) and "l0".

        dead: (d_sae,) bool, the latents that have not fired for a while (for AuxK).
        predict: the frozen rest of the model, unscaled hidden (B, d_in) -> scores (B, n_items),
            for the prediction-aware term (e.g. `lambda h: model.scores_from_hidden(h, None)`)."""
        c = self.config
        x_norm = self.normalise(x)
        B = len(x)
        if c.variant == "relu":
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
            # the latents are chosen on the dense pre-activations, which need no gradient; the
            # chosen ones are computed again with one, so the backward pass is sparse too
            with torch.no_grad():
                pre = self.pre_acts(x_norm)
                rows, cols = self.select(pre)
            values = F.relu(self.pre_acts_at(x_norm, pre, rows, cols))
            if c.variant == "matryoshka":
                # one decode into one bag per (group, sample); prefix g sums the first g groups
                bags, order = (self.group_of[cols] * B + rows).sort()
                parts = self.decode_sparse(bags, cols[order], values[order], len(c.groups) * B)
                prefixes = parts.view(len(c.groups), B, c.d_in).cumsum(0) + self.b_dec  # (G,B,d)
                mse = (prefixes - x_norm).pow(2).sum(-1).mean(-1).sum()  # summed over prefixes
                x_hat = prefixes[-1]
            else:
                x_hat = self.decode_sparse(rows, cols, values, B) + self.b_dec
                mse = (x_hat - x_norm).pow(2).sum(-1).mean()
            out = {"mse": mse, "loss": mse, "codes": (rows, cols, values)}
            mean_z = torch.zeros(c.d_sae, device=x.device).index_add(0, cols, values) / B
            out["fired"], out["l0"] = mean_z.detach() > 0, (values.detach() > 0).sum() / B
            if dead is not None:
                out["aux"] = self.aux_loss(x_norm, x_norm - x_hat, pre, dead)
                out["loss"] = out["loss"] + c.aux_coefficient * out["aux"]
        if c.kl_coefficient:
            rate = mean_z.clamp(1e-6, 1 - 1e-6)  # each latent's mean activation
            rho = c.kl_target
            kl = rho * (rho / rate).log() + (1 - rho) * ((1 - rho) / (1 - rate)).log()
            out["kl"] = kl.sum()
            out["loss"] = out["loss"] + c.kl_coefficient * out["kl"]
        if c.pred_coefficient:
            if predict is None:
                raise ValueError("pred_coefficient is set: pass predict, the rest of the model")
            x_rec = x_hat * self.input_scale + self.input_mean
            with torch.no_grad():
                target = predict(x)  # (B, n_items)
            items = torch.randint(0, target.shape[-1], (c.pred_items,), device=x.device)
            out["pred"] = (predict(x_rec)[:, items] - target[:, items]).pow(2).mean()
            out["loss"] = out["loss"] + c.pred_coefficient * out["pred"]
        out["x_hat"] = x_hat
        return out

    def aux_loss(self, x_norm: Tensor, residual: Tensor, pre: Tensor, dead: Tensor) -> Tensor:
        """AuxK (Gao et al.): the top dead latents try to reconstruct the residual e = x - x_hat,
        so dead latents get gradient; normalised by the residual's variance. Without dead
        latents it is 0 (and the trainer skips it, passing dead=None). pre: the batch's
        pre-activations, without gradient (they only choose the latents)."""
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
        if self.config.variant != "relu":
            self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-8))

    @torch.no_grad()
    def remove_parallel_grad(self) -> None:
        """Drop the part of W_dec's gradient along its rows: a step then only turns the rows."""
        if self.config.variant != "relu" and self.W_dec.grad is not None:
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
class SAETrainConfig:
    steps: int = 2000  # optimiser steps
    batch_size: int = 4096  # samples per step
    lr: float = 4e-4
    warmup_steps: int = 100  # linear warm-up of the learning rate
    decay_from: float = 0.8  # share of the steps after which the rate decays linearly to 0
    grad_clip: float = 1.0  # max gradient norm
    dead_window: int = 0  # samples without firing after which a latent counts as dead; 0: 5 x
    #                       the dataset size (recommender datasets are small)
    bf16: bool = False  # bfloat16 autocast (CUDA only)
    log_every: int = 50  # steps between entries of the history
    seed: int = 0


@dataclass
class SAEHistory:
    step: list[int] = dataclasses.field(default_factory=list)
    mse: list[float] = dataclasses.field(default_factory=list)  # normalised reconstruction error
    l0: list[float] = dataclasses.field(default_factory=list)  # active latents per sample
    dead: list[float] = dataclasses.field(default_factory=list)  # share of dead latents
    seconds: float = 0.0


class SAETrainer:
    """The state of an SAE's training on hidden states x (N, d_in), kept on the SAE's device, and
    its step. Nothing is copied to the host between log steps: batches are drawn on the device,
    dead latents are tracked there, and the logged values stay tensors until `history()`."""

    def __init__(self, sae: SAE, x: Tensor, config: SAETrainConfig, predict=None, losses=None):
        """losses: another function with the signature of `SAE.losses` (benchmarks train the
        plain implementation of `sae_reference` this way)."""
        self.sae, self.config, self.predict = sae, config, predict
        self.losses = losses or SAE.losses
        self.device = device = sae.W_dec.device
        self.x = x.to(device)
        check_finite(self.x, "activations")
        torch.manual_seed(config.seed)
        sae.fit_normalisation(self.x)
        self.window = config.dead_window or 5 * len(x)
        self.optimizer = torch.optim.Adam(sae.parameters(), lr=config.lr)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.rate)
        self.since_fired = torch.zeros(sae.config.d_sae, dtype=torch.long, device=device)
        self.generator = torch.Generator(device=device).manual_seed(config.seed)
        bf16 = config.bf16 and device.type == "cuda"
        self.autocast = torch.autocast("cuda", torch.bfloat16, enabled=bf16)
        self.any_dead, self.logged, self.steps_done = False, [], 0
        sae.train()

    def rate(self, step: int) -> float:
        """Learning-rate factor: linear warm-up, constant, then linear decay to 0."""
        c = self.config
        warm = min(1.0, (step + 1) / max(1, c.warmup_steps))
        decay_start = int(c.decay_from * c.steps)
        return warm * min(1.0, (c.steps - step) / max(1, c.steps - decay_start))

    def step(self) -> None:
        sae, c, step = self.sae, self.config, self.steps_done
        index = torch.randint(0, len(self.x), (c.batch_size,), device=self.device,
                              generator=self.generator)  # fmt: skip
        dead = self.since_fired >= self.window
        with self.autocast:
            out = self.losses(sae, self.x[index], dead if self.any_dead else None, step,
                              self.predict)  # fmt: skip
        self.optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        sae.remove_parallel_grad()
        torch.nn.utils.clip_grad_norm_(sae.parameters(), c.grad_clip)
        self.optimizer.step()
        self.schedule.step()
        sae.constrain()
        self.since_fired = torch.where(out["fired"], 0, self.since_fired + c.batch_size)
        if step % c.log_every == 0 or step == c.steps - 1:
            self.any_dead = bool(dead.any())  # one host sync per log step: AuxK when needed
            mse = out["mse"].detach() / sae.config.d_in
            self.logged.append((step, mse, out["l0"].detach(), dead.float().mean()))
        self.steps_done += 1

    def finish(self) -> None:
        self.sae.eval()
        if self.sae.config.variant in ("batchtopk", "matryoshka"):
            self.sae.calibrate_threshold(self.x)

    def history(self) -> SAEHistory:
        history = SAEHistory()
        for step, mse, l0, dead_share in self.logged:
            history.step.append(step)
            history.mse.append(mse.item())
            history.l0.append(l0.item())
            history.dead.append(dead_share.item())
        return history


def train_sae(
    sae: SAE, x: Tensor, config: SAETrainConfig, predict=None, progress: bool = True, losses=None
) -> SAEHistory:
    """Train `sae` on hidden states x (N, d_in); returns the history of the log steps."""
    start = time.perf_counter()
    trainer = SAETrainer(sae, x, config, predict, losses)
    bar = tqdm(range(config.steps), desc=f"SAE {sae.config.variant}", disable=not progress)
    for _ in bar:
        trainer.step()
        if trainer.logged and trainer.logged[-1][0] == trainer.steps_done - 1:
            _, mse, l0, _ = trainer.logged[-1]
            bar.set_postfix(mse=f"{mse.item():.3f}", l0=f"{l0.item():.1f}")
    trainer.finish()
    history = trainer.history()
    history.seconds = time.perf_counter() - start
    return history


class _PickedPreActs(torch.autograd.Function):
    """Entries (rows, cols) of the pre-activations pre = x W + bias, with their gradient.

    The forward pass reads them from `pre`, already computed without gradient. The backward pass
    is that of pre[rows, cols] = x[rows] . W[:, cols] + bias[cols], summed per latent: with g the
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
        by_latent, order = cols.sort()
        offsets = torch.searchsorted(by_latent, torch.arange(ctx.d_sae, device=cols.device))
        # one bag per latent j: the sum of g * x[r] over its entries, i.e. dW[:, j]
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
