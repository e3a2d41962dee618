#!/usr/bin/python3
"""Reference numbers for the leaf modules of @unroll/rnn, computed with real PyTorch.

Run with Debian's torch (apt-get install -y python3-torch):
    /usr/bin/python3 packages/rnn/test/reference/torch_reference.py > packages/rnn/test/reference/torch-reference.json
The tests read the JSON; they never need torch.

Covers: every optimizer (several steps, with the learning rate changed mid-run the way a
scheduler does), clip_grad_norm_, StepLR / CosineAnnealingLR, orthogonal_'s sign-corrected QR,
and an independent Python xoshiro128**/splitmix32 for the PRNG stream.
"""
import json
import math
import sys

import torch

torch.set_default_dtype(torch.float64)

P0 = [0.5, -1.2, 0.3, 2.0, -0.7, 0.0]
# Gradients per step: mixed signs, shrinking magnitude late (so amsgrad's max matters),
# one coordinate that is zero for a while (Adagrad/RMSprop denominators near eps).
GRADS = [
    [0.3, -0.8, 0.05, 1.5, -0.2, 0.0],
    [-0.1, -0.6, 0.02, 1.1, 0.4, 0.0],
    [0.25, 0.3, -0.01, 0.7, -0.5, 0.3],
    [0.05, 0.1, 0.0, -0.2, 0.1, -0.1],
    [-0.02, 0.05, 0.01, 0.1, -0.05, 0.02],
]


def lr_at(base, t):
    # the learning rate passed to step t (0-based): halved from step 3 on
    return base if t < 3 else base * 0.5


def run(name, kwargs, dtype):
    p = torch.tensor(P0, dtype=dtype, requires_grad=True)
    cls = {
        'sgd': torch.optim.SGD,
        'adam': torch.optim.Adam,
        'adamw': torch.optim.AdamW,
        'adagrad': torch.optim.Adagrad,
        'rmsprop': torch.optim.RMSprop,
    }[name]
    opt = cls([p], **kwargs)
    base = opt.param_groups[0]['lr']
    traj = []
    for t, g in enumerate(GRADS):
        opt.param_groups[0]['lr'] = lr_at(base, t)
        p.grad = torch.tensor(g, dtype=dtype)
        opt.step()
        traj.append(p.detach().tolist())
    state = {k: v.tolist() for k, v in opt.state[p].items() if k != 'step' and torch.is_tensor(v) and v.numel() == len(P0)}
    return {'baseLr': base, 'params': traj, 'state': state}


# (our spec, torch kwargs)
OPTIMIZERS = [
    ({'name': 'sgd', 'lr': 0.1}, ('sgd', {'lr': 0.1})),
    ({'name': 'sgd', 'lr': 0.1, 'momentum': 0.9}, ('sgd', {'lr': 0.1, 'momentum': 0.9})),
    ({'name': 'sgd', 'lr': 0.1, 'momentum': 0.9, 'dampening': 0.1, 'weightDecay': 0.01},
     ('sgd', {'lr': 0.1, 'momentum': 0.9, 'dampening': 0.1, 'weight_decay': 0.01})),
    ({'name': 'sgd', 'lr': 0.05, 'momentum': 0.8, 'nesterov': True, 'weightDecay': 0.05},
     ('sgd', {'lr': 0.05, 'momentum': 0.8, 'nesterov': True, 'weight_decay': 0.05})),
    ({'name': 'adam'}, ('adam', {})),
    ({'name': 'adam', 'lr': 0.01, 'weightDecay': 0.1}, ('adam', {'lr': 0.01, 'weight_decay': 0.1})),
    ({'name': 'adam', 'lr': 0.01, 'amsgrad': True}, ('adam', {'lr': 0.01, 'amsgrad': True})),
    ({'name': 'adam', 'lr': 0.02, 'beta1': 0.8, 'beta2': 0.9, 'eps': 1e-6, 'weightDecay': 0.01, 'amsgrad': True},
     ('adam', {'lr': 0.02, 'betas': (0.8, 0.9), 'eps': 1e-6, 'weight_decay': 0.01, 'amsgrad': True})),
    ({'name': 'adamw', 'lr': 0.01}, ('adamw', {'lr': 0.01})),
    ({'name': 'adamw', 'lr': 0.01, 'weightDecay': 0.1, 'amsgrad': True}, ('adamw', {'lr': 0.01, 'weight_decay': 0.1, 'amsgrad': True})),
    ({'name': 'adagrad'}, ('adagrad', {})),
    ({'name': 'adagrad', 'lr': 0.1, 'lrDecay': 0.1, 'weightDecay': 0.05, 'initialAccumulatorValue': 0.2, 'eps': 1e-6},
     ('adagrad', {'lr': 0.1, 'lr_decay': 0.1, 'weight_decay': 0.05, 'initial_accumulator_value': 0.2, 'eps': 1e-6})),
    ({'name': 'rmsprop'}, ('rmsprop', {})),
    ({'name': 'rmsprop', 'lr': 0.01, 'momentum': 0.9}, ('rmsprop', {'lr': 0.01, 'momentum': 0.9})),
    ({'name': 'rmsprop', 'lr': 0.01, 'centered': True}, ('rmsprop', {'lr': 0.01, 'centered': True})),
    ({'name': 'rmsprop', 'lr': 0.01, 'alpha': 0.9, 'momentum': 0.5, 'centered': True, 'weightDecay': 0.1},
     ('rmsprop', {'lr': 0.01, 'alpha': 0.9, 'momentum': 0.5, 'centered': True, 'weight_decay': 0.1})),
]


def optimizer_cases():
    cases = []
    for spec, (name, kwargs) in OPTIMIZERS:
        cases.append({
            'spec': spec,
            'float64': run(name, kwargs, torch.float64),
            'float32': run(name, kwargs, torch.float32),
        })
    return cases


def clip_cases():
    out = []
    for grads, max_norm in [
        ([3.0, -4.0, 0.0, 12.0], 1.0),      # norm 13: clipped
        ([0.1, -0.2, 0.05], 5.0),           # small: untouched
        ([0.6, 0.8], 1.0),                  # norm exactly 1: coef = 1/(1+1e-6) < 1 -> scaled
        ([1e-3] * 10, 0.5),
    ]:
        g = torch.tensor(grads)
        p = torch.zeros_like(g, requires_grad=True)
        p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_([p], max_norm)
        out.append({'grads': grads, 'maxNorm': max_norm, 'totalNorm': float(total), 'clipped': p.grad.tolist()})
    return out


def schedule_cases():
    out = []
    for spec, make in [
        ({'kind': 'step', 'stepSize': 3, 'gamma': 0.5}, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
        ({'kind': 'step', 'stepSize': 1, 'gamma': 0.9}, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.9)),
        ({'kind': 'cosine', 'tMax': 5, 'etaMin': 0.001}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.001)),
        ({'kind': 'cosine', 'tMax': 8}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=8)),
    ]:
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=0.1)
        sched = make(opt)
        epochs = spec.get('tMax', 10) + 1 if spec['kind'] == 'cosine' else 10
        lrs = []
        for _ in range(epochs):
            lrs.append(opt.param_groups[0]['lr'])
            opt.step()
            sched.step()
        out.append({'spec': spec, 'baseLr': 0.1, 'lrs': lrs})
    return out


def orthogonal_cases():
    out = []
    g = torch.Generator().manual_seed(1234)
    for n in [1, 3, 6]:
        a = torch.randn(n, n, generator=g)
        # torch.nn.init.orthogonal_ after drawing `a`: QR, then q *= sign(diag(r))
        q, r = torch.linalg.qr(a)
        q = q * torch.diag(r, 0).sign()
        out.append({'n': n, 'a': a.flatten().tolist(), 'q': q.flatten().tolist()})
    return out


# --- independent xoshiro128** / splitmix32 (mirrors src/prng.ts) ---
M32 = 0xFFFFFFFF


def splitmix32(state):
    state = (state + 0x9E3779B9) & M32
    z = state
    z = ((z ^ (z >> 16)) * 0x21F0AAAD) & M32
    z = ((z ^ (z >> 15)) * 0x735A2D97) & M32
    z ^= z >> 15
    return state, z


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Xoshiro:
    def __init__(self, words):
        self.s = list(words)

    @staticmethod
    def seeded(seed):
        lo = seed & M32
        hi = (seed >> 32) & M32  # floor division for negatives wraps like JS >>> 0
        sm = (lo ^ ((hi * 0x85EBCA6B) & M32)) & M32
        words = []
        for _ in range(4):
            sm, out = splitmix32(sm)
            words.append(out)
        if words == [0, 0, 0, 0]:
            words[0] = 1
        return Xoshiro(words)

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 11)
        return result

    def next_float(self):
        a = self.next() >> 5
        b = self.next() >> 6
        return (a * 67108864 + b) / 9007199254740992.0


def prng_cases():
    raw = Xoshiro([1, 2, 3, 4])
    cases = {'state1234': [raw.next() for _ in range(8)], 'seeds': []}
    for seed in [0, 1, 42, 2**32 + 5, -1, 2**53 - 1]:
        x = Xoshiro.seeded(seed)
        initial = list(x.s)
        uints = [x.next() for _ in range(6)]
        floats = [x.next_float() for _ in range(4)]
        cases['seeds'].append({'seed': seed, 'state': initial, 'uint32': uints, 'floats': floats})
    return cases


json.dump({
    'torchVersion': torch.__version__,
    'P0': P0,
    'grads': GRADS,
    'lrHalvedFromStep': 3,
    'optimizers': optimizer_cases(),
    'clip': clip_cases(),
    'schedules': schedule_cases(),
    'orthogonal': orthogonal_cases(),
    'prng': prng_cases(),
}, sys.stdout, indent=1)
sys.stdout.write('\n')
