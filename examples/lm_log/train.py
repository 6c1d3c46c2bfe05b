"""A character-level language model trainer in the style of common public example scripts:
argparse flags in, human-readable log lines out, and nothing that knows the orchestrator.

    | epoch   3 |    40/   60 batches | lr 0.50 | loss  2.31 | ppl    10.07
    -----------------------------------------------------------------------
    | end of epoch   3 | time:  0.05s | valid loss  2.11 | valid ppl     8.25
    -----------------------------------------------------------------------

The model: a low-rank bigram model (an embedding, then a softmax over the next character)
trained with SGD in NumPy on text drawn from a fixed random Markov chain, so it runs in a
fraction of a second per epoch on a CPU; its validation perplexity has a floor (the
chain's own entropy), and a wider embedding gets nearer to it.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

VOCAB = 24


def corpus(length: int, seed: int = 1234) -> np.ndarray:
    """Text from a fixed Markov chain over VOCAB characters (the same for every run)."""
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.full(VOCAB, 0.15), size=VOCAB)
    text = np.empty(length, dtype=np.int64)
    text[0] = 0
    draws = rng.random(length)
    cumulative = table.cumsum(1)
    for i in range(1, length):
        text[i] = min(np.searchsorted(cumulative[text[i - 1]], draws[i]), VOCAB - 1)
    return text


def cross_entropy(embed: np.ndarray, decode: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Mean loss, and the gradients of the embedding and the decoder."""
    hidden = embed[x]
    logits = hidden @ decode
    logits -= logits.max(1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(1, keepdims=True)
    loss = -np.log(probs[np.arange(len(y)), y] + 1e-12).mean()
    delta = probs
    delta[np.arange(len(y)), y] -= 1.0
    delta /= len(y)
    grad_decode = hidden.T @ delta
    grad_embed = np.zeros_like(embed)
    np.add.at(grad_embed, x, delta @ decode.T)
    return float(loss), grad_embed, grad_decode


def main() -> None:
    parser = argparse.ArgumentParser(description="Character-level bigram language model")
    parser.add_argument("--lr", type=float, default=0.5, help="initial learning rate")
    parser.add_argument("--emsize", type=int, default=8, help="size of the embedding")
    parser.add_argument("--epochs", type=int, default=6, help="upper epoch limit")
    parser.add_argument("--bptt", type=int, default=64, help="batch length")
    parser.add_argument("--seed", type=int, default=1111, help="random seed")
    parser.add_argument("--log-interval", type=int, default=40, help="report interval")
    args = parser.parse_args()
    print(args)

    rng = np.random.default_rng(args.seed)
    text = corpus(24_000)
    train, valid = text[:20_000], text[20_000:]
    embed = rng.normal(0, 0.1, (VOCAB, args.emsize))
    decode = rng.normal(0, 0.1, (args.emsize, VOCAB))
    batches = len(train) // args.bptt
    lr = args.lr
    best_val = None
    for epoch in range(1, args.epochs + 1):
        started = time.time()
        for batch, start in enumerate(range(0, batches * args.bptt, args.bptt), 1):
            chunk = train[start : start + args.bptt + 1]
            loss, g_embed, g_decode = cross_entropy(embed, decode, chunk[:-1], chunk[1:])
            embed -= lr * g_embed * VOCAB
            decode -= lr * g_decode
            if batch % args.log_interval == 0:
                ppl = math.exp(min(loss, 50))
                print(f"| epoch {epoch:3d} | {batch:5d}/{batches:5d} batches | lr {lr:.2f} | "
                      f"loss {loss:5.2f} | ppl {ppl:8.2f}", flush=True)  # fmt: skip
        val_loss = cross_entropy(embed, decode, valid[:-1], valid[1:])[0]
        print("-" * 89)
        val_ppl = math.exp(min(val_loss, 50))
        print(f"| end of epoch {epoch:3d} | time: {time.time() - started:5.2f}s | "
              f"valid loss {val_loss:5.2f} | valid ppl {val_ppl:8.2f}")  # fmt: skip
        print("-" * 89, flush=True)
        if best_val is None or val_loss < best_val:
            best_val = val_loss
        else:
            lr /= 4.0  # anneal when validation stops improving


if __name__ == "__main__":
    main()
