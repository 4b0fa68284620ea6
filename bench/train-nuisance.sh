#!/bin/sh
# What a model's features encode besides the class: the weighted k-NN (k = 20, temperature 0.07,
# cosine, DINOv2's) of `flow op eval-knn`, with the shape-class labels replaced by nuisances that
# synth-images records in each sample's .json: the hue of the background and of the shape, in
# 6 bins (chance about 0.17). The raw pixels are scored the same way. Not part of `make test`.
#
#   bench/train-nuisance.sh TRAIN.tar VAL.tar MODEL.safetensors ...
#
# TRAIN and VAL are synth-images shards (e.g. runs/pretrain/eval/eval-000000.tar and
# eval-000001.tar); needs a release build and a Python with numpy and Pillow (PYTHON, default
# .venv/bin/python as `make test` makes it).
set -eu
cd "$(dirname "$0")/.."
F=$(pwd)/.build/release/flow
PY=${PYTHON:-$(pwd)/.venv/bin/python}
TRAIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
VAL=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
shift 2
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir "$W/train" "$W/val"
tar -xf "$TRAIN" -C "$W/train"
tar -xf "$VAL" -C "$W/val"
i=0
for M in "$@"; do
  "$F" op embed --model "$M" --shards "$TRAIN" --out "$W/m$i-train.npy" --keys "$W/m$i-train.keys" >/dev/null
  "$F" op embed --model "$M" --shards "$VAL" --out "$W/m$i-val.npy" --keys "$W/m$i-val.keys" >/dev/null
  echo "$M" >"$W/m$i.name"
  i=$((i + 1))
done
"$PY" - "$W" "$i" <<'PY'
import colorsys, json, sys
import numpy as np
from PIL import Image
w, count = sys.argv[1], int(sys.argv[2])

def split(name, keys):
    ids = [line.strip().split("/")[-1] for line in open(keys)]
    meta = [json.load(open(f"{w}/{name}/{k}.json")) for k in ids]
    pixels = np.stack([np.asarray(Image.open(f"{w}/{name}/{k}.png").convert("RGB"), np.float32).ravel() / 255
                       for k in ids])
    hue = lambda rgb: int(colorsys.rgb_to_hsv(*rgb)[0] * 6) % 6
    labels = {"shape class": np.array([m["class_index"] for m in meta]),
              "background hue": np.array([hue(m["background"]) for m in meta]),
              "shape colour hue": np.array([hue(m["color"]) for m in meta])}
    return pixels, labels

def knn(train, train_labels, val, val_labels, k=20, temperature=0.07):
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    val = val / np.linalg.norm(val, axis=1, keepdims=True)
    sim = val @ train.T
    nearest = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    weights = np.exp(np.take_along_axis(sim, nearest, 1) / temperature)
    scores = np.zeros((len(val), train_labels.max() + 1))
    for j in range(nearest.shape[1]):
        np.add.at(scores, (np.arange(len(val)), train_labels[nearest[:, j]]), weights[:, j])
    return (scores.argmax(1) == val_labels).mean()

px_train, y_train = split("train", f"{w}/m0-train.keys")
px_val, y_val = split("val", f"{w}/m0-val.keys")
features = [("raw pixels", px_train, px_val)]
for i in range(count):
    features.append((open(f"{w}/m{i}.name").read().strip(), np.load(f"{w}/m{i}-train.npy"), np.load(f"{w}/m{i}-val.npy")))
print("| features | " + " | ".join(y_train) + " |")
print("|---|" + "---|" * len(y_train))
for name, a, b in features:
    print(f"| {name} | " + " | ".join(f"{knn(a, y_train[l], b, y_val[l]):.3f}" for l in y_train) + " |")
PY
