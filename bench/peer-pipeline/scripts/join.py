"""join: concatenates feature files (files, or directories of *.csv) sorted by row id.

usage: join.py OUT.csv PART...
"""
import os
import sys
from ranlog import ran, makedirs_for

out, parts = sys.argv[1], []
for p in sys.argv[2:]:
    if os.path.isdir(p):
        parts += sorted(os.path.join(p, n) for n in os.listdir(p) if n.endswith(".csv"))
    else:
        parts.append(p)
ran(f"join ({len(parts)} parts)")
rows = []
for p in parts:
    with open(p) as f:
        next(f)
        rows += [line.strip() for line in f if line.strip()]
rows.sort(key=lambda r: int(r.split(",")[0]))
makedirs_for(out)
with open(out, "w") as g:
    g.write("id,f1,f2,f3,f4,label\n")
    g.writelines(r + "\n" for r in rows)
