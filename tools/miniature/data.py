"""Training data for the miniature checkpoints, all generated from fixed seeds:

- a byte-level BPE tokenizer.json in Qwen3's layout (NFC, Qwen's split regex,
  ByteLevel bytes-to-unicode), which hyrecall's tokenizer/ reads;
- RULER-style needle-in-a-haystack samples (the templates of NVIDIA/RULER
  scripts/data/synthetic/niah.py, as niah/niah_tasks.h spells them) over the
  three haystacks (noise lines, Austen's novels as essay text, needle lines),
  with the answer appended: the base model's retrieval curriculum;
- plain Austen text (ordinary language modelling);
- worked multi-step arithmetic, the chain-of-thought SFT data. Its format is the
  one `hyrecall eval` asks and scores (engine/cli/cmd_eval.c): keep them equal.
"""
import random
import re
import uuid

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

EOS = "<|endoftext|>"
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
              r"|\s+(?!\S)|\s+")

NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
NEEDLE = "One of the special magic {} for {} is: {}."
TEMPLATE = ("Some special magic {v} are hidden within the following text. Make sure to memorize it. I will "
            "quiz you about the {v} afterwards.\n{context}\nWhat are all the special magic {v} for "
            "{query} mentioned in the provided text?")
ANSWER_PREFIX = " The special magic {v} for {query} mentioned in the provided text are"

# RULER's eight tasks: haystack, key kind, value kind, keys, values per key, queries (niah/niah_tasks.c)
TASKS = {
    "niah_single_1": ("noise", "words", "numbers", 1, 1, 1),
    "niah_single_2": ("essay", "words", "numbers", 1, 1, 1),
    "niah_single_3": ("essay", "words", "uuids", 1, 1, 1),
    "niah_multikey_1": ("essay", "words", "numbers", 4, 1, 1),
    "niah_multikey_2": ("needle", "words", "numbers", 1, 1, 1),
    "niah_multikey_3": ("needle", "uuids", "uuids", 1, 1, 1),
    "niah_multivalue": ("essay", "words", "numbers", 1, 4, 1),
    "niah_multiquery": ("essay", "words", "numbers", 1, 1, 4),
}


def build_tokenizer(corpus_texts, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus_texts, trainer)
    return tok


class Sources:
    """The haystack text and word lists, read once."""

    def __init__(self, austen_text, adjectives, nouns):
        self.text = austen_text
        self.words = austen_text.split()
        self.adjectives, self.nouns = adjectives, nouns


def draw(rng, src, kind):
    if kind == "words":
        return f"{rng.choice(src.adjectives)}-{rng.choice(src.nouns)}"
    if kind == "numbers":
        return str(rng.randint(10 ** 6, 10 ** 7 - 1))
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def niah_text(rng, src, task, units):
    """One sample with `units` haystack units (words for essays, lines otherwise):
    returns (prompt ending in the answer prefix, answer continuation)."""
    haystack, kk, vk, K, V, Q = TASKS[task]
    K = max(K, Q)  # RULER: num_needle_k = max(num_needle_k, num_needle_q)
    keys = [draw(rng, src, kk) for _ in range(K)]
    values = [[draw(rng, src, vk) for _ in range(V)] for _ in range(K)]
    needles = [NEEDLE.format(vk, keys[i], values[i][j]) for i in range(K) for j in range(V)]
    rng.shuffle(needles)
    if haystack == "essay":
        start = 0 if rng.random() < 0.3 else rng.randrange(len(src.words))
        words = [src.words[(start + w) % len(src.words)] for w in range(units)]
        sents = SENTENCE_END.split(" ".join(words))
        at = sorted(int(len(sents) * rng.uniform(0, 1)) for _ in needles)
        parts, last = [], 0
        for pos, needle in zip(at, needles):
            parts.append(" ".join(sents[last:pos]))
            parts.append(needle)
            last = pos
        parts.append(" ".join(sents[last:]))
        context = " ".join(p for p in parts if p)
    else:
        lines = [NOISE if haystack == "noise" else NEEDLE.format(vk, draw(rng, src, kk), draw(rng, src, vk))
                 for _ in range(units)]
        for needle, at in zip(needles, sorted((rng.randrange(units + 1) for _ in needles), reverse=True)):
            lines.insert(at, needle)
        context = "\n".join(lines)
    queried = rng.sample(range(K), Q)
    query = ", ".join(keys[q] for q in queried[:-1]) + (", and " if Q > 1 else "") + keys[queried[-1]]
    answers = [values[q][j] for q in queried for j in range(V)]
    v = vk
    template, prefix = TEMPLATE, ANSWER_PREFIX
    if V * Q == 1:
        template = template.replace("Some", "A").replace("are all", "is").replace("are", "is").replace("answers", "answer")
        prefix = prefix.replace("are", "is")
        v = vk[:-1]
    prompt = template.format(v=v, context=context, query=query) + prefix.format(v=v, query=query)
    answer = " " + (answers[0] if len(answers) == 1 else ", ".join(answers[:-1]) + ", and " + answers[-1]) + "."
    return prompt, answer, answers


def arithmetic_problem(rng):
    """A worked sum of 2-4 numbers in 1..99: (question, worked solution, result).
    Draw order: count, numbers, operators (cmd_eval.c draws the same)."""
    n = rng.randint(2, 4)
    xs = [rng.randint(1, 99) for _ in range(n)]
    ops = ["+-"[rng.randint(0, 1)] for _ in range(n - 1)]
    question = "Question: " + str(xs[0]) + "".join(f" {o} {x}" for o, x in zip(ops, xs[1:])) + " = ?\nAnswer:"
    acc, steps = xs[0], []
    for o, x in zip(ops, xs[1:]):
        new = acc + x if o == "+" else acc - x
        steps.append(f"{acc} {o} {x} = {new}.")
        acc = new
    return question, " " + " ".join(steps) + f" The answer is {acc}.", acc
