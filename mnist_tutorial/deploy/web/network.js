// The lesson's network in plain JavaScript: fc1 (784 -> 128), ReLU, fc2 (128 -> 64), ReLU, fc3 (64 -> 10),
// then softmax. The weights come from model.js, which `mnist-tutorial export` writes beside this page.
"use strict";

const Network = (() => {
  // Base64 of little-endian float32 numbers (as numpy's "<f4" writes them) -> Float32Array.
  function decode(base64) {
    const bytes = Uint8Array.from(atob(base64), (character) => character.charCodeAt(0));
    const view = new DataView(bytes.buffer);
    return Float32Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(4 * i, true));
  }

  // The layers of model.js, decoded: [{inputs, outputs, weight (outputs x inputs, row by row), bias}].
  function load(model) {
    return model.layers.map((layer) => ({
      inputs: layer.inputs,
      outputs: layer.outputs,
      weight: decode(layer.weight),
      bias: decode(layer.bias),
    }));
  }

  // x (784 numbers, normalised like the lesson's inputs) -> 10 raw scores (logits), as model(x) in PyTorch.
  function forward(layers, x) {
    layers.forEach((layer, index) => {
      const y = new Float64Array(layer.outputs);
      for (let o = 0; o < layer.outputs; o++) {
        let sum = layer.bias[o];
        const row = o * layer.inputs;
        for (let i = 0; i < layer.inputs; i++) sum += layer.weight[row + i] * x[i];
        y[o] = index < layers.length - 1 ? Math.max(sum, 0) : sum; // ReLU between the layers, not after the last
      }
      x = y;
    });
    return Array.from(x);
  }

  // Scores -> probabilities that sum to 1 (the largest score is subtracted first, so exp never overflows).
  function softmax(logits) {
    const largest = Math.max(...logits);
    const exps = logits.map((value) => Math.exp(value - largest));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((value) => value / total);
  }

  return { load, forward, softmax, predict: (layers, x) => softmax(forward(layers, x)) };
})();
