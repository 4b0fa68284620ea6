"""metrics: accuracy of a model on the held-out rows (id % 5 == 0).

usage: metrics.py MODEL.json FEATURES.csv OUT.json
"""
import json
import sys
from ranlog import ran, makedirs_for

model_path, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
with open(model_path) as f:
    model = json.load(f)
ran(f"metrics C={model['C']:g}")
with open(src) as f:
    next(f)
    rows = [line.strip().split(",") for line in f if line.strip()]
test = [(list(map(float, r[1:5])), r[5]) for r in rows if int(r[0]) % 5 == 0]


def predict(x):
    return min(model["centroids"],
               key=lambda k: sum((a - b) ** 2 for a, b in zip(x, model["centroids"][k])))


acc = sum(predict(x) == y for x, y in test) / len(test)
makedirs_for(out)
with open(out, "w") as g:
    json.dump({"C": model["C"], "accuracy": round(acc, 4), "test_rows": len(test)}, g)
    g.write("\n")
