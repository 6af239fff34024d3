"""Trains hyrecall's miniature HypeNet pair on a GPU: a base model that
retrieves needles, then a chain-of-thought SFT of it (tools/miniature/README.md).

  python3 train.py tokenizer --out DIR
  python3 train.py base --tokenizer DIR/tokenizer.json --out DIR [--steps N ...]
  python3 train.py sft  --base DIR --out DIR [--steps N --lr LR ...]
  python3 train.py evaluate --model DIR [--restore-from BASE]
  python3 train.py golden --model DIR            (writes DIR/golden.safetensors)

Every hyper-parameter is a flag with its default here, and each run writes the
values it used to OUT/train_args.json; seeds fix every draw.
"""
import argparse
import io
import json
import math
import os
import random
import shutil
import tarfile
import time

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tokenizers import Tokenizer

import data
from model import HypeNet, hf_config, load_hf, save_hf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_sources():
    with tarfile.open(os.path.join(ROOT, "data/haystacks/austen.txt.tar.xz")) as t:
        member = next(m for m in t.getmembers() if m.isfile())
        text = t.extractfile(member).read().decode("utf-8")
    wl = os.path.join(ROOT, "data/wordlists/wonderwords-2.2.0")
    read = lambda name: [w.strip() for w in open(os.path.join(wl, name)) if w.strip()]
    return data.Sources(text, read("adjectivelist.txt"), read("nounlist.txt"))


# ---- batches -------------------------------------------------------------------

class Batches(torch.utils.data.IterableDataset):
    """Endless batches [B, L] of ids with two loss masks: `answer` (targets that
    are the answer or the closing end-of-text) and `text` (every real target)."""

    def __init__(self, kind, tok_path, seed, tokens_per_batch, lengths, weights, short_steps=0, short_max=1024,
                 needle_fraction=0.0, needle_lengths=(256, 512)):
        self.kind, self.tok_path, self.seed = kind, tok_path, seed
        self.tokens_per_batch, self.lengths, self.weights = tokens_per_batch, lengths, weights
        self.short_steps, self.short_max = short_steps, short_max
        # SFT only: this fraction of rows are needle samples of needle_lengths tokens
        # (issue #25, hypothesis a: real CoT data still exercises short-range copying).
        self.needle_fraction, self.needle_lengths = needle_fraction, needle_lengths
        self.tasks = list(data.TASKS)

    def needle_row(self, rng, tok, src, eos, L, per_unit):
        """A RULER-template sample of at most L + 1 tokens with its answer appended:
        (ids, index of the first answer token). per_unit (tokens per haystack unit,
        by haystack) is learnt as rows are made, so rows come close to L."""
        task = rng.choice(self.tasks)
        hay = data.TASKS[task][0]
        units = max(1, int((L - 80) / per_unit[hay]))
        for _ in range(6):
            prompt, answer, _ = data.niah_text(rng, src, task, units)
            p, a = tok.encode(prompt).ids, tok.encode(answer).ids + [eos]
            n = len(p) + len(a)
            per_unit[hay] = 0.8 * per_unit[hay] + 0.2 * (len(p) - 80) / units
            if n <= L + 1:
                break
            units = max(1, int(units * (L + 1) / n * 0.97))
        return (p + a)[: L + 1], len(p)

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid, workers = (info.id, info.num_workers) if info else (0, 1)
        rng = random.Random(self.seed * 1000 + wid)
        tok = Tokenizer.from_file(self.tok_path)
        src = load_sources()
        eos = tok.token_to_id(data.EOS)
        per_unit = {"essay": 1.4, "noise": 24.0, "needle": 20.0}
        short = [(n, w) for n, w in zip(self.lengths, self.weights) if n <= self.short_max]
        for local in range(1 << 62):
            # The DataLoader takes batches from the workers in turn, so this batch is
            # global step local * workers + wid: the curriculum's short phase first.
            if local * workers + wid < self.short_steps and short:
                L = rng.choices([n for n, _ in short], [w for _, w in short])[0]
            else:
                L = rng.choices(self.lengths, self.weights)[0]
            B = max(1, self.tokens_per_batch // L)
            ids = torch.full((B, L + 1), eos, dtype=torch.long)
            ans = torch.zeros((B, L), dtype=torch.bool)
            txt = torch.zeros((B, L), dtype=torch.bool)
            for b in range(B):
                if self.kind == "sft" and rng.random() < self.needle_fraction:
                    row, p = self.needle_row(rng, tok, src, eos, min(L, rng.choice(self.needle_lengths)), per_unit)
                    ids[b, :len(row)] = torch.tensor(row)
                    ans[b, p - 1:len(row) - 1] = True
                    continue
                if self.kind == "sft":
                    row = []
                    while len(row) < L + 1:
                        q, sol, _ = data.arithmetic_problem(rng)
                        qi, si = tok.encode(q).ids, tok.encode(sol).ids + [eos]
                        if len(row) + len(qi) + len(si) > L + 1:
                            break
                        a = len(row) + len(qi)
                        row += qi + si
                        ans[b, a - 1:a - 1 + len(si)] = True
                    ids[b, :len(row)] = torch.tensor(row)
                    continue
                if rng.random() < 0.15:  # plain text
                    start = rng.randrange(len(src.text) - 8 * L)
                    row = tok.encode(src.text[start:start + 6 * L]).ids[: L + 1]
                    ids[b, :len(row)] = torch.tensor(row)
                    txt[b, :len(row) - 1] = True
                    continue
                row, p = self.needle_row(rng, tok, src, eos, L, per_unit)
                ids[b, :len(row)] = torch.tensor(row)
                txt[b, :len(row) - 1] = True
                ans[b, p - 1:len(row) - 1] = True
            yield ids, ans, txt


def loader(batches, workers):
    return iter(torch.utils.data.DataLoader(batches, batch_size=None, num_workers=workers, prefetch_factor=4,
                                            persistent_workers=True))


def lr_at(step, steps, peak, warmup, floor):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / max(1, steps - warmup)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


def softmax_qk_names(model):
    """W_Q and W_K of the softmax-attention layers: what QK-Restore swaps."""
    attn = [i for i, kind in enumerate(model.config["mixer_types"]) if kind == "attn"]
    return {f"model.layers.{i}.self_attn.{m}_proj.weight" for i in attn for m in "qk"}


def select_trainable(model, trainable):
    """all | no-qk (W_Q/W_K of the softmax layers frozen) | qk-only (only those
    train): issue #25's controls of the paper's mechanism."""
    qk = softmax_qk_names(model)
    for name, p in model.named_parameters():
        p.requires_grad_(trainable == "all" or (name in qk) == (trainable == "qk-only"))


def train_loop(model, it, args, log, text_weight):
    # No weight decay on the norm weights: with q/k RMSNorm they set how sharp
    # attention can be (|q.k|/sqrt(d) <= sqrt(d) max w_q w_k), which retrieval needs.
    # W_Q/W_K of the softmax layers get their own decay when --qk-weight-decay is
    # given (issue #25, hypothesis d); otherwise the same as every matrix.
    qk_names = softmax_qk_names(model)
    qk_decay = getattr(args, "qk_weight_decay", None)
    qk_decay = args.weight_decay if qk_decay is None else qk_decay
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    qk = [p for n, p in named if n in qk_names]
    matrices = [p for n, p in named if p.dim() >= 2 and n not in qk_names]
    vectors = [p for n, p in named if p.dim() < 2]
    groups = [{"params": matrices, "weight_decay": args.weight_decay}, {"params": qk, "weight_decay": qk_decay},
              {"params": vectors, "weight_decay": 0.0}]
    opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=args.lr, betas=(0.9, 0.95), fused=True)
    t0, seen = time.time(), 0
    for step in range(args.steps):
        ids, ans, txt = (t.cuda(non_blocking=True) for t in next(it))
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup, args.lr_floor)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(ids[:, :-1])
        ce = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                             reduction="none").view_as(ans)
        loss_ans = (ce * ans).sum() / ans.sum().clamp(min=1)
        loss_txt = (ce * txt).sum() / txt.sum().clamp(min=1)
        loss = loss_ans + text_weight * loss_txt
        acc_ans = ((logits.argmax(-1) == ids[:, 1:]) & ans).sum() / ans.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += ids.numel()
        if step % 50 == 0 or step == args.steps - 1:
            rec = {"step": step, "L": ids.shape[1] - 1, "loss_answer": round(loss_ans.item(), 4),
                   "loss_text": round(loss_txt.item(), 4), "acc_answer": round(acc_ans.item(), 3), "tokens": seen, "s": round(time.time() - t0, 1)}
            print(json.dumps(rec), flush=True)
            log.append(rec)
        if args.time_limit and time.time() - t0 > args.time_limit:
            print(f"time limit reached at step {step}", flush=True)
            log.append({"stopped_at_step": step})
            break


# ---- evaluation (a quick GPU check; the reported tables come from hyrecall) -------

@torch.no_grad()
def greedy(model, ids, n, eos):
    out = []
    x = ids
    for _ in range(n):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            nxt = model(x)[:, -1].argmax(-1)
        out.append(nxt)
        x = torch.cat([x, nxt[:, None]], 1)
    return torch.stack(out, 1)


def evaluate(model, tok, src, tasks, lengths, samples, seed):
    model.eval()
    eos = tok.token_to_id(data.EOS)
    res = {}
    for task in tasks:
        for L in lengths:
            rng = random.Random(seed)
            hay = data.TASKS[task][0]
            units = max(1, int((L - 80) / {"essay": 1.35, "noise": 24.0, "needle": 20.0}[hay]))
            ok = 0
            for _ in range(samples):
                prompt, answer, answers = data.niah_text(rng, src, task, units)
                ids = torch.tensor([tok.encode(prompt).ids], device="cuda")
                gen = greedy(model, ids, len(tok.encode(answer).ids) + 2, eos)[0].tolist()
                text = tok.decode(gen)
                ok += all(a in text for a in answers)
            res[f"{task}@{L}"] = ok / samples
    rng = random.Random(seed + 1)
    ok = 0
    for _ in range(samples):
        q, sol, result = data.arithmetic_problem(rng)
        ids = torch.tensor([tok.encode(q).ids], device="cuda")
        text = tok.decode(greedy(model, ids, len(tok.encode(sol).ids) + 2, eos)[0].tolist())
        ok += f"The answer is {result}." in text
    res["arithmetic"] = ok / samples
    model.train()
    return res


def restored(sft, base):
    """QK-Restore as hyrecall's default (--restore qk --restore-layers full):
    W_Q and W_K of the softmax-attention layers from base, all else from sft."""
    m = HypeNet(sft.config).cuda()
    sd = dict(sft.state_dict())
    attn = [i for i, kind in enumerate(sft.config["mixer_types"]) if kind == "attn"]
    for k, v in base.state_dict().items():
        if any(k in (f"model.layers.{i}.self_attn.q_proj.weight", f"model.layers.{i}.self_attn.k_proj.weight")
               for i in attn):
            sd[k] = v
    m.load_state_dict(sd)
    return m


# ---- golden fixture ----------------------------------------------------------------

@torch.no_grad()
def write_golden(model_dir, T, G, seed):
    """golden.safetensors in the layout of tests/goldens: float32 on the CPU, weights
    as stored (bf16 widened), a parallel pass for the logits, greedy tokens by
    repeated parallel passes (this reference has no cache), and the parallel rows
    for the generated positions."""
    torch.set_default_dtype(torch.float32)
    model = load_hf(model_dir, "cpu").eval()
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    rng = random.Random(seed)
    prompt, _, _ = data.niah_text(rng, load_sources(), "niah_single_2", 60)
    ids = tok.encode(prompt).ids
    ids = ids[-T:] if len(ids) >= T else ids
    x = torch.tensor([ids])
    logits = model(x)[0]
    gen = []
    for _ in range(G):
        nxt = int(model(x)[0, -1].argmax())
        gen.append(nxt)
        x = torch.cat([x, torch.tensor([[nxt]])], 1)
    full = model(x)[0, len(ids):len(ids) + G]
    save_file({"input_ids": torch.tensor(ids, dtype=torch.int32), "logits": logits.contiguous(),
               "generated_ids": torch.tensor(gen, dtype=torch.int32), "full_logits_last": full.contiguous()},
              os.path.join(model_dir, "golden.safetensors"),
              metadata={"model_type": "hypenet", "torch": torch.__version__,
                        "reference": "tools/miniature/model.py, float32, CPU"})
    print(f"golden: T={len(ids)} G={G} first ids {gen[:8]}", flush=True)


# ---- commands --------------------------------------------------------------------

def cmd_tokenizer(args):
    src = load_sources()
    rng = random.Random(args.seed)
    corpus = [src.text]
    for i in range(400):
        corpus.append(data.niah_text(rng, src, list(data.TASKS)[i % 8], 60)[0])
    for _ in range(20000):
        q, s, _ = data.arithmetic_problem(rng)
        corpus.append(q + s)
    corpus += src.adjectives + src.nouns
    tok = data.build_tokenizer(corpus, args.vocab)
    os.makedirs(args.out, exist_ok=True)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    print(f"tokenizer: {tok.get_vocab_size()} tokens", flush=True)


def save_run(model, args, out, tok_path, log, extra):
    save_hf(model, out)
    shutil.copy(tok_path, os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "train_args.json"), "w") as f:
        json.dump({"args": vars(args), "torch": torch.__version__, "log": log, **extra}, f, indent=1)


def cmd_base(args):
    torch.manual_seed(args.seed)
    tok = Tokenizer.from_file(args.tokenizer)
    cfg = hf_config(hidden=args.hidden, heads=args.heads, kv_heads=args.kv_heads, head_dim=args.head_dim,
                    intermediate=args.intermediate, vocab=tok.get_vocab_size(), eos=tok.token_to_id(data.EOS),
                    layers=args.layers.split(","), logits_scaling=args.hype)
    model = HypeNet(cfg).cuda()
    print(f"parameters: {sum(p.numel() for p in model.parameters())}", flush=True)
    lengths = [int(x) for x in args.lengths.split(",")]
    weights = [float(x) for x in args.length_weights.split(",")]
    it = loader(Batches("niah", args.tokenizer, args.seed, args.batch_tokens, lengths, weights, args.short_steps),
                args.workers)
    log = []
    train_loop(model, it, args, log, args.text_weight)
    res = evaluate(model, tok, load_sources(), ["niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1"],
                   [int(x) for x in args.eval_lengths.split(",")], args.eval_samples, 7)
    print("eval", json.dumps(res), flush=True)
    save_run(model, args, args.out, args.tokenizer, log, {"eval": res})


def cmd_sft(args):
    torch.manual_seed(args.seed)
    tok_path = os.path.join(args.base, "tokenizer.json")
    tok = Tokenizer.from_file(tok_path)
    base = load_hf(args.base, "cuda")
    model = load_hf(args.base, "cuda")
    select_trainable(model, args.trainable)
    needle_lengths = [int(x) for x in args.needle_lengths.split(",")]
    it = loader(Batches("sft", tok_path, args.seed, args.batch_tokens, [args.length], [1.0],
                        needle_fraction=args.needle_fraction, needle_lengths=needle_lengths), args.workers)
    log = []
    train_loop(model, it, args, log, 0.0)
    src = load_sources()
    tasks = ["niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1"]
    lengths = [int(x) for x in args.eval_lengths.split(",")]
    res = {"sft": evaluate(model, tok, src, tasks, lengths, args.eval_samples, 7),
           "sft+qk": evaluate(restored(model, base), tok, src, tasks, lengths, args.eval_samples, 7)}
    print("eval", json.dumps(res), flush=True)
    save_run(model, args, args.out, tok_path, log, {"eval": res})


def cmd_evaluate(args):
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    model = load_hf(args.model, "cuda")
    if args.restore_from:
        model = restored(model, load_hf(args.restore_from, "cuda"))
    print(json.dumps(evaluate(model, tok, load_sources(), args.tasks.split(","),
                              [int(x) for x in args.lengths.split(",")], args.eval_samples, 7)), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tokenizer")
    t.add_argument("--out", required=True)
    t.add_argument("--vocab", type=int, default=4096)
    t.add_argument("--seed", type=int, default=1)

    def common(q, steps, lr, warmup, batch_tokens):
        q.add_argument("--out", required=True)
        q.add_argument("--seed", type=int, default=1)
        q.add_argument("--steps", type=int, default=steps)
        q.add_argument("--lr", type=float, default=lr)
        q.add_argument("--lr-floor", type=float, default=0.1, help="final lr as a fraction of the peak (cosine)")
        q.add_argument("--warmup", type=int, default=warmup)
        q.add_argument("--weight-decay", type=float, default=0.1)
        q.add_argument("--batch-tokens", type=int, default=batch_tokens)
        q.add_argument("--workers", type=int, default=12)
        q.add_argument("--time-limit", type=float, default=0, help="stop after this many seconds (0: none)")
        q.add_argument("--eval-samples", type=int, default=32)

    b = sub.add_parser("base")
    common(b, 6500, 2e-3, 200, 65536)
    b.add_argument("--tokenizer", required=True)
    b.add_argument("--hidden", type=int, default=256)
    b.add_argument("--heads", type=int, default=4)
    b.add_argument("--kv-heads", type=int, default=2)
    b.add_argument("--head-dim", type=int, default=64)
    b.add_argument("--intermediate", type=int, default=768)
    b.add_argument("--layers", default="lightning-attn,lightning-attn,attn,lightning-attn,lightning-attn,attn")
    b.add_argument("--hype", default=None, help="attn_logits_scaling of the softmax layers, e.g. 'hype 500' "
                   "(HypeNet's query scaling; issue #25, hypothesis b); default none")
    b.add_argument("--lengths", default="256,512,1024,2048,4096")
    b.add_argument("--length-weights", default="1,1,2,2,3")
    b.add_argument("--eval-lengths", default="1024,4096", help="lengths of the quick GPU check")
    b.add_argument("--text-weight", type=float, default=0.1, help="weight of the plain LM loss beside the answer loss")
    b.add_argument("--short-steps", type=int, default=1500,
                   help="curriculum: the first N steps draw only lengths <= 1024")
    s = sub.add_parser("sft")
    common(s, 600, 3e-4, 30, 32768)
    s.add_argument("--base", required=True)
    s.add_argument("--length", type=int, default=512, help="rows of packed worked problems")
    s.add_argument("--needle-fraction", type=float, default=0.0,
                   help="fraction of rows that are short needle samples (0: worked sums only)")
    s.add_argument("--needle-lengths", default="256,512", help="token lengths the needle rows are drawn from")
    s.add_argument("--qk-weight-decay", type=float, default=None,
                   help="AdamW decay of W_Q/W_K of the softmax layers (default: --weight-decay)")
    s.add_argument("--trainable", choices=["all", "no-qk", "qk-only"], default="all",
                   help="no-qk: W_Q/W_K of the softmax layers frozen; qk-only: only those train")
    s.add_argument("--eval-lengths", default="1024,4096", help="lengths of the quick GPU check")
    e = sub.add_parser("evaluate")
    e.add_argument("--model", required=True)
    e.add_argument("--restore-from")
    e.add_argument("--tasks", default="niah_single_1,niah_single_2,niah_single_3,niah_multikey_1")
    e.add_argument("--lengths", default="1024,4096")
    e.add_argument("--eval-samples", type=int, default=32)
    g = sub.add_parser("golden")
    g.add_argument("--model", required=True)
    g.add_argument("--tokens", type=int, default=128)
    g.add_argument("--generate", type=int, default=16)
    g.add_argument("--seed", type=int, default=5)
    args = p.parse_args()
    if args.cmd == "golden":
        write_golden(args.model, args.tokens, args.generate, args.seed)
        return
    {"tokenizer": cmd_tokenizer, "base": cmd_base, "sft": cmd_sft, "evaluate": cmd_evaluate}[args.cmd](args)


if __name__ == "__main__":
    main()
