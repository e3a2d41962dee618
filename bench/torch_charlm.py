#!/usr/bin/env python3
"""PyTorch reference for `pnpm bench`: the same work as packages/rnn/bench/engine.ts.

Character language model, V = 65, Elman RNN (tanh) + Linear, PyTorch init (every tensor
U(-1/sqrt(H), 1/sqrt(H))), Adam lr 2e-3 (betas 0.9/0.999, eps 1e-8), cross-entropy with mean
reduction over the B*K positions of a window, clip_grad_norm_ 5, truncated BPTT k1 = k2 = K with
the hidden state detached between windows, B parallel streams over one synthetic corpus (stream b
covers positions [b*L, (b+1)*L), as in the engine's WindowSource). One optimizer step = one window
of B*K tokens.

Variants (--variants, comma list):
  onehot  the standard char-rnn PyTorch code: F.one_hot(ids, V).float() into nn.RNN(input_size=V)
  gather  no one-hot product: the input projection is an embedding lookup (nn.Embedding(V, H)
          plays W_ih^T, b_ih folded in), then the recurrence written step by step with
          torch.tanh(x_t + h @ W_hh^T + b_hh); the same arithmetic the engine does
--threads takes a comma list too (torch.set_num_threads for each run).

Prints one JSON object per (variant, threads) run on stdout:
  {"tokensPerSec", "msPerStep", "variant", "threads", "config", "finalLoss", "torch", ...}
Exits 3 with a message on stderr when torch is not importable.

  /usr/bin/python3 bench/torch_charlm.py --batch 32 --hidden 128 --window 64 --steps 50 \
      --warmup 10 --variants onehot,gather --threads 1,2
"""

import argparse
import json
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError as err:  # the runner turns exit 3 into "skipped: <message>"
    print(f"torch is not importable ({err}); install it with: apt-get install -y python3-torch libopenblas0-pthread", file=sys.stderr)
    sys.exit(3)

V = 65
LR = 2e-3
CLIP_NORM = 5.0


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=positive_int, default=32)
    p.add_argument("--hidden", type=positive_int, default=128)
    p.add_argument("--window", type=positive_int, default=64)
    p.add_argument("--steps", type=positive_int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--variants", default="onehot")
    p.add_argument("--threads", default="1")
    args = p.parse_args()
    args.variants = args.variants.split(",")
    for v in args.variants:
        if v not in ("onehot", "gather"):
            p.error(f"--variants: unknown variant {v!r} (onehot, gather)")
    args.threads = [positive_int(t) for t in args.threads.split(",")]
    return args


def synthetic_corpus(total, seed):
    """A random walk over the vocabulary (the engine bench's rule; the ids only need structure)."""
    g = torch.Generator().manual_seed(seed)
    jumps = torch.randint(1, 6, (total,), generator=g)
    return torch.remainder(torch.cumsum(jumps, 0), V).to(torch.long)


class OneHotCharRnn(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.rnn = nn.RNN(input_size=V, hidden_size=hidden, nonlinearity="tanh", batch_first=True)
        self.fc = nn.Linear(hidden, V)
        bound = 1 / hidden**0.5  # nn.Linear's default bound is 1/sqrt(fan_in) = the same
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, ids, h):  # ids (B, K), h (1, B, H)
        x = F.one_hot(ids, V).float()  # (B, K, V)
        hs, h = self.rnn(x, h)  # (B, K, H)
        return self.fc(hs), h  # (B, K, V)


class GatherCharRnn(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.embed = nn.Embedding(V, hidden)  # W_ih^T + b_ih: row v is W_ih[:, v] + b_ih
        self.w_hh = nn.Parameter(torch.empty(hidden, hidden))
        self.b_hh = nn.Parameter(torch.empty(hidden))
        self.fc = nn.Linear(hidden, V)
        bound = 1 / hidden**0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, ids, h):  # ids (B, K), h (1, B, H)
        x = self.embed(ids)  # (B, K, H)
        h = h[0]
        hs = []
        for t in range(ids.shape[1]):
            h = torch.tanh(torch.addmm(x[:, t] + self.b_hh, h, self.w_hh.t()))
            hs.append(h)
        hs = torch.stack(hs, 1)  # (B, K, H)
        return self.fc(hs), h.unsqueeze(0)


def loaded_blas():
    """The BLAS library actually mapped (Debian's torch links libblas.so.3, an alternatives link)."""
    import os
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line}
        return ",".join(sorted(os.path.realpath(p) for p in paths)) or "none mapped"
    except OSError:
        return "unknown"


def set_blas_threads(threads):
    """Debian's torch is built against the generic libblas.so.3 (BLAS_INFO=generic), so
    torch.set_num_threads does not reach OpenBLAS, whose pthread build would use every core:
    set OpenBLAS's own count too, so '1 thread' means one thread."""
    import ctypes
    import os
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libopenblas" in line}
    except OSError:
        return
    for path in paths:
        lib = ctypes.CDLL(os.path.realpath(path))
        if hasattr(lib, "openblas_set_num_threads"):
            lib.openblas_set_num_threads(threads)


def run(args, variant, threads):
    torch.set_num_threads(threads)
    set_blas_threads(threads)
    torch.manual_seed(args.seed)
    B, H, K = args.batch, args.hidden, args.window
    total = B * K * (args.steps + args.warmup + 1) + 1
    tokens = synthetic_corpus(total, args.seed)
    L = (total - 1) // B
    inputs = tokens[: B * L].view(B, L)  # stream b: positions [b*L, (b+1)*L)
    targets = tokens[1 : B * L + 1].view(B, L)

    model = OneHotCharRnn(H) if variant == "onehot" else GatherCharRnn(H)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8)
    h = torch.zeros(1, B, H)

    def step(i):
        nonlocal h
        x = inputs[:, i * K : (i + 1) * K]
        y = targets[:, i * K : (i + 1) * K]
        logits, h_next = model(x, h)
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))  # mean over B*K
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        opt.step()
        h = h_next.detach()  # truncated BPTT: the next window starts from a detached state
        return loss

    for i in range(args.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        loss = step(i)
    final_loss = loss.item()
    seconds = time.perf_counter() - t0
    return {
        "tokensPerSec": round(B * K * args.steps / seconds),
        "msPerStep": round(1000 * seconds / args.steps, 3),
        "variant": variant,
        "threads": threads,
        "config": {"batch": B, "hidden": H, "window": K, "vocab": V, "steps": args.steps, "warmup": args.warmup,
                   "optimizer": "adam", "lr": LR, "clipNorm": CLIP_NORM, "bptt": {"k1": K, "k2": K}, "dtype": "float32"},
        "finalLoss": round(final_loss, 4),
        "torch": torch.__version__,
        "blas": loaded_blas(),
    }


def main():
    args = parse_args()
    for variant in args.variants:
        for threads in args.threads:
            print(json.dumps(run(args, variant, threads)), flush=True)


if __name__ == "__main__":
    main()
