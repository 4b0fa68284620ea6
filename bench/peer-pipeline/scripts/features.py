"""features: per-shard features x1, x2, x1*x2, x1^2 - x2^2.

usage: features.py SHARD.csv OUT.csv
"""
import sys
from ranlog import ran, makedirs_for

src, out = sys.argv[1], sys.argv[2]
ran(f"features {src.rsplit('/', 1)[-1]}")
makedirs_for(out)
with open(src) as f, open(out, "w") as g:
    next(f)
    g.write("id,f1,f2,f3,f4,label\n")
    for line in f:
        i, x1, x2, label = line.strip().split(",")
        a, b = float(x1), float(x2)
        g.write(f"{i},{a:.4f},{b:.4f},{a * b:.4f},{a * a - b * b:.4f},{label}\n")
