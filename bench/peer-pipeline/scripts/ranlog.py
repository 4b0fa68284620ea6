"""Appends one line per executed step to ran.txt in the working directory.

compare.sh reads this file to tell which steps a tool actually executed, as opposed to
restored from a cache or skipped. No step reads it.
"""
import os
import sys


def ran(step):
    with open("ran.txt", "a") as f:
        f.write(step + "\n")


def makedirs_for(path):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)


def die(msg):
    sys.exit(f"{os.path.basename(sys.argv[0])}: {msg}")
