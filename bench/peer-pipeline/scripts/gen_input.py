"""Writes the source table input/rows.csv: id,x1,x2,label (not a pipeline step).

usage: gen_input.py OUT ROWS CLASSES [SEED]
Deterministic: the same arguments give the same bytes.
"""
import random
import sys

out, rows, classes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
rng = random.Random(seed)
with open(out, "w") as f:
    f.write("id,x1,x2,label\n")
    for i in range(rows):
        label = i % classes
        x1 = label + rng.gauss(0, 0.7)
        x2 = -label + rng.gauss(0, 0.7)
        f.write(f"{i},{x1:.4f},{x2:.4f},{label}\n")
