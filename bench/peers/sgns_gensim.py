"""Peer of bench/embed: gensim Word2Vec skip-gram with negative sampling on the same sequences.

usage: sgns_gensim.py CORPUS DIM WINDOW NEGATIVE SAMPLE REPEATS
CORPUS: one sequence per line, space-separated tokens. One worker thread, one epoch, min_count 1.
Times train() only (the vocabulary is built first, untimed), REPEATS times, and prints one JSON
line: {"words_per_s" (median, raw tokens per CPU-second), "tokens", "gensim"}.
"""
import json
import logging
import sys
import time

import numpy as np
from gensim.models import Word2Vec
import gensim


def main():
    corpus = sys.argv[1]
    dim, window, negative = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    sample, repeats = float(sys.argv[5]), int(sys.argv[6])
    logging.disable(logging.CRITICAL)
    rates, tokens = [], 0
    for _ in range(repeats):
        m = Word2Vec(vector_size=dim, window=window, negative=negative, sg=1, hs=0, sample=sample, min_count=1,
                     workers=1, epochs=1, seed=1)
        m.build_vocab(corpus_file=corpus)
        tokens = m.corpus_total_words
        t0 = time.process_time()  # CPU seconds of all threads: the machine is shared
        m.train(corpus_file=corpus, total_words=tokens, epochs=1)
        rates.append(tokens / (time.process_time() - t0))
    print(json.dumps({"words_per_s": float(np.median(rates)), "tokens": int(tokens), "gensim": gensim.__version__}), flush=True)


main()
