#!/usr/bin/env python3
"""An independent NumPy (float64) forward pass of the DINOv2 ViT backbone, for checking flow's.

Written from the reference code (dinov2/models/vision_transformer.py, dinov2/layers/*) and
PyTorch's interpolate semantics; needs only numpy. Usage:

  vit_reference.py forward MODEL.safetensors IMAGES.npy OUT.npy
      IMAGES is float32 [B, 3, H, W] (already normalised); OUT is float32 [B, T, D], the
      final-normed tokens (cls, registers, patches).
  vit_reference.py resize-check
      compares the antialiased bicubic weights with Pillow's resize (when Pillow is installed).
  vit_reference.py make-fixture DIR
      writes vit_fixture.safetensors (a tiny random model), vit_fixture_input.npy and
      vit_fixture_expected.npy (its output), the fixture FlowModelsTests checks without Python.
"""
import json
import math
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    buf = data[8 + n:]
    tensors = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        tensors[name] = np.frombuffer(buf[b:e], dtype=dtype).reshape(info["shape"]).astype(np.float64)
    return tensors, meta


def save_safetensors(path, tensors, meta):
    header, offset, blobs = {"__metadata__": meta}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def cubic_matrix(in_size, out_size, scale_factor):
    """torch bicubic, align_corners=False, A=-0.75, edge-clamped taps, as an [out, in] matrix."""
    A = -0.75
    if scale_factor:
        scale = np.float32(1.0 / scale_factor)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    m = np.zeros((out_size, in_size))
    for i in range(out_size):
        real = np.float32(scale * np.float32(i + 0.5) - np.float32(0.5))
        idx = min(int(math.floor(real)), in_size - 1)
        t = float(min(max(real - idx, 0.0), 1.0))
        def k(x):
            x = abs(x)
            if x <= 1:
                return ((A + 2) * x - (A + 3)) * x * x + 1
            if x < 2:
                return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
            return 0.0
        for j, dist in zip(range(-1, 3), (t + 1, t, 1 - t, 2 - t)):
            m[i, min(max(idx + j, 0), in_size - 1)] += k(dist)
    return m


def antialias_matrix(in_size, out_size, scale_factor):
    """torch bicubic with antialias=True (Pillow's filter: A=-0.5, support widened when shrinking)."""
    scale = float(np.float32(1.0 / scale_factor)) if scale_factor else float(np.float32(in_size) / np.float32(out_size))
    support = 2.0 * scale if scale >= 1 else 2.0
    inv = 1.0 / scale if scale >= 1 else 1.0
    def k(x):
        a, x = -0.5, abs(x)
        if x < 1:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        if x < 2:
            return (((x - 5) * x + 8) * x - 4) * a
        return 0.0
    m = np.zeros((out_size, in_size))
    for i in range(out_size):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        w = np.array([k((j - center + 0.5) * inv) for j in range(lo, hi)])
        if w.sum() != 0:
            w = w / w.sum()
        m[i, lo:hi] = w
    return m


def interpolate_pos_embed(pos, gh, gw, offset, antialias):
    """pos: [1, 1+M*M, D] → [1, 1+gh*gw, D] (dinov2 interpolate_pos_encoding)."""
    n = pos.shape[1] - 1
    mside = int(round(math.sqrt(n)))
    if gh * gw == n and gh == gw:
        return pos
    grid = pos[0, 1:].reshape(mside, mside, -1)
    sh = (gh + offset) / mside if offset else None
    sw = (gw + offset) / mside if offset else None
    mat = antialias_matrix if antialias else cubic_matrix
    wy, wx = mat(mside, gh, sh), mat(mside, gw, sw)
    out = np.einsum("oi,ijc,pj->opc", wy, grid, wx).reshape(1, gh * gw, -1)
    return np.concatenate([pos[:, :1], out], axis=1)


def layer_norm(x, w, b, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def forward(p, meta, images):
    B, C, H, W = images.shape
    D = p["cls_token"].shape[-1]
    P = p["patch_embed.proj.weight"].shape[-1]
    heads = int(meta.get("heads", D // 64))
    R = p["register_tokens"].shape[1] if "register_tokens" in p else 0
    depth = len({k.split(".")[1] for k in p if k.startswith("blocks.")})
    gh, gw = H // P, W // P
    # Conv2d(k=s=P) as an explicit sum over each patch.
    w = p["patch_embed.proj.weight"]
    x = np.zeros((B, gh * gw, D))
    for i in range(gh):
        for j in range(gw):
            patch = images[:, :, i * P:(i + 1) * P, j * P:(j + 1) * P]
            x[:, i * gw + j] = np.einsum("bcyx,dcyx->bd", patch, w) + p["patch_embed.proj.bias"]
    x = np.concatenate([np.broadcast_to(p["cls_token"], (B, 1, D)), x], axis=1)
    offset = float(meta.get("interpolate_offset", "0" if R else "0.1"))
    antialias = meta.get("interpolate_antialias", "true" if R else "false") == "true"
    x = x + interpolate_pos_embed(p["pos_embed"], gh, gw, offset, antialias)
    if R:
        x = np.concatenate([x[:, :1], np.broadcast_to(p["register_tokens"], (B, R, D)), x[:, 1:]], axis=1)
    T = x.shape[1]
    hd = D // heads
    for i in range(depth):
        q = lambda name: p[f"blocks.{i}.{name}"]
        h = layer_norm(x, q("norm1.weight"), q("norm1.bias"))
        qkv = h @ q("attn.qkv.weight").T + q("attn.qkv.bias")
        qkv = qkv.reshape(B, T, 3, heads, hd).transpose(2, 0, 3, 1, 4)  # 3 B heads T hd
        s = qkv[0] @ qkv[1].transpose(0, 1, 3, 2) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        o = (s @ qkv[2]).transpose(0, 2, 1, 3).reshape(B, T, D)
        o = o @ q("attn.proj.weight").T + q("attn.proj.bias")
        x = x + (q("ls1.gamma") if f"blocks.{i}.ls1.gamma" in p else 1.0) * o
        h = layer_norm(x, q("norm2.weight"), q("norm2.bias"))
        h = gelu(h @ q("mlp.fc1.weight").T + q("mlp.fc1.bias")) @ q("mlp.fc2.weight").T + q("mlp.fc2.bias")
        x = x + (q("ls2.gamma") if f"blocks.{i}.ls2.gamma" in p else 1.0) * h
    return layer_norm(x, p["norm.weight"], p["norm.bias"])


def make_fixture(directory):
    rng = np.random.default_rng(20240601)
    D, depth, heads, P, M, R, Hd = 8, 2, 2, 4, 2, 1, 16
    n = lambda *s: rng.normal(0, 0.5, s)
    p = {"cls_token": n(1, 1, D), "pos_embed": n(1, 1 + M * M, D), "register_tokens": n(1, R, D),
         "mask_token": np.zeros((1, D)), "patch_embed.proj.weight": n(D, 3, P, P) * 0.3,
         "patch_embed.proj.bias": n(D), "norm.weight": 1 + n(D) * 0.2, "norm.bias": n(D) * 0.2}
    for i in range(depth):
        b = f"blocks.{i}."
        p.update({b + "norm1.weight": 1 + n(D) * 0.2, b + "norm1.bias": n(D) * 0.2,
                  b + "attn.qkv.weight": n(3 * D, D), b + "attn.qkv.bias": n(3 * D) * 0.2,
                  b + "attn.proj.weight": n(D, D) * 0.5, b + "attn.proj.bias": n(D) * 0.2,
                  b + "ls1.gamma": 0.5 + n(D) * 0.2, b + "norm2.weight": 1 + n(D) * 0.2,
                  b + "norm2.bias": n(D) * 0.2, b + "mlp.fc1.weight": n(Hd, D), b + "mlp.fc1.bias": n(Hd) * 0.2,
                  b + "mlp.fc2.weight": n(D, Hd) * 0.5, b + "mlp.fc2.bias": n(D) * 0.2,
                  b + "ls2.gamma": 0.5 + n(D) * 0.2})
    p = {k: v.astype(np.float32) for k, v in p.items()}
    # Plain bicubic with the 0.1 offset (not the reg4 default) so the fixture covers that path;
    # the 12x16 input makes a non-square 3x4 grid from the 2x2 one.
    meta = {"format": "flow-vit", "arch": "custom", "dim": str(D), "depth": str(depth), "heads": str(heads),
            "mlp_hidden": str(Hd), "patch": str(P), "image_size": str(M * P), "registers": str(R),
            "interpolate_offset": "0.1", "interpolate_antialias": "false", "layerscale": "0.5"}
    save_safetensors(f"{directory}/vit_fixture.safetensors", p, meta)
    images = rng.normal(0, 1, (2, 3, 12, 16)).astype(np.float32)
    np.save(f"{directory}/vit_fixture_input.npy", images)
    tensors, meta = load_safetensors(f"{directory}/vit_fixture.safetensors")
    np.save(f"{directory}/vit_fixture_expected.npy", forward(tensors, meta, images.astype(np.float64)).astype(np.float32))


def resize_check():
    from PIL import Image
    rng = np.random.default_rng(0)
    worst = 0.0
    for src, dst in [(37, 16), (16, 37), (10, 7), (5, 5), (9, 4)]:
        grid = rng.normal(0, 1, (src, src)).astype(np.float32)
        pil = np.asarray(Image.fromarray(grid, mode="F").resize((dst, dst), Image.BICUBIC), dtype=np.float64)
        ours = antialias_matrix(src, dst, None) @ grid @ antialias_matrix(src, dst, None).T
        worst = max(worst, float(np.abs(pil - ours).max()))
    print(f"max |pillow - antialias_matrix| = {worst:.3g}")
    sys.exit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "forward":
        tensors, meta = load_safetensors(sys.argv[2])
        images = np.load(sys.argv[3]).astype(np.float64)
        np.save(sys.argv[4], forward(tensors, meta, images).astype(np.float32))
    elif cmd == "make-fixture":
        make_fixture(sys.argv[2])
    elif cmd == "resize-check":
        resize_check()
    else:
        print(__doc__)
        sys.exit(2)
