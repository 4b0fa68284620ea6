"""stats: count and feature means of one class file; with a directory, of each file in it.

usage: stats.py CLASS.csv OUT.json   or   stats.py INDIR OUTDIR
"""
import json
import os
import sys
from ranlog import ran, makedirs_for


def stats(src, out):
    ran(f"stats {os.path.basename(src)}")
    with open(src) as f:
        next(f)
        rows = [list(map(float, line.split(",")[1:5])) for line in f if line.strip()]
    means = [round(sum(c) / len(rows), 4) for c in zip(*rows)]
    makedirs_for(out)
    with open(out, "w") as g:
        json.dump({"file": os.path.basename(src), "rows": len(rows), "means": means}, g)
        g.write("\n")


src, out = sys.argv[1], sys.argv[2]
if os.path.isdir(src):
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(src)):
        if name.endswith(".csv"):
            stats(os.path.join(src, name), os.path.join(out, name[:-4] + ".json"))
else:
    stats(src, out)
