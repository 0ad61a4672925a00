"""Tests of recsae_lite.sae, the SAE metrics and recsae_lite.activations: FVU by hand, the sparsity
of each variant, the Matryoshka and AuxK losses, the decoder constraint, save/load, the
prediction-aware term, input errors, normalisation, recovery of planted directions, determinism,
and collecting hidden states from a base model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from recsae_lite import sae_reference, zoo
from recsae_lite.activations import collect, ndcg_recovered
from recsae_lite.data import leave_one_out, load_dataset
from recsae_lite.metrics import sae_metrics
from recsae_lite.models.base import make_batch
from recsae_lite.sae import SAE, VARIANTS, FitConfig, SAEConfig, fit


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The SAEs here are tiny: a second thread only adds synchronisation (10x slower when the
    machine is busy)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_sae(seed: int = 0, **config) -> SAE:
    torch.manual_seed(seed)
    return SAE(SAEConfig(**{"d_in": 8, "d_sae": 32, "variant": "topk", "k": 4, **config}))


def quick(steps: int = 5, **config) -> FitConfig:
    fields = {"max_steps": steps, "batch_size": 64, "lr": 1e-2, "warmup_steps": 1, **config}
    return FitConfig(**fields)


def planted(seed: int, n: int = 20000, d_in: int = 16, n_dir: int = 32):
    """Samples (n, d_in), each a sum of 2-3 of n_dir random unit directions with coefficients in
    [0.5, 1.5], and the directions (n_dir, d_in)."""
    g = torch.Generator().manual_seed(seed)
    directions = F.normalize(torch.randn(n_dir, d_in, generator=g), dim=-1)
    n_active = torch.randint(2, 4, (n,), generator=g)
    chosen = torch.rand(n, n_dir, generator=g).argsort(-1) < n_active[:, None]  # (n, n_dir)
    coefficients = (0.5 + torch.rand(n, n_dir, generator=g)) * chosen
    return coefficients @ directions, directions


def identity_relu_sae(d_in: int = 8) -> SAE:
    """A ReLU SAE with x_hat == x exactly: z = relu([x, -x]), x_hat = relu(x) - relu(-x); no
    normalisation (mean 0, scale 1)."""
    sae = SAE(SAEConfig(d_in=d_in, d_sae=2 * d_in, variant="relu"))
    eye = torch.eye(d_in)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([eye, -eye], dim=1))  # (d_in, 2 d_in)
        sae.W_dec.copy_(torch.cat([eye, -eye], dim=0))  # (2 d_in, d_in)
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae


class StandIn:
    """What sae_metrics needs of an SAE: codes z = x (d_sae = d_in) and a chosen decode."""

    def __init__(self, d: int, decode):
        self.config = SimpleNamespace(d_sae=d)
        self.decode = decode

    def encode(self, x):
        return x

    def eval(self):
        return self


# ------------------------------------------------------------------------------------------------
# FVU (metrics.sae_metrics)


def test_fvu_of_the_mean_predictor_is_one_and_of_a_perfect_fit_zero(device):
    torch.manual_seed(0)
    x = (torch.randn(300, 8) * 3 + 2).to(device)
    mean = x.mean(0)
    predicts_mean = StandIn(8, lambda z: mean.expand_as(z))
    perfect = StandIn(8, lambda z: z)
    for batch_size in (8192, 7):  # one chunk, and many: the mean is the whole set's
        assert sae_metrics(predicts_mean, x, batch_size)["fvu"] == pytest.approx(1.0, abs=1e-6)
        assert sae_metrics(perfect, x, batch_size)["fvu"] == 0.0
    # a real SAE with x_hat == x in its normalised space: ~0 once unscaled too
    sae = identity_relu_sae(8).to(device)
    sae.fit_normalisation(x)
    assert sae_metrics(sae, x)["fvu"] == pytest.approx(0.0, abs=1e-6)


def test_fvu_is_a_ratio_of_sums_by_hand():
    # mean 0; total variance 1 + 1 + 9 + 9 = 20; decode adds (1, 0): every error is 1, sum 4
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
    shifted = StandIn(2, lambda z: z + torch.tensor([1.0, 0.0]))
    # averaging per-sample ratios would give (1 + 1 + 1/9 + 1/9) / 4 = 0.556 instead
    for batch_size in (8192, 1, 3):
        assert sae_metrics(shifted, x, batch_size)["fvu"] == pytest.approx(4 / 20)


def test_fvu_is_about_the_mean_so_an_offset_does_not_change_it():
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
    offset = torch.tensor([1000.0, -500.0])
    shifted = StandIn(2, lambda z: z + torch.tensor([1.0, 0.0]))
    # about zero it would be 4 / sum ||x + offset||^2 ~ 3e-6
    assert sae_metrics(shifted, x + offset)["fvu"] == pytest.approx(0.2, rel=1e-4)
    mean = (x + offset).mean(0)
    predicts_mean = StandIn(2, lambda z: mean.expand_as(z))
    assert sae_metrics(predicts_mean, x + offset)["fvu"] == pytest.approx(1.0, rel=1e-6)


# ------------------------------------------------------------------------------------------------
# sparsity of each variant


def test_topk_leaves_exactly_k_nonzeros_per_row():
    sae = make_sae(d_sae=32, k=5)
    pre = torch.rand(64, 32) + 0.1  # positive: ReLU removes none of the k
    z = sae.activate(pre)
    assert ((z != 0).sum(-1) == 5).all()
    kept = pre.topk(5, dim=-1).indices
    assert torch.equal(z.gather(-1, kept), pre.gather(-1, kept))  # the k largest, unchanged
    z = sae.activate(pre - 1.2)  # mostly negative: the k largest, but never below 0
    assert (z >= 0).all() and ((z != 0).sum(-1) <= 5).all()
    assert torch.equal(z, F.relu(sae.activate(pre) - 1.2) * (z != 0))


@pytest.mark.parametrize("variant", ["batchtopk", "matryoshka"])
def test_batchtopk_keeps_k_times_batch_in_training(variant):
    groups = (8, 8, 16) if variant == "matryoshka" else ()
    sae = make_sae(variant=variant, d_sae=32, k=4, groups=groups)
    sae.train()
    pre = torch.rand(50, 32) + 0.1
    z = sae.activate(pre)
    assert (z != 0).sum() == 4 * 50
    assert (z != 0).sum(-1).unique().numel() > 1  # per batch, not per row
    smallest_kept = pre.flatten().topk(4 * 50).values[-1]
    assert torch.equal(z[z != 0].sort().values, pre[pre >= smallest_kept].sort().values)


@pytest.mark.parametrize("variant", ["batchtopk", "matryoshka"])
def test_batchtopk_uses_its_threshold_in_eval(variant):
    groups = (8, 8, 16) if variant == "matryoshka" else ()
    sae = make_sae(variant=variant, d_sae=32, k=4, groups=groups)
    sae.eval()
    sae.threshold.fill_(0.5)
    pre = torch.rand(50, 32)
    z = sae.activate(pre)
    assert torch.equal(z, pre * (pre > 0.5))
    assert (sae.threshold == 0.5).all()  # inference does not move it


# ------------------------------------------------------------------------------------------------
# the losses


def test_matryoshka_mse_is_the_sum_of_prefix_errors():
    sae = make_sae(variant="matryoshka", d_sae=32, k=4, groups=(4, 12, 16))
    torch.manual_seed(1)
    x = torch.randn(128, 8) * 2 + 3
    sae.fit_normalisation(x)
    with torch.no_grad():  # arbitrary weights, so that every prefix has a different error
        sae.b_dec.copy_(torch.randn(8) * 0.3)
        sae.W_dec.mul_(torch.rand(32, 1) + 0.5)
    out = sae.losses(x)
    rows, cols, values = out["codes"]
    z = torch.zeros(128, 32).index_put_((rows, cols), values.detach())
    x_norm = sae.normalise(x)
    errors = []
    for end in (4, 16, 32):
        x_hat = z[:, :end] @ sae.W_dec[:end].detach() + sae.b_dec.detach()
        errors.append((x_hat - x_norm).pow(2).sum(-1).mean())
    assert len(set(e.item() for e in errors)) == 3
    assert out["mse"].item() == pytest.approx(sum(errors).item(), rel=1e-5)
    assert torch.allclose(out["x_hat"], z @ sae.W_dec + sae.b_dec, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("with_dead", [False, True])
def test_losses_and_gradients_equal_the_plain_implementation(variant, with_dead, device):
    # the sparse forward and backward passes compute what dense codes and a dense decode do;
    # k * 4 = d_sae, so BatchTopK's candidates per sample are all latents (exact batch top-k)
    groups = (4, 12, 16) if variant == "matryoshka" else ()
    sae = make_sae(variant=variant, d_sae=32, k=8, groups=groups, l1_coefficient=2.0).to(device)
    torch.manual_seed(2)
    x = (torch.randn(96, 8) * 2 + 1).to(device)
    sae.fit_normalisation(x)
    with torch.no_grad():
        sae.b_dec.copy_(torch.randn(8) * 0.3)
        sae.b_enc.copy_(torch.randn(32) * 0.3)
    dead = (torch.arange(32) % 3 == 0).to(device) if with_dead else None
    outs, grads = [], []
    for losses in (SAE.losses, sae_reference.losses):
        sae.zero_grad()
        out = losses(sae, x, dead, step=100)
        out["loss"].backward()
        outs.append(out)
        grads.append({name: p.grad.clone() for name, p in sae.named_parameters()})
    fast, plain = outs
    for key in ("loss", "mse", "aux", "l1", "l0"):
        assert (key in fast) == (key in plain), key
        if key in fast:
            assert fast[key].item() == pytest.approx(plain[key].item(), rel=1e-5), key
    assert with_dead == ("aux" in fast) or variant == "relu"
    assert torch.equal(fast["fired"], plain["fired"])
    assert torch.allclose(fast["x_hat"], plain["x_hat"], atol=1e-5)
    for name, grad in grads[0].items():
        assert grad.abs().sum() > 0, name
        assert torch.allclose(grad, grads[1][name], atol=1e-5), name


@pytest.mark.parametrize("variant", VARIANTS)
def test_losses_run_under_bfloat16_autocast(variant):
    # the trainer's bf16 option (CUDA) autocasts the matmuls; CPU autocast takes the same path
    groups = (8, 8, 16) if variant == "matryoshka" else ()
    sae = make_sae(variant=variant, groups=groups)
    torch.manual_seed(2)
    x, dead = torch.randn(64, 8), torch.arange(32) % 2 == 0
    with torch.autocast("cpu", torch.bfloat16):
        out = sae.losses(x, dead)
    out["loss"].backward()
    assert torch.isfinite(out["loss"])
    for name, p in sae.named_parameters():
        assert p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all(), name
    plain = sae.losses(x, dead)["loss"].item()
    assert out["loss"].item() == pytest.approx(plain, rel=0.05)  # bf16 rounds, nothing more


def test_auxk_residual_is_x_minus_x_hat():
    sae = make_sae(variant="topk", d_sae=32, k=4)
    dead_latent = 31
    with torch.no_grad():
        # latent 31 has pre-activation 1 on every sample, the others ~10: it never makes the
        # top k, so its decoder row does not enter x_hat, but AuxK gives it z_aux = 1
        sae.W_enc[:, dead_latent] = 0.0
        sae.b_enc[:dead_latent] = 10.0
        sae.b_enc[dead_latent] = 1.0
    torch.manual_seed(1)
    x = torch.randn(64, 8)  # identity normalisation: x_norm == x
    x_hat = sae.losses(x)["x_hat"].detach()
    residual = x - x_hat  # e = x_norm - x_hat
    direction = F.normalize(residual.mean(0), dim=0)
    dead = torch.zeros(32, dtype=torch.bool)
    dead[dead_latent] = True

    def aux(row):
        with torch.no_grad():
            sae.W_dec[dead_latent] = row
        out = sae.losses(x, dead)
        assert dead_latent not in out["codes"][1]
        assert torch.equal(out["x_hat"].detach(), x_hat)
        return out["aux"].item()

    along, against = aux(direction), aux(-direction)
    assert along < against
    variance = (residual - residual.mean(0)).pow(2).sum(-1).mean()
    expected = (residual - direction).pow(2).sum(-1).mean() / variance
    assert along == pytest.approx(expected.item(), rel=1e-5)


def test_auxk_is_zero_without_dead_latents():
    sae = make_sae(variant="batchtopk", k=4)
    torch.manual_seed(1)
    out = sae.losses(torch.randn(64, 8), torch.zeros(32, dtype=torch.bool))
    assert out["aux"].item() == 0.0
    assert out["loss"].item() == out["mse"].item()


def test_prediction_aware_fit_needs_its_term():
    config = SAEConfig(d_in=8, d_sae=32, variant="topk", k=4, pred_coefficient=0.5)
    with pytest.raises(ValueError, match="prediction"):
        fit(torch.randn(100, 8), config, quick(), progress=False)


# ------------------------------------------------------------------------------------------------
# the decoder constraint


@pytest.mark.parametrize("variant", ["topk", "batchtopk", "matryoshka"])
def test_decoder_rows_stay_unit_norm_in_training(variant, device):
    groups = (8, 8, 16) if variant == "matryoshka" else ()
    torch.manual_seed(1)
    x = (torch.randn(500, 8) * 4 + 1).to(device)
    sae = fit(x, make_sae(variant=variant, groups=groups).config, quick(steps=5), progress=False)
    norms = sae.W_dec.detach().norm(dim=-1)
    assert torch.allclose(norms, torch.ones(32, device=device), atol=1e-5)


def test_remove_parallel_grad_leaves_a_gradient_orthogonal_to_each_row():
    sae = make_sae()
    torch.manual_seed(1)
    with torch.no_grad():
        sae.W_dec.mul_(torch.rand(32, 1) + 0.5)  # rows of other norms, too
    grad = torch.randn(32, 8)
    sae.W_dec.grad = grad.clone()
    sae.remove_parallel_grad()
    w, g = sae.W_dec.detach(), sae.W_dec.grad
    assert (g * w).sum(-1).abs().max() < 1e-5
    parallel = grad - g  # what was removed lies along each row
    cosines = (F.normalize(parallel, dim=-1) * F.normalize(w, dim=-1)).sum(-1)
    assert torch.allclose(cosines.abs(), torch.ones(32), atol=1e-4)


# ------------------------------------------------------------------------------------------------
# save and load


def trained_batchtopk(device="cpu") -> tuple[SAE, torch.Tensor]:
    torch.manual_seed(1)
    x = (torch.randn(500, 8) * 3 + 5).to(device)
    return fit(x, make_sae(variant="batchtopk", k=4).config, quick(steps=20), progress=False), x


def test_save_load_keeps_every_tensor(tmp_path):
    sae, _ = trained_batchtopk()
    assert sae.threshold.item() > 0 and sae.input_mean.abs().min() > 1
    assert sae.input_scale.item() != 1.0
    sae.save(tmp_path / "sae")
    loaded = SAE.load(tmp_path / "sae")
    assert loaded.config == sae.config
    state, loaded_state = sae.state_dict(), loaded.state_dict()
    assert set(state) == set(loaded_state) >= {"input_mean", "input_scale", "threshold"}
    for name, value in state.items():
        assert torch.equal(loaded_state[name], value), name


def test_loaded_sae_encodes_like_the_saved_one(tmp_path, device):
    sae, x = trained_batchtopk(device)  # fit leaves it in eval mode, ready to use
    sae.save(tmp_path / "sae")
    loaded = SAE.load(tmp_path / "sae").to(device)
    threshold = loaded.threshold.clone()
    # a loaded SAE is for inference: BatchTopK must use its threshold, not the batch's top k * B
    assert torch.equal(loaded.encode(x), sae.encode(x))
    assert torch.equal(loaded.threshold, threshold)  # and encoding must not move the threshold
    assert torch.equal(loaded(x), sae(x))


def test_load_refuses_another_variant_or_size(tmp_path):
    sae = make_sae(variant="matryoshka", groups=(8, 8, 16))
    sae.save(tmp_path / "sae")
    same = SAEConfig(d_in=8, d_sae=32, variant="matryoshka", k=4, groups=(8, 8, 16))
    assert SAE.load(tmp_path / "sae", expect=same).config == sae.config
    with pytest.raises(ValueError, match="variant"):
        SAE.load(tmp_path / "sae", expect=SAEConfig(d_in=8, d_sae=32, variant="topk", k=4))
    other_size = SAEConfig(d_in=8, d_sae=64, variant="matryoshka", k=4, groups=(8, 8, 48))
    with pytest.raises(ValueError, match="d_sae"):
        SAE.load(tmp_path / "sae", expect=other_size)
    other_groups = SAEConfig(d_in=8, d_sae=32, variant="matryoshka", k=4, groups=(16, 16))
    with pytest.raises(ValueError, match="groups"):
        SAE.load(tmp_path / "sae", expect=other_groups)


def test_load_without_cfg_json_is_file_not_found(tmp_path):
    make_sae().save(tmp_path / "sae")
    (tmp_path / "sae" / "cfg.json").unlink()
    with pytest.raises(FileNotFoundError, match="cfg.json"):
        SAE.load(tmp_path / "sae")
    with pytest.raises(FileNotFoundError):
        SAE.load(tmp_path / "nothing here")


# ------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_activations_are_refused(bad):
    x = torch.randn(100, 8)
    x[3, 5] = bad
    sae = make_sae()
    with pytest.raises(ValueError, match="row 3"):
        fit(x, sae.config, quick(), progress=False)
    with pytest.raises(ValueError, match="NaN or inf"):
        sae.fit_normalisation(x)
    assert torch.equal(sae.input_mean, torch.zeros(8))  # refused before anything was stored


def test_encode_of_the_wrong_size_names_d_in():
    sae = make_sae(d_in=8)
    with pytest.raises(ValueError, match="d_in = 8"):
        sae.encode(torch.randn(4, 12))
    with pytest.raises(ValueError, match="d_in = 8"):
        sae.losses(torch.randn(4, 12))


@pytest.mark.parametrize("d", [12, 1])
def test_training_on_the_wrong_size_names_d_in(d):
    sae = make_sae(d_in=8)
    with pytest.raises(ValueError, match="d_in = 8"):
        fit(torch.randn(100, d), sae.config, quick(), progress=False)
    with pytest.raises(ValueError, match="d_in = 8"):
        sae.fit_normalisation(torch.randn(100, d))
    assert torch.equal(sae.input_mean, torch.zeros(8))  # nothing stored from the wrong data


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="k = 33"):
        SAEConfig(d_in=8, d_sae=32, variant="topk", k=33)
    with pytest.raises(ValueError, match="k = 40"):
        SAEConfig(d_in=8, d_sae=32, variant="batchtopk", k=40)
    with pytest.raises(ValueError, match="sum to d_sae = 32"):
        SAEConfig(d_in=8, d_sae=32, variant="matryoshka", k=4, groups=(8, 8))
    with pytest.raises(ValueError, match="groups"):
        SAEConfig(d_in=8, d_sae=32, variant="matryoshka", k=4)
    with pytest.raises(ValueError, match="jumprelu"):
        SAEConfig(d_in=8, d_sae=32, variant="jumprelu")


# ------------------------------------------------------------------------------------------------
# normalisation


def test_normalisation_is_stored_and_undone():
    x, _ = planted(seed=1234, n=4000)
    x = x * 30 + 500  # data far from the origin, in large units
    sae = make_sae(d_in=16, d_sae=64, k=3)
    sae.fit_normalisation(x)
    assert torch.allclose(sae.input_mean, x.mean(0))
    x_norm = sae.normalise(x)
    assert x_norm.pow(2).sum(-1).mean().item() == pytest.approx(16, rel=1e-4)  # E||x||^2 = d_in
    assert torch.allclose(sae.decode(torch.zeros(1, 64))[0], x.mean(0))  # b_dec = 0 at first

    sae = fit(x, sae.config, quick(steps=200, batch_size=256, warmup_steps=20), progress=False)
    x_hat = sae(x).detach()
    scale = sae.input_scale.item()
    assert scale == pytest.approx(x.std(0).pow(2).sum().sqrt().item() / 4, rel=1e-2)
    assert (x_hat.mean(0) - x.mean(0)).abs().max() < 0.05 * scale  # in the data's units
    fvu = (x_hat - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum()
    assert fvu < 0.2
    assert sae_metrics(sae, x)["fvu"] == pytest.approx(fvu.item(), rel=1e-3)


# ------------------------------------------------------------------------------------------------
# training


def test_topk_sae_recovers_planted_directions():
    x, directions = planted(seed=1234)  # the SAE's seed 0 would draw the same directions
    sae = make_sae(seed=0, d_in=16, d_sae=64, k=3)
    untrained = (directions @ sae.W_dec.detach().T).max(-1).values.mean()
    sae = fit(x, sae.config, quick(steps=400, batch_size=256, warmup_steps=20), progress=False)
    best = (directions @ F.normalize(sae.W_dec.detach(), dim=-1).T).max(-1).values  # (32,)
    assert untrained < 0.7  # ~0.55: random rows do not already hold them
    assert best.mean() >= 0.9  # 0.994 observed
    assert best.min() >= 0.8


def test_training_is_deterministic(device):
    torch.manual_seed(5)
    x = torch.randn(400, 8)

    def weights(seed):  # features die within dead_window, so AuxK takes part
        config = quick(steps=20, batch_size=32, dead_window=32, eval_every=1, seed=seed)
        sae = fit(x.to(device), make_sae(variant="batchtopk", k=1).config, config, progress=False)
        return sae.state_dict(), sae.history

    (first, history), (second, _), (other, _) = weights(0), weights(0), weights(1)
    assert max(history.dead) > 0
    for name in first:
        assert torch.equal(first[name], second[name]), name
    assert not torch.equal(first["W_dec"], other["W_dec"])


# ------------------------------------------------------------------------------------------------
# activations: collecting hidden states, and the metric recovered


@pytest.fixture(scope="module")
def data():
    dataset = load_dataset("synthetic", seed=1, n_users=40, n_items=40, seq_len=(5, 25))
    return dataset, leave_one_out(dataset)


def build_sasrec(data, max_len: int = 20):
    dataset, split = data
    torch.manual_seed(0)
    return zoo.build("sasrec", dataset, split, hidden_size=8, max_len=max_len).eval()


@pytest.mark.parametrize("max_len", [20, 8])  # 8: longer histories keep their last 8 items
def test_collect_all_positions_gives_one_row_per_item(data, max_len):
    split = data[1]
    model = build_sasrec(data, max_len)
    lengths = np.array([min(len(t), max_len) for t in split.train])
    if max_len == 8:
        assert max(len(t) for t in split.train) > 8
    states = collect(model, split, positions="all", batch_size=16)
    assert states.shape == (lengths.sum(), 8)
    batch = make_batch(split.users, split.train, model.n_items)
    last = states[torch.as_tensor(lengths.cumsum() - 1)]
    assert torch.allclose(last, model.hidden(batch), atol=1e-5)
    assert torch.allclose(collect(model, split, positions="last"), last, atol=1e-5)


def test_collect_all_positions_of_a_model_without_sequence_is_one_per_user(data):
    dataset, split = data
    mf = zoo.build("mf", dataset, split, hidden_size=8)
    every, read = collect(mf, split, positions="all", items=True)
    assert torch.equal(every, collect(mf, split, positions="last"))
    assert read.tolist() == [history[-1] for history in split.train]


class IdentitySAE(nn.Module):
    def __init__(self, input_mean):
        super().__init__()
        self.register_buffer("input_mean", input_mean)

    def forward(self, h):
        return h


class MeanSAE(IdentitySAE):
    """Reconstructs every h as the mean of the training data: no better than the mean ablation."""

    def forward(self, h):
        return self.input_mean.expand_as(h)


def test_ndcg_recovered_of_the_identity_is_one(data, device):
    model, split = build_sasrec(data).to(device), data[1]
    scores = ndcg_recovered(model, IdentitySAE(collect(model, split).mean(0)), split)
    assert scores["clean"] != scores["ablated"]
    assert scores["spliced"] == scores["clean"]
    assert scores["recovered"] == 1.0


def test_ndcg_recovered_of_the_mean_is_zero(data):
    model, split = build_sasrec(data), data[1]
    scores = ndcg_recovered(model, MeanSAE(collect(model, split).mean(0)), split)
    assert scores["clean"] != scores["ablated"]
    assert scores["recovered"] == 0.0  # the ablation replaces h by the SAE's input_mean


def test_ndcg_recovered_leaves_the_models_in_eval_mode(data):
    model, split = build_sasrec(data), data[1]
    sae = IdentitySAE(collect(model, split).mean(0)).eval()
    ndcg_recovered(model, sae, split)
    assert not model.training, "the base model was left in training mode (dropout on)"
    assert not sae.training, "the SAE was left in training mode"


def test_kl_term_pulls_mean_activations_to_the_target():
    # paper B: sum over latents of KL(rho || rho_hat_j), rho_hat_j = mean activation, clamped
    sae = make_sae(variant="relu", kl_coefficient=1.0, kl_target=0.05)
    torch.manual_seed(3)
    out = sae.losses(torch.randn(256, 8))
    rate = out["codes"].detach().mean(0).clamp(1e-6, 1 - 1e-6)
    rho = torch.tensor(0.05)
    expected = (rho * (rho / rate).log() + (1 - rho) * ((1 - rho) / (1 - rate)).log()).sum()
    assert out["kl"].item() == pytest.approx(expected.item(), rel=1e-5)
    without = make_sae(variant="relu").losses(torch.randn(256, 8))
    assert "kl" not in without
