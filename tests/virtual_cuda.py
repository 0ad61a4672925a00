"""A virtual CUDA device for tests (no need to read for the book): tensors that keep their values
on the CPU but say they are on cuda:0, and raise what CUDA would raise.

No machine of this project's CI has a GPU, yet a learner in Colab may pick one. Under this mode,
code written for a GPU runs on the CPU and fails where a GPU would fail:

- an op that mixes a device tensor with a CPU tensor (0-dim CPU tensors excepted, as on CUDA);
- `.numpy()` (or `np.asarray`) of a device tensor;
- a CPU tensor indexed by a device index tensor (a device tensor may take CPU indices);
- a random draw on one device with a generator of the other;
- under `torch.use_deterministic_algorithms(True)`: a cuBLAS matmul when CUBLAS_WORKSPACE_CONFIG
  was not set before the first one, and the few ops this project could use that CUDA refuses
  (a floating-point cumsum, bincount with weights, histc).

Checked against a real GPU (an H200, torch 2.11 with CUDA 13, 2026-11-29): each of these errors,
and each case accepted below, came out the same, with the same messages; that build no longer
refuses a cuBLAS matmul without CUBLAS_WORKSPACE_CONFIG (older builds did) nor a floating-point
cumsum (torch's documentation still lists it): the mode keeps refusing both, the safe side.

    enable()                 # for a whole process (a notebook's first cell); disable() undoes it
    with virtual_cuda(): ... # for a block (tests/conftest.py's `device` fixture)

`torch.cuda.is_available()` is True, `torch.device("cuda")`, `.to("cuda")`, `.cuda()`,
`device="cuda"` in factories and `torch.Generator(device="cuda")` work, `module.to("cuda")` gives
virtual parameters, `.cpu()` gives plain CPU tensors (a copy, as on CUDA).

What it does not do: run on a GPU or compare numbers with one (a virtual draw uses the CPU's
random stream), measure memory, or autocast: `torch.autocast("cuda")` changes nothing for virtual
tensors, which compute in float32 (a GPU computes in bfloat16 there). It checks the Python calls
a program makes; what runs inside an intercepted call (a backward pass,
`F.multi_head_attention_forward`) is checked at its entry only.

How: a tensor's device is its Python class, `VirtualCudaTensor` (a torch.Tensor subclass whose
`device` property says cuda:0); a `TorchFunctionMode` sees every torch call, checks its tensors'
devices and gives the results the class of the call's device.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

CUDA = torch.device("cuda", 0)


class VirtualCudaTensor(Tensor):
    """A CPU tensor that says it is on cuda:0. The mode does the work, so torch's own handling of
    subclasses is off: ops on it run as on any CPU tensor."""

    __torch_function__ = torch._C._disabled_torch_function_impl

    @property
    def device(self) -> torch.device:
        return CUDA

    @property
    def is_cuda(self) -> bool:
        return True

    @property
    def is_cpu(self) -> bool:
        return False

    def get_device(self) -> int:
        return 0

    def __repr__(self, **kwargs) -> str:  # tensor(..., device='cuda:0'), as CUDA prints it
        name = type(self).__name__
        text = Tensor.__repr__(self, **kwargs).replace(f"{name}(", "tensor(", 1)
        return text.replace("\n" + " " * len(name), "\n" + " " * len("tensor"))


class VirtualCudaParameter(VirtualCudaTensor, nn.Parameter):
    """What an nn.Parameter becomes when `module.to("cuda")` sets its `.data` to a device tensor:
    the same object (as on CUDA: an optimizer made before still holds it), of this class."""


class VirtualCudaGenerator(torch._C.Generator):
    """A CPU random generator that says it is on cuda:0."""

    device = CUDA


# the classes a tensor takes on each side; a tensor of any other class is refused
TO_VIRTUAL = {Tensor: VirtualCudaTensor, nn.Parameter: VirtualCudaParameter}
TO_CPU = {v: k for k, v in TO_VIRTUAL.items()}


def is_virtual(x) -> bool:
    return isinstance(x, VirtualCudaTensor) or type(x) is VirtualCudaGenerator


def on_device(device) -> bool:
    """Whether a device argument (a str, torch.device or index) means CUDA."""
    return isinstance(device, int) or torch.device(device).type == "cuda"


def _recast(t: Tensor, virtual: bool, copy: bool) -> Tensor:
    """t with the class of the wanted side. A new tensor changes class in place; one the caller
    holds (`copy`) is copied first, as a move between CPU and GPU copies."""
    if is_virtual(t) == virtual:
        return t
    if copy:
        t = Tensor.clone(t)  # keeps autograd; a plain tensor (torch's subclass handling is off)
    table = TO_VIRTUAL if virtual else TO_CPU
    if is_virtual(t) != virtual:
        if type(t) not in table:
            raise TypeError(f"virtual_cuda cannot move a {type(t).__name__} between devices")
        t.__class__ = table[type(t)]
    return t


def _tensors(args, kwargs) -> list[Tensor]:
    """The tensors among a call's arguments, and inside its lists and tuples (torch.cat's list,
    an index tuple)."""
    out = []
    for a in (*args, *kwargs.values()):
        if isinstance(a, Tensor):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(t for t in a if isinstance(t, Tensor))
    return out


def _mixed(tensors) -> None:
    """CUDA's error for an op on tensors of two devices; a 0-dim CPU tensor counts as a number."""
    kinds = {is_virtual(t) for t in tensors if is_virtual(t) or t.dim() > 0}
    if len(kinds) > 1:
        raise RuntimeError(
            "Expected all tensors to be on the same device, but found at least two devices, "
            "cuda:0 and cpu! (virtual_cuda: move them to one device with .to(device))"
        )


def _is_basic(index) -> bool:
    """Whether an index is basic (ints, slices, None, ...): `x[index] = v` is then a copy_."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


INDEXING = {Tensor.__getitem__, Tensor.__setitem__, Tensor.index_put_, Tensor.index_put,
            torch.index_put_, torch.index_put}  # fmt: skip
TRANSFERS = {Tensor.to, Tensor.cuda, Tensor.cpu}
# calls that read another tensor's values (a copy) or only its shape, or ask a question (module.to
# does): fine across devices, as on CUDA; the result is on self's device
CROSS_DEVICE = {Tensor.copy_, Tensor.data.__set__, Tensor.expand_as, Tensor.view_as,
                Tensor.reshape_as, torch._has_compatible_shallow_copy_type}  # fmt: skip
CUBLAS = {torch.mm, torch.matmul, torch.addmm, torch.bmm, torch.baddbmm, torch.mv, torch.einsum,
          torch.nn.functional.linear, torch.nn.functional.multi_head_attention_forward,
          Tensor.mm, Tensor.matmul, Tensor.addmm, Tensor.bmm, Tensor.mv, Tensor.__matmul__,
          Tensor.__rmatmul__}  # fmt: skip


def _refused(func, args, kwargs) -> str | None:
    """What CUDA's deterministic mode refuses in this call (on device tensors), if anything."""
    if func in (torch.cumsum, Tensor.cumsum, Tensor.cumsum_) and args[0].is_floating_point():
        return "cumsum_cuda_kernel"
    weights = kwargs.get("weights", args[1] if len(args) > 1 else None)
    if func in (torch.bincount, Tensor.bincount) and weights is not None:
        return "_bincount_cuda"
    if func in (torch.histc, Tensor.histc):
        return "_histc_cuda"
    return None


class VirtualCudaMode(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        # like CUDA's, read once, at the first matmul: set it later and it does not count
        self.cublas_config: str | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in TRANSFERS:
            return self.transfer(func, args, dict(kwargs))
        tensors = _tensors(args, kwargs)
        if not any(map(is_virtual, tensors)) and not {"device", "generator"} & kwargs.keys():
            return func(*args, **kwargs)  # all on the CPU: nothing to check or move
        if func in (Tensor.numpy, Tensor.__array__) and is_virtual(args[0]):
            raise TypeError(
                "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
                "tensor to host memory first."
            )
        if func in INDEXING:
            self.check_indexing(func, args)
        elif func not in CROSS_DEVICE:
            _mixed(tensors)
        # the call's device: a `device=` argument, else that of its tensors
        if kwargs.get("device") is not None:
            virtual = on_device(kwargs["device"])
            kwargs = {**kwargs, "device": "cpu"}
        elif func in INDEXING or func in CROSS_DEVICE:  # the result is (a part of) self
            virtual = is_virtual(args[0])
        else:
            virtual = any(is_virtual(t) for t in tensors)
        generator = kwargs.get("generator")
        if generator is not None and is_virtual(generator) != virtual:
            draw, found = ("cuda", "cpu") if virtual else ("cpu", "cuda")
            raise RuntimeError(f"Expected a '{draw}' device type for generator but found '{found}'")
        if virtual and torch.are_deterministic_algorithms_enabled():
            self.check_deterministic(func, args, kwargs)
        if func is Tensor.__deepcopy__ and virtual:  # torch's wants a plain tensor (its id too)
            args[0].__class__ = Tensor
            try:
                out = func(*args, **kwargs)
            finally:
                args[0].__class__ = VirtualCudaTensor
            return _recast(out, virtual, copy=False)
        out = func(*args, **kwargs)
        if func is Tensor.__iter__:  # the rows, made by the unbind inside
            return iter([_recast(t, virtual, copy=False) for t in out])
        # module.to(): the parameter takes its new data's device (a new method-wrapper: ==)
        if func == Tensor.data.__set__:
            _recast(args[0], is_virtual(args[1]), copy=False)
            return out
        held = {id(t) for t in tensors}
        if isinstance(out, Tensor):
            return _recast(out, virtual, copy=id(out) in held)
        if isinstance(out, (tuple, list)):  # topk, sort, split...: new tensors change in place
            for t in out:
                if isinstance(t, Tensor):
                    _recast(t, virtual, copy=False)
        return out

    def transfer(self, func, args, kwargs):
        """.to(...), .cuda(), .cpu(): a move between devices copies (keeping autograd)."""
        self_, rest = args[0], args[1:]
        dtype, copy = None, kwargs.pop("copy", False)
        if func is Tensor.cpu:
            virtual = False
        elif func is Tensor.cuda:
            virtual = True
        elif rest and isinstance(rest[0], Tensor):  # x.to(other): other's device and dtype
            virtual, dtype = is_virtual(rest[0]), rest[0].dtype
        else:
            device, dtype, _, _ = torch._C._nn._parse_to(*rest, **kwargs)
            virtual = is_virtual(self_) if device is None else on_device(device)
        out = Tensor.to(self_, dtype=dtype or self_.dtype, copy=copy)
        return _recast(out, virtual, copy=out is self_)

    def check_indexing(self, func, args) -> None:
        """A device tensor takes CPU or device indices, a CPU tensor only CPU ones; a value
        written is an operand, except for a basic index (then it is a copy_)."""
        self_, index = args[0], args[1]
        indices = [t for t in (index if isinstance(index, (tuple, list)) else (index,))
                   if isinstance(t, Tensor)]  # fmt: skip
        if not is_virtual(self_) and any(is_virtual(t) for t in indices):
            raise RuntimeError(
                "indices should be either on cpu or on the same device as the indexed tensor (cpu)"
            )
        value = args[2] if len(args) > 2 else None
        basic_write = func is Tensor.__setitem__ and _is_basic(index)
        if isinstance(value, Tensor) and not basic_write:
            _mixed([self_, value])

    def check_deterministic(self, func, args, kwargs) -> None:
        message = None
        if func in CUBLAS:
            if self.cublas_config is None:
                self.cublas_config = os.environ.get("CUBLAS_WORKSPACE_CONFIG", "")
            if self.cublas_config not in (":4096:8", ":16:8"):
                message = (
                    "Deterministic behavior was enabled with either "
                    "`torch.use_deterministic_algorithms(True)` or "
                    "`at::Context::setDeterministicAlgorithms(true)`, but this operation is not "
                    "deterministic because it uses CuBLAS and you have CUDA >= 10.2. To enable "
                    "deterministic behavior in this case, you must set an environment variable "
                    "before running your PyTorch application: CUBLAS_WORKSPACE_CONFIG=:4096:8 or "
                    "CUBLAS_WORKSPACE_CONFIG=:16:8."
                )
        elif (name := _refused(func, args, kwargs)) is not None:
            message = (
                f"{name} does not have a deterministic implementation, but you set "
                "'torch.use_deterministic_algorithms(True)'."
            )
        if message is None:
            return
        if torch.is_deterministic_algorithms_warn_only_enabled():
            warnings.warn(message, stacklevel=3)
        else:
            raise RuntimeError(message)


class _GeneratorMeta(type):
    """torch.Generator while the mode is on: Generator(device="cuda") makes a virtual one, and
    every generator, CPU or virtual, is an instance."""

    def __call__(cls, device="cpu"):
        return VirtualCudaGenerator() if on_device(device) else torch._C.Generator(device)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, torch._C.Generator)


class _Generator(metaclass=_GeneratorMeta):
    pass


# what the mode answers in torch.cuda (what this project and torch's own helpers ask)
CUDA_ANSWERS = {
    "is_available": lambda: True,
    "device_count": lambda: 1,
    "current_device": lambda: 0,
    "get_device_name": lambda device=None: "virtual CUDA (values on the CPU)",
    "get_device_capability": lambda device=None: (8, 0),
    "is_bf16_supported": lambda including_emulation=True: True,
    "synchronize": lambda device=None: None,
    # torch.random.fork_rng saves and restores them; a virtual draw uses the CPU's generator
    "get_rng_state": lambda device="cuda": torch.get_rng_state(),
    "set_rng_state": lambda new_state, device="cuda": None,
}
_state: dict = {}
Function, BackwardCFunction = torch.autograd.Function, torch.autograd.function.BackwardCFunction


def _function_apply(cls, *args, **kwargs):
    """A custom autograd Function (sae.py has one) run on device tensors gets device gradients
    in its backward, run under the mode: the autograd engine runs it with the mode off (inside the
    intercepted `backward()`), and gives it plain gradients."""
    out = _state["function_apply"].__func__(cls, *args, **kwargs)
    if any(is_virtual(t) for t in _tensors(args, kwargs)):
        for t in out if isinstance(out, tuple) else (out,):
            if isinstance(t, Tensor) and t.grad_fn is not None:
                t.grad_fn.virtual_cuda = True
    return out


def _backward_apply(ctx, *grads):
    if not getattr(ctx, "virtual_cuda", False):
        return _state["backward_apply"](ctx, *grads)
    grads = [_recast(g, True, copy=False) if isinstance(g, Tensor) else g for g in grads]
    with _state["mode"]:
        return _state["backward_apply"](ctx, *grads)


def enable() -> None:
    """Turn the mode on for this thread (and torch.cuda's answers for the process)."""
    if _state:
        return
    _state["cuda"] = {name: getattr(torch.cuda, name) for name in CUDA_ANSWERS}
    _state["generator"] = torch.Generator
    _state["function_apply"] = Function.__dict__["apply"]
    _state["backward_apply"] = BackwardCFunction.apply
    for name, answer in CUDA_ANSWERS.items():
        setattr(torch.cuda, name, answer)
    torch.Generator = _Generator
    Function.apply = classmethod(_function_apply)
    BackwardCFunction.apply = _backward_apply
    _state["mode"] = VirtualCudaMode()
    _state["mode"].__enter__()


def disable() -> None:
    """Turn the mode off. Device tensors made under it must not be used after: they would still
    say cuda:0 but run as CPU tensors, unchecked."""
    if not _state:
        return
    _state.pop("mode").__exit__(None, None, None)
    for name, original in _state.pop("cuda").items():
        setattr(torch.cuda, name, original)
    torch.Generator = _state.pop("generator")
    Function.apply = _state.pop("function_apply")
    BackwardCFunction.apply = _state.pop("backward_apply")


@contextlib.contextmanager
def virtual_cuda():
    enable()
    try:
        yield
    finally:
        disable()
