"""Ranks the SFT grid's quick GPU checks (grid.jsonl lines) by issue #25's
targets and prints the names of the best KEEP:
  SFT >= 85 % at 1K and <= 60 % at 16K (mean of S1 and S2); QK-Restore recovers
  at least half of the 16K gap (to the base's 100 %); SFT's arithmetic as the
  tie-breaker (the base has none, so the gain is SFT's accuracy).
  python3 rank.py grid.jsonl KEEP"""
import json
import sys


def recall(ev, length):
    return (ev[f"niah_single_1@{length}"] + ev[f"niah_single_2@{length}"]) / 2


def score(rec):
    sft, qk = rec["eval"]["sft"], rec["eval"]["sft+qk"]
    short, long_, long_qk = recall(sft, 1024), recall(sft, 16384), recall(qk, 16384)
    gap = 1.0 - long_
    recovered = (long_qk - long_) / gap if gap > 0 else 0.0
    met = (short >= 0.85) + (long_ <= 0.60) + (recovered >= 0.5) + (sft["arithmetic"] >= 0.15) + \
        (qk["arithmetic"] >= 0.8 * sft["arithmetic"])
    return met, min(short - 0.85, 0.6 - long_, recovered - 0.5) + sft["arithmetic"], short, long_, long_qk


recs = [json.loads(line) for line in open(sys.argv[1])]
ranked = sorted(recs, key=score, reverse=True)
for r in ranked:
    print(r["name"], [round(x, 2) if isinstance(x, float) else x for x in score(r)], file=sys.stderr)
for r in ranked[: int(sys.argv[2])]:
    print(r["name"])
