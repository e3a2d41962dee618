"""PyTorch reference for the engine's `grad` command (regenerates torch-reference.json).

    python3 packages/rnn/test/helpers/torch_reference.py > packages/rnn/test/helpers/torch-reference.json

torch.nn.RNN(I, H, nonlinearity, batch_first=True) + torch.nn.Linear(H, O) in float64, autograd
gradients of every parameter and of the window's starting hidden state. Weights and vector
inputs are float32-representable so the engine's F32 weight files carry them exactly.
Truncation as in the CLI: loss on the newest k1 steps, backprop through the last k2 steps, the
first T - k2 steps run under no_grad and their hidden state is detached.
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(1234)


def f32(t):
    return t.float().double()


def case(name, task, activation, input_kind, B, T, I, H, O, reduction, k1, k2, target_mode="many-to-many", with_mask=False):
    rnn = torch.nn.RNN(I, H, nonlinearity=activation, batch_first=True).double()
    fc = torch.nn.Linear(H, O).double()
    with torch.no_grad():
        for p in list(rnn.parameters()) + list(fc.parameters()):
            v = torch.randn_like(p) * 0.6
            if activation == "relu" and p.dim() == 1 and p.shape[0] == H:
                v = v.abs() + 0.1  # mostly-alive units, pre-activations away from the kink
            p.copy_(f32(v))
    if input_kind == "tokens":
        ids = torch.randint(0, I, (B, T))
        x = F.one_hot(ids, I).double()
        inputs = ids.tolist()
    else:
        x = f32(torch.randn(B, T, I))
        inputs = x.tolist()
    h0 = f32(torch.randn(1, B, H) * 0.5)
    if task == "regression":
        targets = f32(torch.randn(B, T, O)) if target_mode == "many-to-many" else f32(torch.randn(B, O))
    else:
        targets = torch.randint(0, O, (B, T)) if target_mode == "many-to-many" else torch.randint(0, O, (B,))
    mask = (torch.rand(B, T) > 0.3).long() if with_mask else None

    # forward-only prefix, detached
    with torch.no_grad():
        if T - k2 > 0:
            _, h_start = rnn(x[:, : T - k2], h0)
        else:
            h_start = h0.clone()
    h_start = h_start.detach().requires_grad_(True)
    out, h_T = rnn(x[:, T - k2 :], h_start)
    y = fc(out)  # (B, k2, O)
    steps = list(range(T - k1, T))  # absolute step indices carrying loss
    ys = y[:, k2 - k1 :]  # (B, k1, O)
    if target_mode == "many-to-one":
        assert k1 >= 1 and steps[-1] == T - 1
        y_last = ys[:, -1]
        if task == "regression":
            sq = (y_last - targets) ** 2
            loss = sq.sum() / sq.numel() if reduction == "mean" else sq.sum()
        else:
            loss = F.cross_entropy(y_last, targets, reduction=reduction)
    else:
        m = mask[:, T - k1 :] if mask is not None else torch.ones(B, k1, dtype=torch.long)
        if task == "regression":
            sq = ((ys - targets[:, T - k1 :]) ** 2) * m[..., None]
            loss = sq.sum() / (m.sum() * O) if reduction == "mean" else sq.sum()
        else:
            t = targets[:, T - k1 :].clone()
            t[m == 0] = -1
            loss = F.cross_entropy(ys.reshape(-1, O), t.reshape(-1), ignore_index=-1, reduction=reduction)
    params = {
        "rnn.weight_ih_l0": rnn.weight_ih_l0, "rnn.weight_hh_l0": rnn.weight_hh_l0,
        "rnn.bias_ih_l0": rnn.bias_ih_l0, "rnn.bias_hh_l0": rnn.bias_hh_l0,
        "fc.weight": fc.weight, "fc.bias": fc.bias,
    }
    loss.backward()
    batch = {"inputs": inputs, "targets": targets.tolist(), "h0": h0[0].tolist()}
    if mask is not None:
        batch["mask"] = mask.tolist()
    return {
        "name": name,
        "task": task,
        "activation": activation,
        "inputKind": input_kind,
        "reduction": reduction,
        "k1": k1,
        "k2": k2,
        "weights": {k: {"shape": list(v.shape), "data": v.detach().reshape(-1).tolist()} for k, v in params.items()},
        "batch": batch,
        "expected": {
            "loss": loss.item(),
            "hidden": h_T[0].detach().reshape(-1).tolist(),
            "grads": {k: v.grad.reshape(-1).tolist() for k, v in params.items()},
            "gradH0": h_start.grad[0].reshape(-1).tolist(),
        },
    }


cases = [
    case("LM tokens tanh, full BPTT, mean CE", "lm", "tanh", "tokens", B=2, T=5, I=6, H=4, O=6, reduction="mean", k1=5, k2=5),
    case("LM tokens relu, TBPTT k1=2 k2=4 of T=6, sum CE", "lm", "relu", "tokens", B=2, T=6, I=5, H=4, O=5, reduction="sum", k1=2, k2=4),
    case("regression vectors tanh, masked many-to-many, mean MSE", "regression", "tanh", "vectors", B=3, T=4, I=3, H=5, O=2, reduction="mean", k1=4, k2=4, with_mask=True),
    case("regression vectors relu, many-to-one, mean MSE", "regression", "relu", "vectors", B=2, T=5, I=3, H=4, O=2, reduction="mean", k1=5, k2=5, target_mode="many-to-one"),
    case("classification vectors tanh, many-to-one, mean CE", "classification", "tanh", "vectors", B=3, T=4, I=2, H=4, O=3, reduction="mean", k1=4, k2=4, target_mode="many-to-one"),
    case("classification tokens tanh, masked many-to-many, TBPTT k1=3 k2=5 of T=7, mean CE", "classification", "tanh", "tokens", B=2, T=7, I=4, H=3, O=3, reduction="mean", k1=3, k2=5, with_mask=True),
]
print(json.dumps({"generator": "packages/rnn/test/helpers/torch_reference.py", "torch": torch.__version__, "cases": cases}))
