// The page: a canvas to draw on, what the network sees, and its ten probabilities as bars.
// Strokes are kept as points; the network's input is computed from them (preprocess.js), never read
// back from the canvas, so that Python's drawing.preprocess gives the same numbers for the same strokes.
"use strict";

(() => {
  const SIZE = 280; // the drawing's coordinates run from 0 to 280, and ...
  const PEN = 18; // ... the pen is 18 wide, as in the JupyterLab pad (widgets/digit_pad.py)
  const pad = document.getElementById("pad");
  const seen = document.getElementById("seen");
  const bars = document.getElementById("bars");
  const about = document.getElementById("about");
  const context = pad.getContext("2d");
  const sharpness = Math.min(Math.ceil(window.devicePixelRatio || 1), 3); // screen pixels per drawing pixel
  pad.width = pad.height = SIZE * sharpness;
  const state = { strokes: [], bytes: null, input: null, probabilities: null };
  window.mnistState = state; // for the curious (and the tests): open the browser's console and look
  let penDown = false;
  let pending = false;

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
      if (penDown) update();
      penDown = false;
    });
  }
  document.getElementById("clear").addEventListener("click", () => {
    state.strokes = [];
    paint();
    update();
  });
  paint();
  update();
})();
