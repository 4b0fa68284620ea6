#!/usr/bin/env python3
"""The same-budget reference run: flow's pretraining against the reference modules in a plain
PyTorch loop, on the same crops and masks, with the same schedules; both teachers scored by the
same `flow op eval-knn`. Run by reference/same-budget.sh (see docs/pretraining.md).

  same_budget.py --flow FLOW --work DIR --seed S [--steps-log]

DIR must hold the synth-images splits pool/, train/ and val/ of bench/train-accuracy.sh. The
flow run is `flow op pretrain --data pool --epochs 3` with the default recipe (750 steps of 32
images), started from `init-vit --layerscale 1 --seed S`, dumping every step's crops and masks
(--dump-inputs). The reference loop replays them: SSLMetaArch.forward_backward's assembly of the
DINO, iBOT and KoLeo terms (Sinkhorn-Knopp, teacher temperature 0.02), clipping each module to 3,
AdamW over the package's own parameter groups with its CosineScheduler schedules (warmup 10 %,
last layer frozen 1 %, weight decay 0.04 -> 0.2, momentum 0.99 -> 1), the EMA teacher. The head
is the reference's own DINOHead initialisation, or with --flow-side flow's initial head, with its
weight-norm g frozen at 1, as flow's default. Prints one JSON line with both k-NN results.
"""
import argparse
import glob
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
import check  # noqa: E402  (reference_vit, load_by_path)
from dinov2.layers import DINOHead  # noqa: E402
from dinov2.loss import DINOLoss, KoLeoLoss, iBOTPatchLoss  # noqa: E402
from dinov2.utils.utils import CosineScheduler  # noqa: E402


def run(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def knn(flow, work, model):
    out = model + ".knn.json"
    run(flow, "op", "eval-knn", "--model", model, "--train", f"{work}/train", "--val", f"{work}/val",
        "--k", "10,20", "--threads", "2", "--out", out)
    with open(out) as f:
        return {str(r["k"]): r["top1"] for r in json.load(f)["results"]}


def reference_loop(init_path, inputs, steps, seed, log=None, head_path=None):
    if not torch.distributed.is_initialized():   # iBOT's Sinkhorn-Knopp all-reduces: one process
        import tempfile
        store = tempfile.NamedTemporaryFile(delete=False)
        torch.distributed.init_process_group("gloo", init_method=f"file://{store.name}", rank=0, world_size=1)
    torch.manual_seed(seed)
    with safe_open(init_path, "pt") as f:
        meta = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}
    K, B = 64, 32
    student = torch.nn.ModuleDict({"backbone": check.reference_vit(meta),
                                   "dino_head": DINOHead(in_dim=int(meta["dim"]), out_dim=K, hidden_dim=256,
                                                         bottleneck_dim=64, nlayers=3)})
    student["backbone"].load_state_dict(state, strict=True)
    if head_path:   # flow's own initial head, so that both runs start from the same weights
        with safe_open(head_path, "pt") as f:
            head = {k: f.get_tensor(k) for k in f.keys()}
        own = student["dino_head"].state_dict()
        student["dino_head"].load_state_dict({k: v.reshape(own[k].shape) for k, v in head.items()}, strict=True)
    student["dino_head"].last_layer.weight_g.requires_grad_(False)
    teacher = torch.nn.ModuleDict({"backbone": check.reference_vit(meta),
                                   "dino_head": DINOHead(in_dim=int(meta["dim"]), out_dim=K, hidden_dim=256,
                                                         bottleneck_dim=64, nlayers=3)})
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad_(False)
    student.train()
    teacher.eval()
    peak = 0.005 * math.sqrt(B / 1024)
    # flow rounds a fraction of the run to the nearest step, halves up: 75 warmup, 8 frozen
    freeze, warmup = int(math.floor(0.01 * steps + 0.5)), int(math.floor(0.1 * steps + 0.5))
    lr = CosineScheduler(peak, 1e-6, steps, warmup_iters=warmup)
    last = CosineScheduler(peak, 1e-6, steps, warmup_iters=warmup)
    last.schedule[:freeze] = 0
    wd = CosineScheduler(0.04, 0.2, steps)
    momentum = CosineScheduler(0.99, 1.0, steps)
    param_groups = check.load_by_path("dinov2_param_groups", "utils/param_groups.py")
    groups = []
    for module in ("backbone", "dino_head"):
        for g in param_groups.get_params_groups_with_decay(student[module], lr_decay_rate=1.0, patch_embed_lr_mult=0.2):
            groups.append({"params": [g["params"]], "lr": 0.0, "weight_decay": 0.0, "lr_multiplier": g["lr_multiplier"],
                           "wd_multiplier": g["wd_multiplier"], "is_last_layer": g["is_last_layer"]})
    optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.999), eps=1e-8)
    dino_loss, ibot_loss, koleo_loss = DINOLoss(K), iBOTPatchLoss(K), KoLeoLoss()
    for it in range(steps):
        d = f"{inputs}/step-{it + 1}"
        g_crops = torch.from_numpy(np.load(f"{d}/globals.npy"))
        l_crops = torch.from_numpy(np.load(f"{d}/locals.npy"))
        masks = torch.from_numpy(np.load(f"{d}/masks.npy").astype(bool))
        n_local = l_crops.shape[0] // B
        index = masks.flatten().nonzero().flatten()
        m = len(index)
        weight = (1 / masks.sum(-1).clamp(min=1.0)).unsqueeze(-1).expand_as(masks)[masks]
        temp = 0.02
        with torch.no_grad():
            out = teacher["backbone"].forward_features(g_crops)
            cls = out["x_norm_clstoken"].chunk(2)
            cls = torch.cat((cls[1], cls[0]))
            patches = torch.index_select(out["x_norm_patchtokens"].flatten(0, 1), 0, index)
            after = teacher["dino_head"](torch.cat((cls, patches)))
            t_dino = dino_loss.sinkhorn_knopp_teacher(after[:2 * B], teacher_temp=temp).view(2, B, K)
            t_ibot = ibot_loss.sinkhorn_knopp_teacher(after[2 * B:], teacher_temp=temp,
                                                      n_masked_patches_tensor=torch.tensor([m]))
        s_global = student["backbone"].forward_features(g_crops, masks=masks)
        s_local = student["backbone"].forward_features(l_crops)
        s_patches = torch.index_select(s_global["x_norm_patchtokens"].flatten(0, 1), 0, index)
        s_out = student["dino_head"](torch.cat((s_local["x_norm_clstoken"], s_global["x_norm_clstoken"], s_patches)))
        s_loc, s_glob, s_pat = s_out[:n_local * B], s_out[n_local * B:(n_local + 2) * B], s_out[(n_local + 2) * B:]
        terms = 2 + 2 * n_local
        dino = (dino_loss(student_output_list=s_loc.chunk(n_local), teacher_out_softmaxed_centered_list=t_dino) / terms
                + dino_loss(student_output_list=[s_glob], teacher_out_softmaxed_centered_list=[t_dino.flatten(0, 1)]) * 2 / terms)
        koleo = 0.1 * sum(koleo_loss(p) for p in s_global["x_norm_clstoken"].chunk(2))
        ibot = ibot_loss.forward_masked(s_pat, t_ibot, student_masks_flat=masks, n_masked_patches=m,
                                        masks_weight=weight) * 2 * 0.5
        optimizer.zero_grad(set_to_none=True)
        (dino + ibot + koleo).backward()
        for module in ("backbone", "dino_head"):
            torch.nn.utils.clip_grad_norm_([p for p in student[module].parameters() if p.requires_grad], 3.0)
        for g in optimizer.param_groups:
            g["lr"] = (last[it] if g["is_last_layer"] else lr[it]) * g["lr_multiplier"]
            g["weight_decay"] = wd[it] * g["wd_multiplier"]
        optimizer.step()
        with torch.no_grad():
            mom = momentum[it]
            for ps, pt in zip(student.parameters(), teacher.parameters()):
                pt.mul_(mom).add_(ps.detach(), alpha=1 - mom)
        if log is not None:
            log.write(json.dumps({"step": it + 1, "dino": dino.item(), "ibot": ibot.item(), "koleo": koleo.item(),
                                  "lr": lr[it]}) + "\n")
    return teacher["backbone"], meta


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flow", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--flow-side", help="reference/build.sh's binary: start the reference loop from flow's initial head")
    a = p.parse_args()
    torch.set_num_threads(1)   # 2 threads on 2 shared cores ran 20-30x slower than 1
    w, s = a.work, a.seed
    init = f"{w}/same-init-{s}.safetensors"
    run(a.flow, "op", "init-vit", "--arch", "vit-test", "--patch", "4", "--image-size", "32", "--layerscale", "1",
        "--seed", s, "--out", init)
    inputs = f"{w}/same-inputs-{s}"
    steps = 750
    run(a.flow, "op", "pretrain", "--data", f"{w}/pool", "--epochs", "3", "--init", init, "--seed", s, "--threads", "2",
        "--dump-inputs", inputs, "--dump-steps", ",".join(str(i) for i in range(1, steps + 1)),
        "--model-out", f"{w}/same-flow-{s}.safetensors", "--state-out", f"{w}/same-flow-state-{s}.safetensors",
        "--log", f"{w}/same-flow-{s}.jsonl")
    assert len(glob.glob(f"{inputs}/step-*")) == steps, "the flow run did not dump every step"
    head = None
    if a.flow_side:
        head = f"{w}/same-head-{s}.safetensors"
        run(a.flow_side, "head-init", 32, 256, 64, 64, s, head)
    with open(f"{w}/same-ref-{s}.jsonl", "w") as log:
        backbone, meta = reference_loop(init, inputs, steps, s, log, head)
    ref_path = f"{w}/same-ref-{s}.safetensors"
    save_file({k: v.contiguous() for k, v in backbone.state_dict().items()}, ref_path, metadata=meta)
    result = {"seed": s, "same_head_init": head is not None, "flow": knn(a.flow, w, f"{w}/same-flow-{s}.safetensors"), "reference": knn(a.flow, w, ref_path),
              "init": knn(a.flow, w, init)}
    print(json.dumps(result), flush=True)
    for d in glob.glob(f"{inputs}/step-*"):
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)


if __name__ == "__main__":
    main()
