"""prep: splits the source table into N shards, row i into shard i % N.

usage: prep.py N ROWS.csv OUTDIR   (writes OUTDIR/shard-0.csv ... shard-{N-1}.csv)
"""
import os
import sys
from ranlog import ran

n, src, outdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ran("prep")
os.makedirs(outdir, exist_ok=True)
with open(src) as f:
    header, *rows = f.read().splitlines()
for k in range(n):
    with open(os.path.join(outdir, f"shard-{k}.csv"), "w") as f:
        f.write(header + "\n")
        for i, row in enumerate(rows):
            if i % n == k:
                f.write(row + "\n")
