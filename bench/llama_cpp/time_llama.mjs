// Times llama.cpp's CPU engine (npm node-llama-cpp, prebuilt) the way
// `hyrecall bench` times hyrecall: for each context, the prefill of that many
// tokens (micro-batches of 512) and then single-token decode steps after it.
//   node time_llama.mjs MODEL.gguf CONTEXTS DECODE_TOKENS THREADS
// CONTEXTS is a comma list of token counts; the first is a warm-up, printed
// but meant to be left out (it pays the first touches of the weights, as
// hyrecall's first context does). Prints one JSON line per context.
import { getLlama } from "node-llama-cpp";

const [modelPath, contextsArg, decodeArg, threadsArg] = process.argv.slice(2);
if (!modelPath || !contextsArg) {
    console.error("usage: node time_llama.mjs MODEL.gguf CONTEXTS DECODE_TOKENS THREADS");
    process.exit(2);
}
const contexts = contextsArg.split(",").map(Number);
const decodeTokens = Number(decodeArg || 16);
const threads = Number(threadsArg || 2);

const t0 = performance.now();
const llama = await getLlama({ gpu: false, build: "never", maxThreads: threads });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
console.log(JSON.stringify({ engine: "llama.cpp", load_s: (performance.now() - t0) / 1000,
                             cpu_variant: llama.buildType ?? null, threads }));

// Token ids as hyrecall bench draws them: a fixed linear congruential sequence
// over the vocabulary (random weights: the ids do not change the work).
function promptIds(n, vocab) {
    const ids = new Array(n);
    let x = 12345 >>> 0;
    for (let i = 0; i < n; i++) {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        ids[i] = (x >>> 8) % vocab;
    }
    return ids;
}

const QWEN3_REGULAR_TOKENS = 151643; // ids below the special tokens
for (const n of contexts) {
    const context = await model.createContext({ contextSize: n + decodeTokens + 16, batchSize: 512,
                                                threads: { ideal: threads, min: threads } });
    const seq = context.getSequence();
    const ids = promptIds(n, QWEN3_REGULAR_TOKENS);
    const p0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(ids);
    const prefill = (performance.now() - p0) / 1000;
    const d0 = performance.now();
    for (let i = 0; i < decodeTokens; i++) await seq.evaluateWithoutGeneratingNewTokens([ids[i]]);
    const decode = (performance.now() - d0) / 1000;
    console.log(JSON.stringify({ engine: "llama.cpp", context: n, prefill_s: prefill,
                                 prefill_tokens_per_s: n / prefill, decode_tokens: decodeTokens,
                                 decode_tokens_per_s: decodeTokens / decode }));
    await context.dispose();
}
await model.dispose();
