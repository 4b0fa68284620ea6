"""train: a dependency-free classifier: class centroids shrunk toward the global mean.

The shrinkage is 1 / (1 + 1/C), so a small C (strong regularisation) pulls every centroid
to the global mean. Rows with id % 5 == 0 are held out for metrics.
usage: train.py C FEATURES.csv OUT.json
"""
import json
import sys
from ranlog import ran, makedirs_for

C, src, out = float(sys.argv[1]), sys.argv[2], sys.argv[3]
ran(f"train C={sys.argv[1]}")
with open(src) as f:
    next(f)
    rows = [line.strip().split(",") for line in f if line.strip()]
train = [(list(map(float, r[1:5])), r[5]) for r in rows if int(r[0]) % 5 != 0]
dim = 4
mean = [sum(x[d] for x, _ in train) / len(train) for d in range(dim)]
shrink = 1 / (1 + 1 / C)
centroids = {}
for label in sorted({y for _, y in train}):
    xs = [x for x, y in train if y == label]
    c = [sum(x[d] for x in xs) / len(xs) for d in range(dim)]
    centroids[label] = [round(mean[d] + shrink * (c[d] - mean[d]), 6) for d in range(dim)]
makedirs_for(out)
with open(out, "w") as g:
    json.dump({"C": C, "centroids": centroids}, g, sort_keys=True)
    g.write("\n")
