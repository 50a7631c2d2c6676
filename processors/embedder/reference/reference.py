#!/usr/bin/env python3
"""Reference checks for the local embedder (never used by the product).

Runs a model with the reference implementations: the Rust-backed `tokenizers` package and Python
`onnxruntime`, both from PyPI (see requirements.txt), with the same recipe the model card gives:
WordPiece ids truncated to max_seq_length, masked mean pooling over the last hidden state (or the
[CLS] token's state with --pooling cls, BGE's recipe), L2 normalisation.

  embed  --onnx M --tokenizer T --max-tokens N --output NAME [--no-normalize] [--pooling mean|cls]
         --headlines uci/stories-dev.csv --n 1000 [--sts sts-dev.csv] --out ref.json
      writes {texts, ids, embeddings (base64 float32 LE, n x dims), dims, sts_spearman}
  bench  --onnx M --tokenizer T --max-tokens N --output NAME --headlines CSV
         --batch-sizes 1,16,64 --n 256 [--threads 2] [--seconds S] [--bucket-rows R] [--no-spin]
      (--bucket-rows R: sort each batch by token count and run groups of at most R rows, as the
      TypeScript embedder does; 0, the default, pads each batch to its longest row; --no-spin: idle
      intra-op threads sleep instead of spinning, the TypeScript embedder's default)
      prints one JSON line per batch size: {"batch": b, "per_s": headlines per second}
"""

import argparse
import base64
import csv
import json
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def load_headlines(path, n):
    with open(path, newline="", encoding="utf-8") as f:
        titles = [row["TITLE"] for row in csv.DictReader(f)]
    return titles[:n]


def load_sts(path):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 7:
                pairs.append((float(cols[4]), cols[5], cols[6]))
    return pairs


class Model:
    def __init__(self, onnx_path, tokenizer_path, max_tokens, output, normalize, threads, spin=True, pooling="mean"):
        self.tok = Tokenizer.from_file(tokenizer_path)
        self.tok.no_padding()
        self.tok.enable_truncation(max_length=max_tokens)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not spin:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.sess.get_inputs()}
        self.output = output
        self.normalize = normalize
        self.pooling = pooling

    def ids(self, texts):
        return [e.ids for e in self.tok.encode_batch(texts)]

    def embed_ids(self, rows):
        seq = max(len(r) for r in rows)
        ids = np.zeros((len(rows), seq), dtype=np.int64)
        mask = np.zeros((len(rows), seq), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.sess.run([self.output], feeds)[0]
        if self.pooling == "cls":
            v = hidden[:, 0]
        else:
            m = mask[..., None].astype(np.float32)
            v = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        if self.normalize:
            v = v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)
        return v.astype(np.float32)

    def embed_bucketed(self, rows, max_rows):
        """Sort by length, run equal groups of at most max_rows rows, put the vectors back in input order."""
        if max_rows <= 0 or len(rows) <= 1:
            return self.embed_ids(rows)
        order = sorted(range(len(rows)), key=lambda i: (len(rows[i]), i))
        groups = -(-len(order) // max_rows)
        size = -(-len(order) // groups)
        out = np.empty((len(rows), 0), dtype=np.float32)
        for g in range(0, len(order), size):
            idx = order[g : g + size]
            v = self.embed_ids([rows[i] for i in idx])
            if out.shape[1] == 0:
                out = np.empty((len(rows), v.shape[1]), dtype=np.float32)
            out[idx] = v
        return out

    def embed(self, texts, batch=64):
        rows = self.ids(texts)
        return np.concatenate([self.embed_ids(rows[i : i + batch]) for i in range(0, len(rows), batch)])


def spearman(a, b):
    def ranks(x):
        x = np.asarray(x, dtype=np.float64)
        order = np.argsort(x, kind="mergesort")
        r = np.empty(len(x))
        i = 0
        while i < len(x):
            j = i
            while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
                j += 1
            r[order[i : j + 1]] = (i + j) / 2 + 1
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])


def sts_spearman(model, path):
    pairs = load_sts(path)
    a = model.embed([p[1] for p in pairs])
    b = model.embed([p[2] for p in pairs])
    na = a / np.linalg.norm(a, axis=1, keepdims=True)
    nb = b / np.linalg.norm(b, axis=1, keepdims=True)
    cos = (na * nb).sum(axis=1)
    return spearman(cos, [p[0] for p in pairs]), len(pairs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["embed", "bench"])
    p.add_argument("--onnx", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--max-tokens", type=int, required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--no-normalize", action="store_true")
    p.add_argument("--pooling", choices=["mean", "cls"], default="mean")
    p.add_argument("--headlines", required=True)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--sts")
    p.add_argument("--out")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch-sizes", default="1,16,64")
    p.add_argument("--seconds", type=float, default=0)
    p.add_argument("--bucket-rows", type=int, default=0)
    p.add_argument("--no-spin", action="store_true")
    a = p.parse_args()
    model = Model(a.onnx, a.tokenizer, a.max_tokens, a.output, not a.no_normalize, a.threads, not a.no_spin, a.pooling)
    texts = load_headlines(a.headlines, a.n)

    if a.command == "embed":
        ids = model.ids(texts)
        emb = model.embed(texts)
        out = {
            "texts": texts,
            "ids": ids,
            "dims": int(emb.shape[1]),
            "embeddings": base64.b64encode(emb.astype("<f4").tobytes()).decode(),
            "versions": {"onnxruntime": ort.__version__, "numpy": np.__version__},
        }
        if a.sts:
            rho, n = sts_spearman(model, a.sts)
            out["sts_spearman"] = rho
            out["sts_pairs"] = n
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(out, f)
        return

    # bench: same shape as the TypeScript side (tokenize + run + pool per batch, sequential calls).
    for b in [int(x) for x in a.batch_sizes.split(",")]:
        model.embed(texts[: max(b, 1)], batch=b)  # warm-up
        done, t0 = 0, time.perf_counter()
        while True:
            for i in range(0, len(texts), b):
                model.embed_bucketed(model.ids(texts[i : i + b]), a.bucket_rows)
            done += len(texts)
            if time.perf_counter() - t0 >= a.seconds:
                break
        dt = time.perf_counter() - t0
        print(json.dumps({"batch": b, "per_s": done / dt, "n": done, "seconds": dt}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
