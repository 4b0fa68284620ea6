"""split: writes one file per class found in the joined features: OUTDIR/class-<label>.csv.

usage: split.py FEATURES.csv OUTDIR
"""
import os
import sys
from ranlog import ran

src, outdir = sys.argv[1], sys.argv[2]
with open(src) as f:
    header, *rows = f.read().splitlines()
by = {}
for r in rows:
    by.setdefault(r.rsplit(",", 1)[1], []).append(r)
ran(f"split ({len(by)} classes)")
os.makedirs(outdir, exist_ok=True)
for label, rs in sorted(by.items()):
    with open(os.path.join(outdir, f"class-{label}.csv"), "w") as g:
        g.write(header + "\n")
        g.writelines(r + "\n" for r in rs)
