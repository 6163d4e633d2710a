// The drawing prepared like an MNIST digit: the same steps, in the same arithmetic, as
// mnist_tutorial/drawing.py (read that file for why each step is there). A test checks that both give
// the same 784 numbers for the same strokes, so change one only together with the other.
"use strict";

const Preprocess = (() => {
  const SIZE = 28; // MNIST images are 28x28 ...
  const BOX = 20; // ... with the digit scaled to fit 20x20 inside them
  const CENTRE = 14; // ... and its centre of mass on pixel (14, 14)

  // Strokes (arrays of [x, y] canvas points) as ink: size*size bytes, 0 = paper, 255 = ink.
  // A pixel is ink when its centre lies within width / 2 of a segment between consecutive points.
  function rasterize(strokes, size, width) {
    const ink = new Uint8Array(size * size);
    const radius = width / 2;
    for (const points of strokes) {
      if (points.length === 0) continue;
      for (let k = 0; k < Math.max(points.length - 1, 1); k++) {
        const end = points.length > 1 ? points[k + 1] : points[k];
        inkSegment(ink, size, points[k], end, radius);
      }
    }
    return ink;
  }

  function inkSegment(ink, size, [x0, y0], [x1, y1], radius) {
    const [top, bottom] = pixelWindow(Math.min(y0, y1) - radius, Math.max(y0, y1) + radius, size);
    const [left, right] = pixelWindow(Math.min(x0, x1) - radius, Math.max(x0, x1) + radius, size);
    const dx = x1 - x0;
    const dy = y1 - y0;
    const length2 = dx * dx + dy * dy;
    for (let row = top; row < bottom; row++) {
      const py = row + 0.5;
      for (let column = left; column < right; column++) {
        const px = column + 0.5;
        const t = length2 > 0 ? Math.min(Math.max(((px - x0) * dx + (py - y0) * dy) / length2, 0), 1) : 0;
        const ex = px - (x0 + t * dx);
        const ey = py - (y0 + t * dy);
        if (ex * ex + ey * ey <= radius * radius) ink[row * size + column] = 255;
      }
    }
  }

  function pixelWindow(low, high, size) {
    return [Math.max(Math.floor(low) - 1, 0), Math.min(Math.ceil(high) + 1, size)];
  }

  // Whole-number weights for resizing `old` pixels to `fresh` by area: weights[r][i] is the overlap of
  // new pixel r, [r * old, (r + 1) * old), and old pixel i, [i * fresh, (i + 1) * fresh).
  function areaWeights(old, fresh) {
    const weights = [];
    for (let r = 0; r < fresh; r++) {
      const row = new Array(old).fill(0);
      for (let i = 0; i < old; i++) {
        row[i] = Math.max(Math.min((r + 1) * old, (i + 1) * fresh) - Math.max(r * old, i * fresh), 0);
      }
      weights.push(row);
    }
    return weights;
  }

  // Scale the box (rows of whole numbers) so its longer side is BOX pixels, by area averaging.
  function scaleToBox(box) {
    const height = box.length;
    const width = box[0].length;
    const longer = Math.max(height, width);
    const newHeight = Math.max(1, Math.floor((2 * height * BOX + longer) / (2 * longer)));
    const newWidth = Math.max(1, Math.floor((2 * width * BOX + longer) / (2 * longer)));
    const rowWeights = areaWeights(height, newHeight);
    const columnWeights = areaWeights(width, newWidth);
    const area = height * width;
    const small = [];
    for (let r = 0; r < newHeight; r++) {
      const rowSums = new Array(width).fill(0); // sum over the old rows, weighted for new row r
      for (let i = 0; i < height; i++) {
        if (rowWeights[r][i] === 0) continue;
        for (let j = 0; j < width; j++) rowSums[j] += rowWeights[r][i] * box[i][j];
      }
      const line = [];
      for (let c = 0; c < newWidth; c++) {
        let total = 0;
        for (let j = 0; j < width; j++) total += columnWeights[c][j] * rowSums[j];
        line.push(Math.floor((2 * total + area) / (2 * area)));
      }
      small.push(line);
    }
    return small;
  }

  // The shift that puts the centre of mass nearest to pixel CENTRE, within 0..room.
  function centreOffset(profile, room) {
    let total = 0;
    let moment = 0;
    profile.forEach((value, index) => {
      total += value;
      moment += index * value;
    });
    const shift = Math.floor(((2 * CENTRE + 1) * total - 2 * moment) / (2 * total));
    return Math.min(Math.max(shift, 0), room);
  }

  // Ink (size*size bytes) -> the 28x28 image prepared like MNIST, as 784 bytes (row by row).
  function toMnistBytes(ink, size) {
    let top = size, bottom = -1, left = size, right = -1;
    for (let row = 0; row < size; row++) {
      for (let column = 0; column < size; column++) {
        if (ink[row * size + column] > 0) {
          top = Math.min(top, row);
          bottom = Math.max(bottom, row);
          left = Math.min(left, column);
          right = Math.max(right, column);
        }
      }
    }
    const result = new Uint8Array(SIZE * SIZE);
    if (bottom < 0) return result;
    const box = [];
    for (let row = top; row <= bottom; row++) box.push(Array.from(ink.subarray(row * size + left, row * size + right + 1)));
    const small = scaleToBox(box);
    if (!small.some((line) => line.some((value) => value > 0))) {
      small[Math.floor(small.length / 2)][Math.floor(small[0].length / 2)] = 255;
    }
    const rowProfile = small.map((line) => line.reduce((a, b) => a + b, 0));
    const columnProfile = small[0].map((_, c) => small.reduce((sum, line) => sum + line[c], 0));
    const shiftDown = centreOffset(rowProfile, SIZE - small.length);
    const shiftRight = centreOffset(columnProfile, SIZE - small[0].length);
    small.forEach((line, r) => line.forEach((value, c) => (result[(shiftDown + r) * SIZE + shiftRight + c] = value)));
    return result;
  }

  // The lesson's ToTensor() + Normalize((mean,), (std,)), in float32 as torch computes it.
  function normalize(bytes, mean, std) {
    const f = Math.fround;
    return Float32Array.from(bytes, (value) => f(f(f(value / 255) - f(mean)) / f(std)));
  }

  return { SIZE, rasterize, toMnistBytes, normalize };
})();
