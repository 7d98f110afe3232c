"""PyTorch side of the training-speed comparison: builds the network of a model description
(models/*.toml) layer by layer, exactly as the Rust trainer does, and times STEPS training steps
(forward, CenterNet focal + L1 losses, backward, AdamW) on one fixed batch.

Usage: .venv/bin/python benches/train_speed.py [--model models/terminal.toml] [--steps 30]
       [--batch 32] [--device cpu|cuda]    Prints one JSON line.
"""
import argparse, json, math, time, tomllib
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, desc):
        super().__init__()
        self.desc = desc
        c0, h0, w0 = desc["input"]
        shapes, self.ops, self.ins = {}, [], []
        self.mods = nn.ModuleDict()
        prev = "input"
        shapes["input"] = (c0, h0, w0)
        for l in desc["layers"]:
            name, op = l["name"], l["op"]
            ins = l.get("inputs", [prev])
            c, h, w = shapes[ins[0]]
            if op == "conv":
                k = l["kernel"]; kh, kw = (k, k) if isinstance(k, int) else k
                s, p, d, g = l.get("stride", 1), l.get("padding", 0), l.get("dilation", 1), l.get("groups", 1)
                self.mods[name] = nn.Conv2d(c, l["out_channels"], (kh, kw), s, p, d, g, l.get("bias", True))
                nn.init.kaiming_uniform_(self.mods[name].weight, nonlinearity="relu")
                out = (l["out_channels"], (h + 2 * p - d * (kh - 1) - 1) // s + 1, (w + 2 * p - d * (kw - 1) - 1) // s + 1)
            elif op == "bn":
                self.mods[name] = nn.BatchNorm2d(c); out = (c, h, w)
            elif op == "linear":
                self.mods[name] = nn.Linear(c * h * w, l["out_features"], l.get("bias", True)); out = (l["out_features"], 1, 1)
            elif op in ("maxpool", "avgpool"):
                k, s, p = l["kernel"], l.get("stride", l["kernel"]), l.get("padding", 0)
                out = (c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
            elif op == "upsample":
                out = (c, h * l["scale"], w * l["scale"])
            elif op == "concat":
                out = (sum(shapes[i][0] for i in ins), h, w)
            elif op == "gap":
                out = (c, 1, 1)
            elif op == "flatten":
                out = (c * h * w, 1, 1)
            else:
                out = (c, h, w)
            shapes[name] = out
            self.ops.append((name, op, ins, l))
            prev = name
        self.heads = desc["outputs"]
        nn.init.constant_(self.mods[self.heads[0]].bias, -2.19)

    def forward(self, x):
        vals = {"input": x}
        for name, op, ins, l in self.ops:
            a = vals[ins[0]]
            if op in ("conv", "bn"):
                y = self.mods[name](a)
            elif op == "linear":
                y = self.mods[name](a.flatten(1))
            elif op == "relu":
                y = F.relu(a)
            elif op == "maxpool":
                y = F.max_pool2d(a, l["kernel"], l.get("stride", l["kernel"]), l.get("padding", 0))
            elif op == "avgpool":
                y = F.avg_pool2d(a, l["kernel"], l.get("stride", l["kernel"]), l.get("padding", 0))
            elif op == "gap":
                y = F.adaptive_avg_pool2d(a, 1)
            elif op == "add":
                y = a + vals[ins[1]]
            elif op == "upsample":
                y = F.interpolate(a, scale_factor=l["scale"], mode="nearest")
            elif op == "concat":
                y = torch.cat([vals[i] for i in ins], 1)
            elif op == "flatten":
                y = a.flatten(1)
            vals[name] = y
        return [vals[h] for h in self.heads]


def focal(logits, gt):
    pred = logits.sigmoid().clamp(1e-4, 1 - 1e-4)
    pos = (gt >= 1 - 1e-6).float()
    neg_w = (1 - gt) ** 4
    pos_loss = (pred.log() * (1 - pred) ** 2 * pos).sum()
    neg_loss = ((1 - pred).log() * pred ** 2 * neg_w * (1 - pos)).sum()
    return -(pos_loss + neg_loss) / pos.sum().clamp(min=1)


def reg_l1(m, ind, mask, target):
    b, c = m.shape[:2]
    pred = m.view(b, c, -1).gather(2, ind.unsqueeze(1).expand(b, c, ind.shape[1])).permute(0, 2, 1)
    mk = mask.unsqueeze(2)
    return ((pred - target).abs() * mk).sum() / (mk.sum() * 2 + 1e-4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/terminal.toml")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    with open(a.model, "rb") as f:
        desc = tomllib.load(f)
    dev = torch.device(a.device)
    net = Net(desc).to(dev).train()
    c, h, w = desc["input"]
    x = torch.rand(a.batch, c, h, w, device=dev)
    hm_c = net.mods[net.heads[0]].out_channels
    gh, gw = h // 4, w // 4
    k = 64  # MAX_OBJECTS of the Rust trainer
    gt = torch.rand(a.batch, hm_c, gh, gw, device=dev) ** 8
    ind = torch.randint(0, gh * gw, (a.batch, k), device=dev)
    gt.view(a.batch, hm_c, -1)[:, 0].scatter_(1, ind[:, :5], 1.0)
    mask = torch.zeros(a.batch, k, device=dev); mask[:, :5] = 1
    wh, off = torch.rand(a.batch, k, 2, device=dev) * 8, torch.rand(a.batch, k, 2, device=dev)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)

    def step():
        hm, whp, offp = net(x)
        loss = focal(hm, gt) + 0.1 * reg_l1(whp, ind, mask, wh) + reg_l1(offp, ind, mask, off)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(min(10, max(2, a.steps // 5))):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    s = time.perf_counter() - t
    print(json.dumps({"impl_": "pytorch", "model": desc["name"],
                      "params": sum(p.numel() for p in net.parameters()), "batch": a.batch,
                      "steps": a.steps, "device": a.device, "threads": torch.get_num_threads(),
                      "ms_per_step": s * 1e3 / a.steps, "frames_per_s": a.steps * a.batch / s}))


if __name__ == "__main__":
    main()
