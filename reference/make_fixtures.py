#!/usr/bin/env python3
"""Writes the small reference fixtures that `make test` checks without Python, from the
reference dinov2 modules (run with the reference-check virtualenv):

  .venv-ref/bin/python reference/make_fixtures.py

Tests/FlowModelsTests/Fixtures/sinkhorn_logits.npy   float32 [8, 16], teacher logits
Tests/FlowModelsTests/Fixtures/sinkhorn_targets.npy  float32 [8, 16], DINOLoss.sinkhorn_knopp_teacher
                                                     at temperature 0.1, 3 iterations
The logits are peaked enough that 2 iterations differ from 3 by far more than the test's
tolerance (printed).
"""
import os

import numpy as np
import torch
from dinov2.loss import DINOLoss

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "FlowModelsTests", "Fixtures")

rng = np.random.default_rng(18)
logits = (0.4 * rng.standard_normal((8, 16))).astype(np.float32)
loss = DINOLoss(16)
t3 = loss.sinkhorn_knopp_teacher(torch.from_numpy(logits), teacher_temp=0.1, n_iterations=3).numpy()
t2 = loss.sinkhorn_knopp_teacher(torch.from_numpy(logits), teacher_temp=0.1, n_iterations=2).numpy()
np.save(os.path.join(OUT, "sinkhorn_logits.npy"), logits)
np.save(os.path.join(OUT, "sinkhorn_targets.npy"), t3.astype(np.float32))
print(f"max |2 iterations - 3 iterations| = {np.abs(t2 - t3).max():.3e}; max target {t3.max():.3f}")
