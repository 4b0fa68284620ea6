#!/usr/bin/env python3
"""Writes one layered DAG of N steps for flow, GNU make, ninja, snakemake and dvc, and the
same commands as a plain script (floor.sh: the process-spawn floor).

10 layers of N/10 steps. Step j of layer l reads two outputs of layer l-1 (layer 0 reads two
of the N/10 source files src/*) and runs `cat A B | cksum > OUT`, as in the peers' figures.

usage: dag_gen.py N DIR
"""
import os
import sys

def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    width = n // 10
    os.makedirs(os.path.join(out, "src"), exist_ok=True)
    # Every tool runs exactly the same command per step, so the output directories exist
    # beforehand (make and dvc do not create them; an `mkdir -p` in their recipes would add two
    # process starts per step, a third of a step's cost here).
    for l in range(10):
        os.makedirs(os.path.join(out, "out", str(l)), exist_ok=True)
    for j in range(width):
        with open(os.path.join(out, "src", str(j)), "w") as f:
            f.write(f"leaf {j}\n")

    def inputs(l, j):
        if l == 0:
            return [f"src/{j}", f"src/{(j + 1) % width}"]
        return [f"out/{l - 1}/{j}", f"out/{l - 1}/{(j + 7) % width}"]

    steps = [(l, j, inputs(l, j), f"out/{l}/{j}") for l in range(10) for j in range(width)]
    cmd = "cat {a} {b} | cksum > {o}"

    with open(os.path.join(out, "flow.dag"), "w") as f:
        for l, j, (a, b), o in steps:
            f.write(f"step s{l}_{j}\n  in {a} {b}\n  out {o}\n  run {cmd.format(a=a, b=b, o=o)}\n")

    with open(os.path.join(out, "Makefile"), "w") as f:
        f.write("all: " + " ".join(o for *_, o in steps) + "\n")
        for l, j, (a, b), o in steps:
            f.write(f"{o}: {a} {b}\n\t@{cmd.format(a=a, b=b, o=o)}\n")

    # The process-spawn floor: the same commands through `sh -c`, two at a time, layer after
    # layer, with nothing tracked (no hashing, no check of what is up to date, no journal).
    with open(os.path.join(out, "floor.sh"), "w") as f:
        for l in range(10):
            f.write("xargs -d '\\n' -P 2 -n 1 sh -c <<'EOF'\n")
            for sl, j, (a, b), o in steps:
                if sl == l:
                    f.write(cmd.format(a=a, b=b, o=o) + "\n")
            f.write("EOF\n")

    with open(os.path.join(out, "build.ninja"), "w") as f:
        f.write("rule step\n  command = cat $in | cksum > $out\n")
        for l, j, (a, b), o in steps:
            f.write(f"build {o}: step {a} {b}\n")

    with open(os.path.join(out, "Snakefile"), "w") as f:
        f.write("rule all:\n    input: " + ", ".join(f'"{o}"' for *_, o in steps) + "\n")
        for l, j, (a, b), o in steps:
            f.write(f'rule s{l}_{j}:\n    input: "{a}", "{b}"\n    output: "{o}"\n    shell: "cat {{input}} | cksum > {{output}}"\n')

    with open(os.path.join(out, "dvc.yaml"), "w") as f:
        f.write("stages:\n")
        for l, j, (a, b), o in steps:
            f.write(f"  s{l}_{j}:\n    cmd: {cmd.format(a=a, b=b, o=o)}\n"
                    f"    deps: [{a}, {b}]\n    outs: [{o}]\n")

if __name__ == "__main__":
    main()
