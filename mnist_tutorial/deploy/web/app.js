// The page: a canvas to draw on, what the network sees, and its ten probabilities as bars and in words.
// Without a mouse or a finger, "Show me a test digit" draws a test image on the pad as pen dots (one per
// inked pixel, as drawing.digit_strokes in Python), so the keyboard reaches a prediction through the same steps.
// Strokes are kept as points; the network's input is computed from them (preprocess.js), never read
// back from the canvas, so that Python's drawing.preprocess gives the same numbers for the same strokes.
"use strict";

(() => {
  const SIZE = 280; // the drawing's coordinates run from 0 to 280, and ...
  const PEN = 18; // ... the pen is 18 wide, as in the JupyterLab pad (CANVAS, PEN in deploy/drawing.py)
  const pad = document.getElementById("pad");
  const seen = document.getElementById("seen");
  const bars = document.getElementById("bars");
  const about = document.getElementById("about");
  const spoken = document.getElementById("spoken"); // aria-live: read out once a drawing is finished
  const exampleButton = document.getElementById("example");
  const context = pad.getContext("2d");
  const sharpness = Math.min(Math.ceil(window.devicePixelRatio || 1), 3); // screen pixels per drawing pixel
  pad.width = pad.height = SIZE * sharpness;
  const state = { strokes: [], bytes: null, input: null, probabilities: null };
  window.mnistState = state; // for the curious (and the tests): open the browser's console and look
  let penDown = false;
  let pending = false;
  let example = -1; // the test digit last shown

  if (typeof MNIST_MODEL === "undefined") {
    about.textContent = "model.js is missing: write this page with `mnist-tutorial export --checkpoint ... --out DIR`.";
    return;
  }
  const model = MNIST_MODEL;
  const layers = Network.load(model);
  const accuracy = model.testAccuracy === null ? "" : `, ${(100 * model.testAccuracy).toFixed(2)}% test accuracy`;
  about.textContent = `The network trained on ${model.trainedOn}${accuracy}. It runs in this page; nothing is sent anywhere.`;

  const rows = model.classNames.map((name) => {
    const row = document.createElement("li");
    row.innerHTML = '<span class="name"></span><span class="track"><span class="bar"></span></span><span class="value"></span>';
    row.querySelector(".name").textContent = name;
    bars.appendChild(row);
    return row;
  });

  function point(event) {
    const box = pad.getBoundingClientRect();
    return [((event.clientX - box.left) * SIZE) / box.width, ((event.clientY - box.top) * SIZE) / box.height];
  }

  function paint() {
    context.setTransform(sharpness, 0, 0, sharpness, 0, 0);
    context.fillStyle = "white";
    context.fillRect(0, 0, SIZE, SIZE);
    context.strokeStyle = context.fillStyle = "black";
    context.lineWidth = PEN;
    context.lineCap = context.lineJoin = "round";
    for (const points of state.strokes) {
      context.beginPath();
      context.moveTo(...points[0]);
      points.forEach((p) => context.lineTo(...p));
      if (points.length === 1) context.lineTo(points[0][0] + 0.01, points[0][1]); // a dot for a click
      context.stroke();
    }
  }

  // A 28x28 test image (base64 of 784 bytes, 0 = paper .. 255 = ink) as one dot per pixel of ink.
  function digitStrokes(pixels) {
    const bytes = Uint8Array.from(atob(pixels), (character) => character.charCodeAt(0));
    const scale = SIZE / Preprocess.SIZE;
    const strokes = [];
    bytes.forEach((value, i) => {
      const row = Math.floor(i / Preprocess.SIZE);
      const column = i % Preprocess.SIZE;
      if (value >= 128) strokes.push([[(column + 0.5) * scale, (row + 0.5) * scale]]);
    });
    return strokes;
  }

  // The three likeliest classes in words, for a screen reader (the bars say the same to the eye).
  function announce(prefix) {
    if (!state.probabilities) {
      spoken.textContent = prefix;
      return;
    }
    const order = model.classNames.map((_, i) => i).sort((a, b) => state.probabilities[b] - state.probabilities[a]);
    const likeliest = order.slice(0, 3).map((i) => `${model.classNames[i]} ${(100 * state.probabilities[i]).toFixed(1)}%`);
    spoken.textContent = `${prefix}Most likely: ${likeliest.join(", then ")}.`;
  }

  function update() {
    pending = false;
    const ink = Preprocess.rasterize(state.strokes, SIZE, PEN);
    state.bytes = Preprocess.toMnistBytes(ink, SIZE);
    state.input = Preprocess.normalize(state.bytes, model.normalization.mean, model.normalization.std);
    state.probabilities = state.strokes.length ? Network.predict(layers, state.input) : null;
    show();
  }

  function show() {
    const image = seen.getContext("2d").createImageData(Preprocess.SIZE, Preprocess.SIZE);
    (state.bytes || new Uint8Array(Preprocess.SIZE ** 2)).forEach((value, i) => {
      image.data.set([255 - value, 255 - value, 255 - value, 255], 4 * i); // ink shown dark on white
    });
    seen.getContext("2d").putImageData(image, 0, 0);
    const probabilities = state.probabilities || model.classNames.map(() => 0);
    const best = state.probabilities ? probabilities.indexOf(Math.max(...probabilities)) : -1;
    rows.forEach((row, i) => {
      row.classList.toggle("best", i === best);
      row.querySelector(".bar").style.width = `${100 * probabilities[i]}%`;
      row.querySelector(".value").textContent = state.probabilities ? `${(100 * probabilities[i]).toFixed(1)}%` : "";
    });
    document.getElementById("verdict").textContent =
      best < 0 ? "Draw a digit in the white box." : `The network reads: ${model.classNames[best]}`;
  }

  function later() {
    if (!pending) {
      pending = true;
      requestAnimationFrame(update);
    }
  }

  pad.addEventListener("pointerdown", (event) => {
    pad.setPointerCapture(event.pointerId);
    penDown = true;
    state.strokes.push([point(event)]);
    paint();
    later();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!penDown) return;
    state.strokes[state.strokes.length - 1].push(point(event));
    paint();
    later();
  });
  for (const type of ["pointerup", "pointercancel"]) {
    pad.addEventListener(type, () => {
      if (penDown) {
        update();
        announce("");
      }
      penDown = false;
    });
  }
  document.getElementById("clear").addEventListener("click", () => {
    state.strokes = [];
    paint();
    update();
    announce("Cleared.");
  });
  const examples = model.examples || [];
  exampleButton.hidden = examples.length === 0; // a dataset without the embedded sample has none to show
  exampleButton.addEventListener("click", () => {
    example = (example + 1) % examples.length;
    const shown = examples[example];
    state.strokes = digitStrokes(shown.pixels);
    paint();
    update();
    announce(`Test image ${shown.index}, a ${model.classNames[shown.label]}, drawn on the pad. `);
  });
  paint();
  update();
})();
