#!/usr/bin/env python3
"""Behaviour-unchanged check for refactors: runs the same commands with two
hyrecall binaries and compares every output bit for bit.

    python3 tools/same_bits.py OLD_BINARY NEW_BINARY

Outputs compared: `inspect` (layer plan, state and scratch bytes), `run --dump` (logits of the prompt and of every decode step)
and `lens --dump` on the five test goldens, at 1 and 2 threads; `restore`
(qk and procrustes) on the miniature pair; a `niah --lens` run (predictions,
lens tensors). Metadata that names the build (git commit, provenance, times)
is left out; every tensor's bytes and every prediction line must be equal.
Standard library only. Exit 0 when all agree, 1 otherwise."""
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDENS = ["hypenet", "jet_nemotron", "minimax", "qwen3_next", "qwen3_swa"]
IDS = "1,5,9,14,2,7,3,11,4,8,13,6,10,12,15,1,3,5,7,9,11,13,2,4,6,8,10,12,14,16,17,18"
MINI = os.path.join(ROOT, "data", "miniature")


def tensors(path):
    """name -> (dtype, shape, bytes) of a safetensors file; metadata dropped."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}


def commands(out):
    for g in GOLDENS:
        model = os.path.join(ROOT, "tests", "goldens", g)
        yield ["inspect", model]  # layer plan, state and scratch sizes
        for t in (1, 2):
            yield ["run", "-m", model, "--ids", IDS, "-n", "6", "-t", str(t),
                   "--dump", f"{out}/run-{g}-t{t}.safetensors"]
            yield ["lens", "-m", model, "--ids", IDS, "--threads", str(t),
                   "--dump", f"{out}/lens-{g}-t{t}.safetensors"]
    yield ["run", "-m", f"{MINI}/base", "-p", "The magic number is 42. What is the magic number?", "-n", "6",
           "--dump", f"{out}/run-text.safetensors"]
    for method in ("qk", "procrustes"):
        yield ["restore", "--method", method, "--base", f"{MINI}/base", "--tuned", f"{MINI}/sft",
               "--out", f"{out}/restore-{method}"]
    yield ["niah", "--compare", f"base={MINI}/base,sft+qk={MINI}/sft+qk@{MINI}/base", "--tasks", "S1,S2",
           "--lengths", "1k", "--samples", "3", "--lens", "--out", f"{out}/niah"]


def run_all(binary, out):
    for args in commands(out):
        p = subprocess.run([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with open(f"{out}/stdout.txt", "a") as f:
            # Timing lines (tokens/s) differ run to run; everything else must not.
            f.write(" ".join(args[:1]) + f" rc={p.returncode}\n")
            f.write("".join(l.replace(out, "OUT") + "\n" for l in p.stdout.splitlines()
                            if "tok/s" not in l and "elapsed" not in l))


def files(out):
    for d, _, names in os.walk(out):
        for n in names:
            yield os.path.relpath(os.path.join(d, n), out)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    old_bin, new_bin = map(os.path.abspath, sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        a, b = f"{tmp}/old", f"{tmp}/new"
        os.makedirs(a), os.makedirs(b)
        run_all(old_bin, a)
        run_all(new_bin, b)
        bad = 0
        checked = 0
        for rel in sorted(set(files(a)) | set(files(b))):
            pa, pb = f"{a}/{rel}", f"{b}/{rel}"
            if not (os.path.exists(pa) and os.path.exists(pb)):
                print(f"only in one: {rel}")
                bad += 1
                continue
            if rel.endswith(".safetensors"):
                ta, tb = tensors(pa), tensors(pb)
                same = ta == tb
            elif rel.endswith((".jsonl", "stdout.txt", ".csv")):
                same = open(pa, "rb").read() == open(pb, "rb").read()
            else:
                continue  # run.json, summary.json, SVGs: build names and timings
            checked += 1
            if not same:
                print(f"DIFFERENT: {rel}")
                bad += 1
        print(f"same_bits: {checked} outputs compared, {bad} differ")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
