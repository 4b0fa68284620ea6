"""Helpers for bench/tar-shards.sh: generate the data set, and write/read shards with webdataset.

  python tar_shards.py gen DATA N          # DATA/src/class_CC/NNNNNN.{jpg,cls} and DATA/lists/shard-SSSSSS.txt
  python tar_shards.py write-wds DATA OUT  # webdataset ShardWriter, 1000 samples per shard
  python tar_shards.py read-wds OUT        # read every sample; prints samples and payload bytes
"""
import glob
import os
import random
import sys

PER_SHARD = 1000
CLASSES = 10
IMAGE_BYTES = 3 * 1024


def gen(data, n):
    rng = random.Random(0)
    samples = []
    for i in range(n):
        c = i % CLASSES
        d = os.path.join(data, "src", f"class_{c:02d}")
        os.makedirs(d, exist_ok=True)
        stem = f"{i:06d}"
        with open(os.path.join(d, stem + ".jpg"), "wb") as f:
            f.write(rng.randbytes(IMAGE_BYTES))
        with open(os.path.join(d, stem + ".cls"), "wb") as f:
            f.write(str(c).encode())
        samples.append(f"class_{c:02d}/{stem}")
    # The order flow op pack uses (sorted class, then file name), in lists of PER_SHARD samples.
    samples.sort()
    os.makedirs(os.path.join(data, "lists"), exist_ok=True)
    for s in range(0, n, PER_SHARD):
        with open(os.path.join(data, "lists", f"shard-{s // PER_SHARD:06d}.txt"), "w") as f:
            for key in samples[s:s + PER_SHARD]:
                f.write(key + ".cls\n" + key + ".jpg\n")


def write_wds(data, out):
    import webdataset as wds
    lists = sorted(glob.glob(os.path.join(data, "lists", "*.txt")))
    os.makedirs(out, exist_ok=True)
    with wds.ShardWriter(os.path.join(out, "shard-%06d.tar"), maxcount=PER_SHARD, verbose=0) as w:
        for lst in lists:
            names = open(lst).read().split()
            for cls_name, jpg_name in zip(names[0::2], names[1::2]):
                key = jpg_name[:-4].replace("/", "_")
                with open(os.path.join(data, "src", jpg_name), "rb") as f:
                    jpg = f.read()
                with open(os.path.join(data, "src", cls_name), "rb") as f:
                    cls = f.read()
                w.write({"__key__": key, "jpg": jpg, "cls": cls})


def read_wds(out):
    import webdataset as wds
    shards = sorted(glob.glob(os.path.join(out, "*.tar")))
    samples = payload = 0
    for s in wds.WebDataset(shards, shardshuffle=False):
        samples += 1
        payload += len(s["jpg"]) + len(s["cls"])
    print(f"samples: {samples}\npayload bytes: {payload}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2], int(sys.argv[3]))
    elif cmd == "write-wds":
        write_wds(sys.argv[2], sys.argv[3])
    elif cmd == "read-wds":
        read_wds(sys.argv[2])
    else:
        sys.exit(f"unknown command {cmd}")
