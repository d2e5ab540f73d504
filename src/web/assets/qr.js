// A QR code encoder (ISO/IEC 18004) for the setup screen's otpauth:// URI, so that an
// authenticator app can scan it. The URI holds the new TOTP secret, so it is drawn here in the
// browser instead of being sent to any QR service. Byte mode, error correction level M, versions
// 1-10 (up to 213 bytes; a URI is about 120), drawn as an SVG element.
// window.waypostQr(text) -> an <svg> element, or null when the text is too long.
"use strict";

(() => {
  // Level M, per version: [EC codewords per block, [blocks, data codewords per block], ...].
  const BLOCKS_M = [
    null,
    [10, [1, 16]], [16, [1, 28]], [26, [1, 44]], [18, [2, 32]], [24, [2, 43]],
    [16, [4, 27]], [18, [4, 31]], [22, [2, 38], [2, 39]], [22, [3, 36], [2, 37]],
    [26, [4, 43], [1, 44]],
  ];
  // Centres of the alignment patterns per version (rows and columns alike).
  const ALIGN = [null, [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38],
                 [6, 24, 42], [6, 26, 46], [6, 28, 50]];

  // GF(256) over x^8 + x^4 + x^3 + x^2 + 1, by log and antilog tables.
  const EXP = new Array(512);
  const LOG = new Array(256);
  for (let i = 0, x = 1; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];
  const mul = (a, b) => (a && b ? EXP[LOG[a] + LOG[b]] : 0);

  // Reed-Solomon: the remainder of data * x^n divided by the generator (x - a^0)...(x - a^(n-1)).
  function reedSolomon(data, n) {
    let gen = [1];
    for (let i = 0; i < n; i++) {
      const next = new Array(gen.length + 1).fill(0);
      for (let j = 0; j < gen.length; j++) {
        next[j] ^= gen[j];
        next[j + 1] ^= mul(gen[j], EXP[i]);
      }
      gen = next;
    }
    const rem = new Array(n).fill(0);
    for (const byte of data) {
      const factor = byte ^ rem.shift();
      rem.push(0);
      for (let j = 0; j < n; j++) rem[j] ^= mul(gen[j + 1], factor);
    }
    return rem;
  }

  const dataCapacity = (v) => BLOCKS_M[v].slice(1).reduce((s, [n, k]) => s + n * k, 0);

  // The codewords of `bytes` in version v: data (mode, count, bytes, padding) split into blocks,
  // each block's EC codewords, then both interleaved column by column.
  function codewords(bytes, v) {
    const bits = [];
    const put = (value, length) => {
      for (let i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1);
    };
    const capacity = dataCapacity(v);
    put(0b0100, 4); // byte mode
    put(bytes.length, v < 10 ? 8 : 16);
    for (const b of bytes) put(b, 8);
    put(0, Math.min(4, capacity * 8 - bits.length)); // terminator
    while (bits.length % 8) bits.push(0);
    const data = [];
    for (let i = 0; i < bits.length; i += 8) data.push(parseInt(bits.slice(i, i + 8).join(""), 2));
    for (let pad = 0xec; data.length < capacity; pad ^= 0xec ^ 0x11) data.push(pad);

    const [ecLength, ...groups] = BLOCKS_M[v];
    const blocks = [];
    let offset = 0;
    for (const [count, length] of groups) {
      for (let i = 0; i < count; i++) {
        const block = data.slice(offset, offset + length);
        offset += length;
        blocks.push({ data: block, ec: reedSolomon(block, ecLength) });
      }
    }
    const out = [];
    const longest = Math.max(...blocks.map((b) => b.data.length));
    for (let i = 0; i < longest; i++) for (const b of blocks) if (i < b.data.length) out.push(b.data[i]);
    for (let i = 0; i < ecLength; i++) for (const b of blocks) out.push(b.ec[i]);
    return out;
  }

  // BCH remainder of value * x^(degree of poly), for the format and version information.
  function bch(value, poly, polyDegree) {
    let r = value << polyDegree;
    for (let i = 31 - Math.clz32(r); i >= polyDegree; i--) {
      if ((r >>> i) & 1) r ^= poly << (i - polyDegree);
    }
    return (value << polyDegree) | r;
  }

  const MASKS = [
    (r, c) => (r + c) % 2 === 0,
    (r) => r % 2 === 0,
    (r, c) => c % 3 === 0,
    (r, c) => (r + c) % 3 === 0,
    (r, c) => (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0,
    (r, c) => ((r * c) % 2) + ((r * c) % 3) === 0,
    (r, c) => (((r * c) % 2) + ((r * c) % 3)) % 2 === 0,
    (r, c) => (((r + c) % 2) + ((r * c) % 3)) % 2 === 0,
  ];

  // The symbol for version v with the given mask: a size x size array of booleans (dark).
  function symbol(v, words, mask) {
    const size = 17 + 4 * v;
    const dark = Array.from({ length: size }, () => new Array(size).fill(false));
    const fixed = Array.from({ length: size }, () => new Array(size).fill(false));
    const set = (r, c, on) => {
      if (r < 0 || c < 0 || r >= size || c >= size) return;
      dark[r][c] = on;
      fixed[r][c] = true;
    };
    for (let i = 0; i < size; i++) {
      set(6, i, i % 2 === 0); // timing patterns
      set(i, 6, i % 2 === 0);
    }
    for (const [r0, c0] of [[3, 3], [3, size - 4], [size - 4, 3]]) { // finders and separators
      for (let dr = -4; dr <= 4; dr++) {
        for (let dc = -4; dc <= 4; dc++) {
          const d = Math.max(Math.abs(dr), Math.abs(dc));
          set(r0 + dr, c0 + dc, d !== 2 && d !== 4);
        }
      }
    }
    const centres = ALIGN[v];
    const first = centres[0];
    const last = centres[centres.length - 1];
    for (const r0 of centres) {
      for (const c0 of centres) {
        // The three corners taken by finder patterns have none.
        if ((r0 === first && (c0 === first || c0 === last)) || (r0 === last && c0 === first)) continue;
        for (let dr = -2; dr <= 2; dr++) {
          for (let dc = -2; dc <= 2; dc++) set(r0 + dr, c0 + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
        }
      }
    }
    // Format information: level M (00) and the mask, BCH(15,5), XOR 0x5412; two copies.
    const format = bch(mask, 0x537, 10) ^ 0x5412;
    const bit = (value, i) => ((value >>> i) & 1) === 1;
    for (let i = 0; i <= 5; i++) set(i, 8, bit(format, i));
    set(7, 8, bit(format, 6));
    set(8, 8, bit(format, 7));
    set(8, 7, bit(format, 8));
    for (let i = 9; i < 15; i++) set(8, 14 - i, bit(format, i));
    for (let i = 0; i < 8; i++) set(8, size - 1 - i, bit(format, i));
    for (let i = 8; i < 15; i++) set(size - 15 + i, 8, bit(format, i));
    set(size - 8, 8, true); // the dark module
    if (v >= 7) { // version information, BCH(18,6)
      const info = bch(v, 0x1f25, 12);
      for (let i = 0; i < 18; i++) {
        const a = size - 11 + (i % 3);
        const b = Math.floor(i / 3);
        set(b, a, bit(info, i));
        set(a, b, bit(info, i));
      }
    }
    // Data, in two-column strips from the right, upwards and downwards in turn, skipping the
    // vertical timing column; masked as placed.
    let i = 0;
    const total = words.length * 8;
    for (let right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      const upward = ((right + 1) & 2) === 0;
      for (let k = 0; k < size; k++) {
        const r = upward ? size - 1 - k : k;
        for (let j = 0; j < 2; j++) {
          const c = right - j;
          if (fixed[r][c]) continue;
          const on = i < total && ((words[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
          i++;
          dark[r][c] = on !== MASKS[mask](r, c);
        }
      }
    }
    return dark;
  }

  // The standard's penalty: runs of five or more, 2x2 blocks, finder-like patterns, imbalance.
  function penalty(m) {
    const size = m.length;
    let score = 0;
    const line = (get) => {
      for (let a = 0; a < size; a++) {
        let run = 1;
        for (let b = 1; b <= size; b++) {
          if (b < size && get(a, b) === get(a, b - 1)) {
            run++;
          } else {
            if (run >= 5) score += run - 2;
            run = 1;
          }
        }
        const bits = Array.from({ length: size }, (_, b) => (get(a, b) ? "1" : "0")).join("");
        for (const p of ["00001011101", "10111010000"]) {
          for (let at = bits.indexOf(p); at >= 0; at = bits.indexOf(p, at + 1)) score += 40;
        }
      }
    };
    line((r, c) => m[r][c]);
    line((c, r) => m[r][c]);
    let darkCount = 0;
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        if (m[r][c]) darkCount++;
        if (r + 1 < size && c + 1 < size && m[r][c] === m[r][c + 1] && m[r][c] === m[r + 1][c] &&
            m[r][c] === m[r + 1][c + 1]) score += 3;
      }
    }
    score += 10 * Math.floor(Math.abs(darkCount * 20 - size * size * 10) / (size * size));
    return score;
  }

  window.waypostQr = (text) => {
    const bytes = new TextEncoder().encode(text);
    let v = 1;
    while (v <= 10 && 4 + (v < 10 ? 8 : 16) + 8 * bytes.length > 8 * dataCapacity(v)) v++;
    if (v > 10) return null;
    const words = codewords(bytes, v);
    let best = null;
    let bestScore = Infinity;
    for (let mask = 0; mask < 8; mask++) {
      const m = symbol(v, words, mask);
      const score = penalty(m);
      if (score < bestScore) {
        best = m;
        bestScore = score;
      }
    }
    // One path of unit squares inside a 4-module light border; sizes come from app.css.
    const size = best.length;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${size + 8} ${size + 8}`);
    svg.setAttribute("shape-rendering", "crispEdges");
    svg.setAttribute("role", "img");
    const bg = document.createElementNS(ns, "rect");
    bg.setAttribute("width", size + 8);
    bg.setAttribute("height", size + 8);
    bg.setAttribute("fill", "#fff");
    let d = "";
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) if (best[r][c]) d += `M${c + 4} ${r + 4}h1v1h-1z`;
    }
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "#000");
    svg.append(bg, path);
    return svg;
  };
})();
