#!/usr/bin/env python3
"""NumPy reference for flow's DINOv2 losses, written after the PyTorch code, not after flow's.

Follows dinov2/loss/dino_clstoken_loss.py, ibot_patch_loss.py, koleo_loss.py and the loss
assembly in dinov2/train/ssl_meta_arch.py (teacher global crops swapped, locals chunked, the
global term scaled by 2, both divided by n_global_terms + n_local_terms; iBOT's forward_masked
scaled by 2 * 1/2; KoLeo weight 0.1 summed over the two global chunks). float64 throughout.

Usage: losses_reference.py DIR TEACHER_TEMP
Reads from DIR: dino_student.npy [crops*B, K], dino_teacher.npy [2B, K] (teacher logits),
center.npy [K], ibot_student.npy [M, K], ibot_teacher.npy [M, K], ibot_center.npy [K],
masks.npy [2B, N] bool, koleo.npy [2B, D].
Writes to DIR: results.npy [dino_centering, dino_sinkhorn, ibot_centering, ibot_sinkhorn, koleo],
dino_sk_targets.npy, dino_centered_targets.npy, center_after.npy, ibot_center_after.npy.
"""
import os
import sys

import numpy as np

STUDENT_TEMP = 0.1
CENTER_MOMENTUM = 0.9


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def softmax(x):
    return np.exp(log_softmax(x))


def sinkhorn_knopp_teacher(teacher_output, teacher_temp, n_iterations=3):
    x = teacher_output / teacher_temp
    Q = np.exp(x - x.max()).T  # K x B (global max shift; cancels below)
    B = Q.shape[1]
    K = Q.shape[0]
    Q /= Q.sum()
    for _ in range(n_iterations):
        Q /= Q.sum(axis=1, keepdims=True)
        Q /= K
        Q /= Q.sum(axis=0, keepdims=True)
        Q /= B
    Q *= B
    return Q.T


def softmax_center_teacher(teacher_output, center, teacher_temp):
    return softmax((teacher_output - center) / teacher_temp)


def updated_center(teacher_output, center):
    batch_center = teacher_output.sum(axis=0) / len(teacher_output)
    return center * CENTER_MOMENTUM + batch_center * (1 - CENTER_MOMENTUM)


def dino_loss(student_output_list, teacher_list):
    total = 0.0
    for s in student_output_list:
        lsm = log_softmax(s / STUDENT_TEMP)
        for t in teacher_list:
            total -= (t * lsm).sum(axis=-1).mean()
    return total


def dino_assembled(student, teacher_targets, batch):
    """ssl_meta_arch: 2 global crops, the rest local."""
    n_global = 2
    crops = student.shape[0] // batch
    n_local = crops - n_global
    t = teacher_targets.reshape(n_global, batch, -1)
    t = np.concatenate([t[1], t[0]]).reshape(n_global, batch, -1)  # teacher crops swapped
    n_terms = (n_global - 1) * n_global + max(n_local * n_global, 0)
    loss = 0.0
    if n_local > 0:
        locals_ = np.split(student[n_global * batch:], n_local)
        loss += dino_loss(locals_, list(t)) / n_terms
    loss += dino_loss([student[: n_global * batch]], [t.reshape(n_global * batch, -1)]) * 2 / n_terms
    return loss


def ibot_forward_masked(student_masked, teacher_masked, masks):
    loss = (teacher_masked * log_softmax(student_masked / STUDENT_TEMP)).sum(axis=-1)
    counts = np.maximum(masks.sum(-1), 1.0)
    weights = np.broadcast_to((1 / counts)[:, None], masks.shape)[masks]
    return -(loss * weights).sum() / masks.shape[0] * 2 * 0.5


def koleo(x, eps=1e-8):
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)
    dots = x @ x.T
    np.fill_diagonal(dots, -1)
    nn = dots.argmax(axis=1)
    d = np.linalg.norm(x - x[nn] + eps, axis=-1)  # nn.PairwiseDistance adds eps to the difference
    return -np.log(d + eps).mean()


def main():
    d, temp = sys.argv[1], float(sys.argv[2])
    load = lambda name: np.load(os.path.join(d, name)).astype(np.float64)
    student, teacher, center = load("dino_student.npy"), load("dino_teacher.npy"), load("center.npy")
    masks = np.load(os.path.join(d, "masks.npy")).astype(bool)
    ib_s, ib_t, ib_c = load("ibot_student.npy"), load("ibot_teacher.npy"), load("ibot_center.npy")
    batch = teacher.shape[0] // 2

    centered = softmax_center_teacher(teacher, center, temp)
    sk = sinkhorn_knopp_teacher(teacher, temp)
    ib_centered = softmax_center_teacher(ib_t, ib_c, temp)
    ib_sk = sinkhorn_knopp_teacher(ib_t, temp)
    cls = load("koleo.npy")
    results = [
        dino_assembled(student, centered, batch),
        dino_assembled(student, sk, batch),
        ibot_forward_masked(ib_s, ib_centered, masks),
        ibot_forward_masked(ib_s, ib_sk, masks),
        0.1 * sum(koleo(c) for c in np.split(cls, 2)),
    ]
    np.save(os.path.join(d, "results.npy"), np.array(results, dtype=np.float32))
    np.save(os.path.join(d, "dino_sk_targets.npy"), sk.astype(np.float32))
    np.save(os.path.join(d, "dino_centered_targets.npy"), centered.astype(np.float32))
    np.save(os.path.join(d, "center_after.npy"), updated_center(teacher, center).astype(np.float32))
    np.save(os.path.join(d, "ibot_center_after.npy"), updated_center(ib_t, ib_c).astype(np.float32))


if __name__ == "__main__":
    main()
