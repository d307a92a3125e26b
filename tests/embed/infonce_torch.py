"""Reference for tests/embed: the symmetric InfoNCE of kerec/embed/contrastive.hpp in PyTorch autograd.

usage: infonce_torch.py DIR TAU LR
Reads DIR/{h1,W,nb_w}.npy and DIR/{batch,nb_off,nb_tgt}.npy (ids, stored as float64); writes DIR/loss.npy,
DIR/grad_h1.npy, DIR/grad_W.npy, and the parameters after one SparseAdam (table) / Adam (W) step
with learning rate LR: DIR/h1_after.npy, DIR/W_after.npy. Exit 77 when torch is missing.
"""
import os
import sys

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit(77)


def second_order_input(table, batch, off, tgt, w):
    rows, cols, ws = [], [], []
    for i, e in enumerate(batch.tolist()):
        lo, hi = int(off[e]), int(off[e + 1])
        if hi > lo:
            rows += [i] * (hi - lo)
            cols += tgt[lo:hi].tolist()
            ws += w[lo:hi].tolist()
        else:  # fallback: the entity is its own context
            rows.append(i)
            cols.append(e)
            ws.append(1.0)
    rows = torch.tensor(rows)
    vals = torch.tensor(ws, dtype=table.dtype)[:, None] * F.embedding(torch.tensor(cols), table, sparse=True)
    return torch.zeros(len(batch), table.shape[1], dtype=table.dtype).index_add(0, rows, vals)


def main():
    d, tau, lr = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    ld = lambda n: np.load(os.path.join(d, n + ".npy"))
    emb = torch.nn.Embedding.from_pretrained(torch.tensor(ld("h1")), freeze=False, sparse=True)
    W = torch.nn.Parameter(torch.tensor(ld("W")))
    batch = torch.tensor(ld("batch").reshape(-1).astype(np.int64))
    off, tgt = ld("nb_off").reshape(-1).astype(np.int64), ld("nb_tgt").reshape(-1).astype(np.int64)
    w = ld("nb_w").reshape(-1)
    z = F.normalize(emb(batch), dim=1)
    a = second_order_input(emb.weight, batch.numpy(), off, tgt, w)
    p = F.normalize(a @ W.T, dim=1)
    s = z @ p.T / tau
    labels = torch.arange(len(batch))
    loss = 0.5 * (F.cross_entropy(s, labels) + F.cross_entropy(s.T, labels))
    loss.backward()
    np.save(os.path.join(d, "loss.npy"), np.array([[loss.item()]]))
    np.save(os.path.join(d, "grad_h1.npy"), emb.weight.grad.to_dense().numpy())
    np.save(os.path.join(d, "grad_W.npy"), W.grad.numpy())
    torch.optim.SparseAdam(list(emb.parameters()), lr=lr).step()
    torch.optim.Adam([W], lr=lr).step()
    np.save(os.path.join(d, "h1_after.npy"), emb.weight.detach().numpy())
    np.save(os.path.join(d, "W_after.npy"), W.detach().numpy())


main()
