"""Peer of bench/embed: the symmetric InfoNCE step of kerec/embed/contrastive.hpp in PyTorch (CPU).

usage: infonce_torch.py DIR STEPS REPEATS
DIR holds nb_off.npy, nb_tgt.npy, nb_w.npy (the normalised complementary neighbours, CSR, float64)
and batches.npy (STEPS+ × B entity ids, float64); table size and dimension come from shape.npy.
Times STEPS fused steps (forward, backward, optimiser) on one thread, REPEATS times, for
  dense:  nn.Embedding + Adam (table and W)
  sparse: nn.Embedding(sparse=True) + SparseAdam (table), Adam (W)
and prints one JSON line per variant: {"variant", "steps_per_s" (median, per CPU-second), "blas",
"blas_core" (OpenBLAS's kernel set)}.
"""
import ctypes
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def loaded_blas():
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if "blas" in p or "lapack" in p or "mkl" in p:
                libs.add(p)
    return sorted(libs)


def openblas_core(libs):
    """The kernel set OpenBLAS chose for this CPU (OPENBLAS_CORETYPE overrides it), if it is loaded."""
    for p in libs:
        if "openblas" in p:
            try:
                f = ctypes.CDLL(p).openblas_get_corename
                f.restype = ctypes.c_char_p
                return f().decode()
            except (OSError, AttributeError):
                pass
    return None


def main():
    d, steps, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    ld = lambda n: np.load(os.path.join(d, n + ".npy"))
    n, dim = (int(x) for x in ld("shape").reshape(-1))
    tau = float(ld("tau").reshape(-1)[0])
    off = ld("nb_off").reshape(-1).astype(np.int64)
    tgt = ld("nb_tgt").reshape(-1).astype(np.int64)
    w = ld("nb_w").reshape(-1).astype(np.float32)
    batches = ld("batches").astype(np.int64)
    # Per batch: the bags of neighbours (embedding_bag inputs), prepared before timing.
    prepared = []
    for b in batches[:steps]:
        idx, ws, bag = [], [], []
        for e in b:
            lo, hi = off[e], off[e + 1]
            bag.append(len(idx))
            if hi > lo:
                idx.extend(tgt[lo:hi]); ws.extend(w[lo:hi])
            else:
                idx.append(e); ws.append(1.0)
        prepared.append((torch.from_numpy(b), torch.tensor(idx), torch.tensor(ws, dtype=torch.float32), torch.tensor(bag)))

    results = []
    for variant in ("dense", "sparse"):
        rates = []
        for _ in range(repeats):
            torch.manual_seed(1)
            emb = torch.nn.Embedding(n, dim, sparse=(variant == "sparse"))
            W = torch.nn.Parameter(torch.eye(dim))
            if variant == "dense":
                opts = [torch.optim.Adam([emb.weight, W], lr=1e-3)]
            else:
                opts = [torch.optim.SparseAdam([emb.weight], lr=1e-3), torch.optim.Adam([W], lr=1e-3)]
            labels = torch.arange(batches.shape[1])

            def step(batch, idx, ws, bag):
                for o in opts:
                    o.zero_grad(set_to_none=True)
                z = F.normalize(emb(batch), dim=1)
                a = F.embedding_bag(idx, emb.weight, bag, mode="sum", per_sample_weights=ws, sparse=(variant == "sparse"))
                p = F.normalize(a @ W.T, dim=1)
                s = z @ p.T / tau
                loss = 0.5 * (F.cross_entropy(s, labels) + F.cross_entropy(s.T, labels))
                loss.backward()
                for o in opts:
                    o.step()
                return loss

            step(*prepared[0])  # warm-up
            t0 = time.process_time()  # CPU seconds: the machine is shared
            for k in range(steps):
                step(*prepared[k])
            rates.append(steps / (time.process_time() - t0))
        blas = loaded_blas()
        results.append({"variant": variant, "steps_per_s": float(np.median(rates)), "blas": blas, "blas_core": openblas_core(blas),
                        "torch": torch.__version__, "threads": torch.get_num_threads()})
    for r in results:
        print(json.dumps(r), flush=True)


main()
