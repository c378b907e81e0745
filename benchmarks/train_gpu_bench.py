"""Training-step benchmark of the logic layer: PyTorch eager OP, eager IWP, torch.compile IWP,
dlgn's torch path and the fused Triton kernels, side by side in one run.

The Light DLGN paper's setting (GPU default): 4 x s layers of 128,000 gates (s = depth scale
1 and 5), arity 2, batch 100, a GroupSum head over 10 classes and cross-entropy.  For each
method and depth: forward time (incl. the head and the loss), backward time, and peak memory
above what was allocated before the forward (GPU: ``torch.cuda.max_memory_allocated``;
CPU: bytes of the distinct storages autograd saves for the backward, through
``saved_tensors_hooks``).  GPU times use CUDA events after warm-up; ratios are against
eager IWP in the same run.

    python benchmarks/train_gpu_bench.py                      # GPU, paper setting
    nice python benchmarks/train_gpu_bench.py --cpu           # small sizes, no Triton
    TRITON_INTERPRET=1 nice python benchmarks/train_gpu_bench.py --cpu --gates 256 \\
        --depth-scales 1 --methods eager_iwp,triton_iwp       # Triton's interpreter (slow)

Methods
  eager_op        difflogic's Python OP: softmax over 16 logits, the 16-relaxation sum (k = 2)
  eager_iwp       IWP, sigmoid table, autograd over the batch-major interpolation form
  compiled_iwp    eager_iwp under torch.compile (the whole net)
  torch_iwp       dlgn.frontend.functional.logic_forward_torch (reduced, feature-major)
  triton_iwp      dlgn.frontend.triton_layer.logic_forward_triton (fused kernels, activations
                  feature-major [features, batch]: coalesced gathers)
  triton_iwp_bm   the same kernels on batch-major activations (layout="as_is"): measures the
                  layout choice
  triton_op       OP soft table (softmax @ minterms) through the same Triton kernel (k = 2)
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dlgn.compiler.gates import GATE_TABLES  # noqa: E402

METHODS = ("eager_op", "eager_iwp", "compiled_iwp", "torch_iwp", "triton_iwp", "triton_iwp_bm",
           "triton_op")
N_CLASSES = 10


# ---------------------------------------------------------------- layer formulations
def _difflogic_ops(a, b):
    ab = a * b
    return [torch.zeros_like(a), ab, a - ab, a, b - ab, b, a + b - 2 * ab, a + b - ab,
            1 - (a + b - ab), 1 - (a + b - 2 * ab), 1 - b, 1 - b + ab, 1 - a, 1 - a + ab,
            1 - ab, torch.ones_like(a)]


def layer_eager_op(x, idx, z):
    p = torch.softmax(z, -1)
    ops = _difflogic_ops(x[:, idx[:, 0]], x[:, idx[:, 1]])
    y = p[:, 0] * ops[0]
    for i in range(1, 16):
        y = y + p[:, i] * ops[i]
    return y


def layer_eager_iwp(x, idx, W):
    v = torch.sigmoid(W).unsqueeze(0)  # [1, G, 2^k]
    for i in range(idx.shape[1]):      # x_0 = most significant bit of u
        xi = x[:, idx[:, i]].unsqueeze(2)
        h = v.shape[2] // 2
        v = v[..., :h] + xi * (v[..., h:] - v[..., :h])
    return v.squeeze(2)


def _minterms(device):
    return torch.tensor([[(int(t) >> u) & 1 for u in range(4)] for t in GATE_TABLES],
                        dtype=torch.float32, device=device)


class Net(torch.nn.Module):
    def __init__(self, method, n_in, gates, n_layers, k, seed, device):
        super().__init__()
        self.method = method
        op = method.endswith("_op")
        if op and k != 2:
            raise ValueError("OP needs arity 2")
        g = torch.Generator().manual_seed(seed)
        self.idx = []
        params = []
        for layer in range(n_layers):
            n_prev = n_in if layer == 0 else gates
            self.idx.append(torch.randint(0, n_prev, (gates, k), generator=g).to(device))
            if op:  # residual init: pass-through gate A (difflogic id 3) at 5
                z = torch.zeros(gates, 16)
                z[:, 3] = 5.0
                params.append(z)
            else:   # residual init, sigmoid: pass-through of x_0, sigma 0.25, mu 3
                u = torch.arange(1 << k)
                bit = ((u >> (k - 1)) & 1).float() * 2 - 1
                params.append(0.25 * torch.randn(gates, 1 << k, generator=g) + 3.0 * bit)
        self.params = torch.nn.ParameterList([torch.nn.Parameter(p.to(device)) for p in params])
        self.minterms = _minterms(device) if op else None
        if method.startswith("triton"):
            from dlgn.frontend.triton_layer import logic_forward_triton
            self._triton = logic_forward_triton
        if method == "torch_iwp":
            from dlgn.frontend.functional import logic_forward_torch
            self._torch = logic_forward_torch

    def layer(self, x, idx, p):
        m = self.method
        if m == "eager_op":
            return layer_eager_op(x, idx, p)
        if m in ("eager_iwp", "compiled_iwp"):
            return layer_eager_iwp(x, idx, p)
        if m == "torch_iwp":
            return self._torch(x, idx, torch.sigmoid(p))
        if m == "triton_iwp":
            return self._triton(x, idx, torch.sigmoid(p))
        if m == "triton_iwp_bm":
            return self._triton(x, idx, torch.sigmoid(p), layout="as_is")
        if m == "triton_op":
            return self._triton(x, idx, torch.softmax(p, -1) @ self.minterms)
        raise ValueError(m)

    def forward(self, x):
        for idx, p in zip(self.idx, self.params):
            x = self.layer(x, idx, p)
        return x.reshape(x.shape[0], N_CLASSES, -1).sum(-1) / 10.0


# ---------------------------------------------------------------- measurement
class SavedBytes:
    """Bytes of distinct storages saved by autograd (CPU stand-in for peak activation memory)."""

    def __init__(self):
        self.ptrs = {}

    def pack(self, t):
        try:
            st = t.untyped_storage()
            self.ptrs[st.data_ptr()] = st.nbytes()
        except Exception:
            pass
        return t

    def __enter__(self):
        self.ctx = torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)
        self.ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self.ctx.__exit__(*exc)

    @property
    def total(self):
        return sum(self.ptrs.values())


def measure(net, fwd, x, labels, warmup, iters, cuda):
    """Mean forward ms, mean backward ms, peak bytes (GPU) or saved bytes (CPU)."""
    ft, bt, mem = [], [], 0
    for it in range(warmup + iters):
        for p in net.parameters():
            p.grad = None
        timed = it >= warmup
        if cuda:
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            e0, e1, e2 = (torch.cuda.Event(enable_timing=True) for _ in range(3))
            e0.record()
            loss = F.cross_entropy(fwd(x), labels)
            e1.record()
            loss.backward()
            e2.record()
            torch.cuda.synchronize()
            if timed:
                ft.append(e0.elapsed_time(e1))
                bt.append(e1.elapsed_time(e2))
                mem = max(mem, torch.cuda.max_memory_allocated() - base)
        else:
            saved = SavedBytes() if timed and not getattr(net, "compiled", False) else None
            t0 = time.perf_counter()
            if saved is not None:
                with saved:
                    loss = F.cross_entropy(fwd(x), labels)
            else:
                loss = F.cross_entropy(fwd(x), labels)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            if timed:
                ft.append(1e3 * (t1 - t0))
                bt.append(1e3 * (t2 - t1))
                mem = saved.total if saved is not None else float("nan")
    return sum(ft) / len(ft), sum(bt) / len(bt), mem


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpu", action="store_true", help="small sizes on the CPU")
    ap.add_argument("--gates", type=int, help="gates per layer (GPU 128000, CPU 2000)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--in-features", type=int, help="input bits (GPU 9216, CPU 784)")
    ap.add_argument("--arity", type=int, default=2)
    ap.add_argument("--depth-scales", type=int, nargs="+", default=[1, 5],
                    help="layers = 4 x scale")
    ap.add_argument("--warmup", type=int, help="warm-up steps (GPU 5, CPU 1)")
    ap.add_argument("--iters", type=int, help="timed steps (GPU 20, CPU 3)")
    ap.add_argument("--methods", default=None, help="comma-separated subset of " + ",".join(METHODS))
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (torch.compile on the "
                    "CPU gave wrong gradients with 2 threads, TOOLS.md)")
    args = ap.parse_args(argv)

    cuda = not args.cpu
    if cuda and not torch.cuda.is_available():
        ap.error("no CUDA device: use --cpu")
    device = "cuda" if cuda else "cpu"
    if not cuda:
        torch.set_num_threads(args.threads)
    gates = args.gates or (128_000 if cuda else 2000)
    n_in = args.in_features or (9216 if cuda else 784)
    warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    iters = args.iters or (20 if cuda else 3)
    interp = os.environ.get("TRITON_INTERPRET", "0") == "1"
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        bad = set(methods) - set(METHODS)
        if bad:
            ap.error(f"unknown methods {sorted(bad)}")
    else:
        methods = [m for m in METHODS if cuda or interp or not m.startswith("triton")]
    if args.arity != 2:
        methods = [m for m in methods if not m.endswith("_op")]
    if gates % N_CLASSES:
        ap.error(f"--gates must be a multiple of {N_CLASSES}")

    g = torch.Generator().manual_seed(1)
    x = torch.rand(args.batch, n_in, generator=g).to(device)
    labels = torch.randint(0, N_CLASSES, (args.batch,), generator=g).to(device)
    dev_name = torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} thread(s)"
    print(f"# {dev_name}; torch {torch.__version__}; gates/layer {gates}, batch {args.batch}, "
          f"inputs {n_in}, arity {args.arity}; warm-up {warmup}, timed {iters}"
          + ("; TRITON_INTERPRET=1" if interp else ""))
    mem_name = "peak MB" if cuda else "saved MB"
    print(f"{'method':<13} {'layers':>6} {'fwd ms':>9} {'bwd ms':>9} {'step ms':>9} "
          f"{mem_name:>9} {'step x':>7} {'mem /':>7} {'max|dy|':>9}")
    summary = {}
    for scale in args.depth_scales:
        n_layers = 4 * scale
        ref_out = None
        rows = {}
        for m in methods:
            try:
                net = Net(m, n_in, gates, n_layers, args.arity, seed=0, device=device)
                fwd = net
                if m == "compiled_iwp":
                    fwd = torch.compile(net)
                    net.compiled = True
                with torch.no_grad():
                    out = fwd(x).float()
                diff = ""
                if "_iwp" in m:
                    if ref_out is None:
                        ref_out = out
                    diff = f"{(out - ref_out).abs().max().item():.1e}"
                fms, bms, mem = measure(net, fwd, x, labels, warmup, iters, cuda)
            except Exception as e:  # report and go on: one failing method must not hide the rest
                print(f"{m:<13} {n_layers:>6}  failed: {type(e).__name__}: {str(e)[:120]}")
                continue
            finally:
                if cuda:
                    torch.cuda.empty_cache()
            rows[m] = (fms, bms, mem, diff)
        base = rows.get("eager_iwp")
        for m, (fms, bms, mem, diff) in rows.items():
            sx = f"{(base[0] + base[1]) / (fms + bms):.2f}" if base else "-"
            mr = f"{mem / base[2]:.3f}" if base and base[2] and not math.isnan(mem) else "-"
            print(f"{m:<13} {n_layers:>6} {fms:>9.2f} {bms:>9.2f} {fms + bms:>9.2f} "
                  f"{mem / 2**20:>9.1f} {sx:>7} {mr:>7} {diff:>9}", flush=True)
        summary[n_layers] = rows
    print("\n# targets (GPU): Triton IWP step >= 3x eager IWP, memory <= 1/4; "
          "IWP backward >= 1.86x faster than OP backward")
    for n_layers, rows in summary.items():
        e, o, t = rows.get("eager_iwp"), rows.get("eager_op"), rows.get("triton_iwp")
        parts = []
        if e and t:
            parts.append(f"triton/eager IWP step speed-up {(e[0] + e[1]) / (t[0] + t[1]):.2f}x, "
                         f"memory ratio {t[2] / e[2]:.3f}")
        if e and o:
            parts.append(f"eager OP bwd / eager IWP bwd {o[1] / e[1]:.2f}x")
        bm = rows.get("triton_iwp_bm")
        if bm and t:
            parts.append(f"triton batch-major / feature-major step time "
                         f"{(bm[0] + bm[1]) / (t[0] + t[1]):.2f}x")
        to, ti = rows.get("triton_op"), rows.get("triton_iwp")
        if to and ti:
            parts.append(f"triton OP bwd / triton IWP bwd {to[1] / ti[1]:.2f}x")
        if parts:
            print(f"# {n_layers} layers: " + "; ".join(parts))


if __name__ == "__main__":
    main()
