"""The virtual CUDA mode (tests/virtual_cuda.py) catches what a GPU would: each of four faults
(the kinds issue 24 found in knobs.py) runs on the CPU and fails under the mode, and its fix
passes there with the CPU's numbers; and the mode makes determinism on CUDA checkable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from virtual_cuda import virtual_cuda

from recsae_lite import _nb


def scores_on(device) -> torch.Tensor:
    return torch.arange(12.0, device=device).reshape(2, 6)


# each fault, then its fix: functions of the device, returning numbers to compare across devices


def ranking_discount_on_the_cpu(device):  # a mixed-device op
    hits = (scores_on(device) % 2 == 0).float()
    return (hits * (1 / torch.log2(torch.arange(2.0, 8.0)))).sum(1)


def ranking_discount_on_the_device(device):
    hits = (scores_on(device) % 2 == 0).float()
    return (hits * (1 / torch.log2(torch.arange(2.0, 8.0, device=device)))).sum(1)


def numpy_of_a_device_tensor(device):
    return np.asarray(scores_on(device).topk(2).indices)


def numpy_of_its_cpu_copy(device):
    return scores_on(device).topk(2).indices.cpu().numpy()


def cpu_segment_indexed_by_device_top(device):
    segment = torch.tensor([0.0, 1, 0, 1, 0, 1])  # (n_items,) a concept's items
    return segment[scores_on(device).topk(3).indices].mean(1)


def device_segment_indexed_by_device_top(device):
    segment = torch.tensor([0.0, 1, 0, 1, 0, 1], device=device)
    return segment[scores_on(device).topk(3).indices].mean(1)


def cpu_generator_in_a_device_draw(device):
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 6, (4,), device=device, generator=generator)


def device_generator_in_a_device_draw(device):
    generator = torch.Generator(device=device).manual_seed(0)
    return torch.randint(0, 6, (4,), device=device, generator=generator)


FAULTS = [
    (ranking_discount_on_the_cpu, ranking_discount_on_the_device,
     "Expected all tensors to be on the same device"),
    (numpy_of_a_device_tensor, numpy_of_its_cpu_copy, "can't convert cuda:0 device type tensor"),
    (cpu_segment_indexed_by_device_top, device_segment_indexed_by_device_top,
     "indices should be either on cpu or on the same device"),
    (cpu_generator_in_a_device_draw, device_generator_in_a_device_draw,
     "Expected a 'cuda' device type for generator but found 'cpu'"),
]  # fmt: skip


@pytest.mark.parametrize(("fault", "fix", "error"), FAULTS, ids=[f[0].__name__ for f in FAULTS])
def test_a_fault_runs_on_the_cpu_and_fails_on_the_virtual_gpu(fault, fix, error):
    on_cpu = fault(torch.device("cpu"))
    assert np.array_equal(np.asarray(on_cpu), np.asarray(fix(torch.device("cpu"))))
    with virtual_cuda():
        with pytest.raises((RuntimeError, TypeError), match=error):
            fault(torch.device("cuda"))
        fixed = fix(torch.device("cuda"))
        if isinstance(fixed, torch.Tensor):  # (the numpy fix returns an array)
            assert fixed.device == torch.device("cuda", 0)
            fixed = fixed.cpu()
    # the same numbers: a virtual draw uses the CPU's random stream
    assert np.array_equal(np.asarray(fixed), np.asarray(on_cpu))


def test_what_cuda_accepts_passes():
    available = torch.cuda.is_available()
    with virtual_cuda():
        assert torch.cuda.is_available()
        x = torch.ones(2, 3, device="cuda")
        assert (x * torch.tensor(2.0)).device.type == "cuda"  # a 0-dim CPU tensor is a number
        assert x[torch.tensor([1, 0])].is_cuda  # a device tensor takes CPU indices
        x[0] = torch.zeros(3)  # a basic-index write from the CPU is a copy
        with pytest.raises(RuntimeError, match="Expected a 'cpu' device type for generator"):
            torch.randn(2, generator=torch.Generator(device="cuda"))
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            torch.ones(3) * torch.tensor(2.0, device="cuda")  # a device number in a CPU op
        host = x.cpu()
        host += 1  # a copy, as from a GPU: the device tensor is unchanged
        assert type(host) is torch.Tensor and x.sum().item() == 3.0
        with torch.autocast("cuda", torch.bfloat16):  # accepted, and changes nothing here
            assert (x @ x.T).dtype == torch.float32
    assert torch.cuda.is_available() == available  # the machine's answer again


def test_a_module_moves_in_place_and_trains_on_the_virtual_gpu(tmp_path):
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    weight = module.weight
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)  # made before the move, as often
    with virtual_cuda():
        module.to("cuda")
        assert module.weight is weight and weight.is_cuda
        assert isinstance(weight, torch.nn.Parameter)
        before = weight.detach().cpu()
        module(torch.ones(4, 3, device="cuda")).sum().backward()
        assert weight.grad.is_cuda
        optimizer.step()
        assert not torch.equal(weight.detach().cpu(), before)
        save_file(module.state_dict(), tmp_path / "w.safetensors")  # safetensors copies to host
        module.cpu()
        assert type(module.weight) is torch.nn.Parameter and not module.weight.is_cuda
    assert torch.equal(load_file(tmp_path / "w.safetensors")["weight"], weight.detach())


@pytest.fixture
def deterministic(monkeypatch):
    """Restores torch's determinism settings (and the environment) after a test changes them."""
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    settings = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)  # fmt: skip
    yield
    torch.use_deterministic_algorithms(settings[0], warn_only=settings[1])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = settings[2:]


def test_deterministic_mode_refuses_what_cuda_refuses(deterministic):
    with virtual_cuda():
        x = torch.ones(3, 3, device="cuda")
        torch.use_deterministic_algorithms(True)
        with pytest.raises(RuntimeError, match="CUBLAS_WORKSPACE_CONFIG=:4096:8"):
            x @ x
        with pytest.raises(RuntimeError, match="cumsum_cuda_kernel"):
            x.cumsum(0)
        assert x.long().cumsum(0)[-1, 0] == 3  # an integer cumsum is deterministic
        torch.ones(3, 3) @ torch.ones(3, 3)  # and the CPU is not CUDA


def test_seed_everything_makes_device_matmuls_deterministic(deterministic):
    with virtual_cuda():
        _nb.seed_everything(0)
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        x = torch.randn(3, 3, device="cuda")
        assert torch.equal(x @ x, x @ x)  # would raise without CUBLAS_WORKSPACE_CONFIG


def test_seed_everything_says_when_cuda_was_used_before(deterministic, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    with pytest.warns(UserWarning, match="Restart the kernel and run the set-up cell"):
        _nb.seed_everything(0)
    _nb.seed_everything(0)  # the setting is in place now: nothing to say
