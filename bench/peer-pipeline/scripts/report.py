"""report: one Markdown table of the sweep and one of the per-class statistics.

usage: report.py OUT.md INPUT...   (metrics/*.json and stats *.json files, or directories of them)
"""
import json
import os
import sys
from ranlog import ran, makedirs_for

out, files = sys.argv[1], []
for p in sys.argv[2:]:
    if os.path.isdir(p):
        files += sorted(os.path.join(p, n) for n in os.listdir(p) if n.endswith(".json"))
    else:
        files.append(p)
ran("report")
docs = []
for p in files:
    with open(p) as f:
        docs.append(json.load(f))
metrics = sorted((d for d in docs if "accuracy" in d), key=lambda d: d["C"])
stats = sorted((d for d in docs if "means" in d), key=lambda d: d["file"])
makedirs_for(out)
with open(out, "w") as g:
    g.write("| C | accuracy | test rows |\n| --- | --- | --- |\n")
    for d in metrics:
        g.write(f"| {d['C']:g} | {d['accuracy']:.3f} | {d['test_rows']} |\n")
    g.write("\n| class file | rows | mean f1 |\n| --- | --- | --- |\n")
    for d in stats:
        g.write(f"| {d['file']} | {d['rows']} | {d['means'][0]:.3f} |\n")
