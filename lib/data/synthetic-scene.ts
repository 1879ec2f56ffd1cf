// Drawing one picture of the synthetic set (synthetic.ts holds the set: its
// options, classes, cache and folder writer). A class is a shape with a surface
// pattern; everything else is drawn at random from the image's own PRNG, seeded
// from (seed, split, index) alone, so images can be made in any order and in
// parallel. Pipeline: SVG (shapes, patterns, gradients) -> sharp/librsvg raster
// -> noise, uneven light and colour cast in JS -> JPEG at a per-image quality.
// Any change here changes the set's bytes: bump SYNTHETIC_DESIGN in synthetic.ts.
import sharp from "sharp";
import { Random, mix32 } from "./random";
import type { SplitName } from "./types";

const SHAPES = ["disc", "triangle", "square", "star", "cross"] as const;
/** One pattern per class, so the number of patterns bounds the number of classes. */
export const PATTERNS = ["striped", "spotted", "checked", "wavy", "netted", "ringed", "dashed", "plain", "speckled", "mottled"] as const;
type Shape = (typeof SHAPES)[number];
type Pattern = (typeof PATTERNS)[number];

// Class k wears pattern k and has outline k mod 5: the surface names the class, the
// outline narrows it to two, and colour, pose, size, clutter and light tell nothing.
export function classParts(label: number): { shape: Shape; pattern: Pattern } {
  return { shape: SHAPES[label % SHAPES.length], pattern: PATTERNS[label] };
}

// ---------- seeded randomness ----------

function imageSeed(seed: number, split: SplitName, index: number): number {
  const splitId = split === "train" ? 0x7472 : 0x7661;
  return mix32(mix32(mix32(seed ^ 0x9e3779b9) ^ splitId) + index);
}

/** lib/data/random.ts's mulberry32, with the draws a picture needs. */
class Rng extends Random {
  uniform(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  /** Uniform integer in a..b, both included. */
  between(a: number, b: number): number {
    return a + Math.floor((b - a + 1) * this.next());
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  /** Approximately N(0, 1): Irwin-Hall with 4 terms, cheap and bounded (kept so the set's bytes do not change). */
  override normal(): number {
    return (this.next() + this.next() + this.next() + this.next() - 2) * 1.7320508;
  }
}

// ---------- colours and SVG pieces ----------

function hsl(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): string => {
    const k = (n + h / 30) % 12;
    const v = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(v * 255)
      .toString(16)
      .padStart(2, "0");
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

function randomColour(r: Rng, lMin = 0.1, lMax = 0.9): string {
  return hsl(r.uniform(0, 360), r.uniform(0.15, 0.95), r.uniform(lMin, lMax));
}

/** Two colours far apart in lightness, so a pattern stays visible whatever its hues. */
function contrastingPair(r: Rng): [string, string] {
  const dark = hsl(r.uniform(0, 360), r.uniform(0.2, 0.95), r.uniform(0.08, 0.42));
  const light = hsl(r.uniform(0, 360), r.uniform(0.2, 0.95), r.uniform(0.58, 0.94));
  return r.chance(0.5) ? [dark, light] : [light, dark];
}

const n2 = (x: number): string => (Math.round(x * 100) / 100).toString();

/** A <pattern> tiling a cell of size p (user units of the element using it). */
function patternDef(id: string, kind: Pattern, cell: number, angle: number, r: Rng): string {
  // Irregular surfaces repeat over a larger tile, so the repetition does not show.
  const p = kind === "speckled" || kind === "mottled" ? 2 * cell : cell;
  const [bg, fg] = contrastingPair(r);
  const head = `<pattern id="${id}" width="${n2(p)}" height="${n2(p)}" patternUnits="userSpaceOnUse" patternTransform="rotate(${n2(angle)})"><rect width="${n2(p)}" height="${n2(p)}" fill="${bg}"/>`;
  let body: string;
  switch (kind) {
    case "striped":
      body = `<rect width="${n2(p * r.uniform(0.35, 0.6))}" height="${n2(p)}" fill="${fg}"/>`;
      break;
    case "spotted":
      body = `<circle cx="${n2(p / 2)}" cy="${n2(p / 2)}" r="${n2(p * r.uniform(0.2, 0.32))}" fill="${fg}"/>`;
      break;
    case "checked":
      body = `<rect width="${n2(p / 2)}" height="${n2(p / 2)}" fill="${fg}"/><rect x="${n2(p / 2)}" y="${n2(p / 2)}" width="${n2(p / 2)}" height="${n2(p / 2)}" fill="${fg}"/>`;
      break;
    case "wavy": {
      const a = p * r.uniform(0.15, 0.25);
      const y = p / 2;
      body = `<path d="M0,${n2(y)} Q${n2(p / 4)},${n2(y - 2 * a)} ${n2(p / 2)},${n2(y)} T${n2(p)},${n2(y)}" fill="none" stroke="${fg}" stroke-width="${n2(p * r.uniform(0.16, 0.26))}"/>`;
      break;
    }
    case "netted": {
      const t = p * r.uniform(0.12, 0.18);
      body = `<rect width="${n2(p)}" height="${n2(t)}" fill="${fg}"/><rect width="${n2(t)}" height="${n2(p)}" fill="${fg}"/>`;
      break;
    }
    case "ringed":
      body = `<circle cx="${n2(p / 2)}" cy="${n2(p / 2)}" r="${n2(p * r.uniform(0.26, 0.32))}" fill="none" stroke="${fg}" stroke-width="${n2(p * r.uniform(0.1, 0.14))}"/>`;
      break;
    case "dashed": {
      // Bricks: two rows of dashes, the second offset by half a dash.
      const w = p * 0.6;
      const h = p * r.uniform(0.2, 0.28);
      body = `<rect x="0" y="${n2(p * 0.12)}" width="${n2(w)}" height="${n2(h)}" fill="${fg}"/><rect x="${n2(p / 2)}" y="${n2(p * 0.62)}" width="${n2(w)}" height="${n2(h)}" fill="${fg}"/><rect x="${n2(p / 2 - p)}" y="${n2(p * 0.62)}" width="${n2(w)}" height="${n2(h)}" fill="${fg}"/>`;
      break;
    }
    case "plain":
      body = "";
      break;
    case "speckled": {
      const dots: string[] = [];
      for (let i = 0; i < 14; i++) dots.push(`<circle cx="${n2(r.uniform(0, p))}" cy="${n2(r.uniform(0, p))}" r="${n2(p * r.uniform(0.03, 0.045))}" fill="${fg}"/>`);
      body = dots.join("");
      break;
    }
    case "mottled": {
      const blobs: string[] = [];
      for (let i = 0; i < 4; i++) blobs.push(`<ellipse cx="${n2(r.uniform(0.2, 0.8) * p)}" cy="${n2(r.uniform(0.2, 0.8) * p)}" rx="${n2(p * r.uniform(0.15, 0.3))}" ry="${n2(p * r.uniform(0.1, 0.22))}" fill="${fg}"/>`);
      body = blobs.join("");
      break;
    }
  }
  return head + body + "</pattern>";
}

/** Outline of a class shape around (0,0) with radius about 1; varies within the class. */
function shapePath(shape: Shape, r: Rng): string {
  const poly = (pts: [number, number][]): string => "M" + pts.map(([x, y]) => `${n2(x)},${n2(y)}`).join("L") + "Z";
  const polar = (rad: number, deg: number): [number, number] => [rad * Math.cos((deg * Math.PI) / 180), rad * Math.sin((deg * Math.PI) / 180)];
  switch (shape) {
    case "disc": {
      const ry = r.uniform(0.8, 1);
      return `M-1,0A1,${n2(ry)} 0 1,0 1,0A1,${n2(ry)} 0 1,0 -1,0Z`;
    }
    case "triangle":
      return poly([-90, 30, 150].map((d) => polar(r.uniform(0.9, 1.1), d + r.uniform(-8, 8))));
    case "square": {
      const a = r.uniform(0.8, 1.2);
      const w = 0.78 * Math.sqrt(a);
      const h = 0.78 / Math.sqrt(a);
      return poly([
        [-w, -h],
        [w, -h],
        [w, h],
        [-w, h],
      ]);
    }
    case "star": {
      const inner = r.uniform(0.38, 0.52);
      const pts: [number, number][] = [];
      for (let i = 0; i < 10; i++) pts.push(polar(i % 2 === 0 ? 1 : inner, -90 + i * 36));
      return poly(pts);
    }
    case "cross": {
      const t = r.uniform(0.28, 0.4);
      return poly([
        [-t, -1],
        [t, -1],
        [t, -t],
        [1, -t],
        [1, t],
        [t, t],
        [t, 1],
        [-t, 1],
        [-t, t],
        [-1, t],
        [-1, -t],
        [-t, -t],
      ]);
    }
  }
}

/** Background clutter: blobs, bars, ellipses and strokes, some patterned. */
function distractor(r: Rng, w: number, h: number, maxR: number, defs: string[], id: string): string {
  const cx = r.uniform(0, w);
  const cy = r.uniform(0, h);
  const rad = r.uniform(0.15, 1) * maxR;
  const op = n2(r.uniform(0.35, 0.95));
  const kind = r.between(0, 3);
  let fill = randomColour(r);
  // A second colour blended in instead of a pattern: clutter wearing a class's
  // pattern would be a piece of that class.
  if (kind !== 3 && r.chance(0.25)) {
    defs.push(`<linearGradient id="${id}"><stop offset="0" stop-color="${fill}"/><stop offset="1" stop-color="${randomColour(r)}"/></linearGradient>`);
    fill = `url(#${id})`;
  }
  const tf = `transform="translate(${n2(cx)},${n2(cy)}) rotate(${n2(r.uniform(0, 360))})"`;
  switch (kind) {
    case 0: {
      const n = r.between(5, 9);
      const pts: string[] = [];
      for (let i = 0; i < n; i++) {
        const a = ((i + r.uniform(-0.3, 0.3)) / n) * 2 * Math.PI;
        const d = rad * r.uniform(0.45, 1);
        pts.push(`${n2(d * Math.cos(a))},${n2(d * Math.sin(a))}`);
      }
      return `<path d="M${pts.join("L")}Z" fill="${fill}" fill-opacity="${op}" ${tf}/>`;
    }
    case 1:
      return `<ellipse rx="${n2(rad)}" ry="${n2(rad * r.uniform(0.3, 1))}" fill="${fill}" fill-opacity="${op}" ${tf}/>`;
    case 2:
      return `<rect x="${n2(-rad)}" y="${n2(-rad * 0.2)}" width="${n2(2 * rad)}" height="${n2(rad * r.uniform(0.15, 0.6))}" fill="${fill}" fill-opacity="${op}" ${tf}/>`;
    default: {
      const pt = (): string => `${n2(r.uniform(-2, 2) * rad)},${n2(r.uniform(-2, 2) * rad)}`;
      return `<path d="M${pt()}Q${pt()} ${pt()}" fill="none" stroke="${fill}" stroke-width="${n2(r.uniform(1.5, 9))}" stroke-linecap="round" stroke-opacity="${op}" ${tf}/>`;
    }
  }
}

// ImageNet-like frames: mostly 4:3 and 3:2 landscapes, long side often 500.
const ASPECTS = [4 / 3, 4 / 3, 4 / 3, 3 / 2, 3 / 2, 1, 5 / 4, 16 / 9];

function frameSize(r: Rng): { width: number; height: number } {
  const long = r.chance(0.45) ? 500 : r.between(200, 500);
  const aspect = r.chance(0.15) ? r.uniform(1, 2) : r.pick(ASPECTS);
  const short = Math.max(160, Math.round(long / aspect));
  return r.chance(0.7) ? { width: long, height: short } : { width: short, height: long };
}

function sceneSvg(r: Rng, label: number, width: number, height: number): string {
  const { shape, pattern } = classParts(label);
  const short = Math.min(width, height);
  const defs: string[] = [];
  const body: string[] = [];

  // Background: a two-colour gradient in a random direction.
  const a = r.uniform(0, 2 * Math.PI);
  const [x1, y1, x2, y2] = [0.5 - 0.5 * Math.cos(a), 0.5 - 0.5 * Math.sin(a), 0.5 + 0.5 * Math.cos(a), 0.5 + 0.5 * Math.sin(a)];
  defs.push(
    `<linearGradient id="bg" x1="${n2(x1)}" y1="${n2(y1)}" x2="${n2(x2)}" y2="${n2(y2)}"><stop offset="0" stop-color="${randomColour(r, 0.15, 0.85)}"/><stop offset="1" stop-color="${randomColour(r, 0.15, 0.85)}"/></linearGradient>`,
  );
  body.push(`<rect width="${width}" height="${height}" fill="url(#bg)"/>`);
  // Large soft regions (a wall, a table edge) break the gradient up.
  const nRegions = r.between(0, 2);
  for (let i = 0; i < nRegions; i++) {
    const rad = r.uniform(0.6, 1.5) * Math.max(width, height);
    const ang = r.uniform(0, 2 * Math.PI);
    const [ex, ey] = [width / 2 + Math.cos(ang) * rad * r.uniform(0.7, 1.3), height / 2 + Math.sin(ang) * rad * r.uniform(0.7, 1.3)];
    body.push(`<ellipse cx="${n2(ex)}" cy="${n2(ey)}" rx="${n2(rad)}" ry="${n2(rad * r.uniform(0.5, 1))}" fill="${randomColour(r, 0.15, 0.85)}" fill-opacity="${n2(r.uniform(0.3, 0.8))}"/>`);
  }

  const objR = short * r.uniform(0.22, 0.42);
  const nClutter = r.between(5, 14);
  for (let i = 0; i < nClutter; i++) body.push(distractor(r, width, height, objR * 0.5, defs, `d${i}`));

  // The object, as in most ImageNet photos, is the subject: its centre lies in the
  // central square that the paper's centre crop keeps, off-centre by up to the
  // room left there, so that it may reach past the crop's edge a little but is
  // never cropped away (design 1 placed it anywhere in the frame, and the centre
  // crop cut some objects out of their own image).
  const room = Math.max(0, short / 2 - objR * 0.8);
  const cx = width / 2 + r.uniform(-1, 1) * room;
  const cy = height / 2 + r.uniform(-1, 1) * room;
  const rot = r.uniform(0, 360);
  const d = shapePath(shape, r);
  defs.push(patternDef("obj", pattern, r.uniform(0.25, 0.42), r.uniform(0, 180), r));
  const tf = `transform="translate(${n2(cx)},${n2(cy)}) rotate(${n2(rot)}) scale(${n2(objR)})"`;
  const stroke = r.chance(0.4) ? ` stroke="${randomColour(r, 0.05, 0.5)}" stroke-width="${n2(r.uniform(0.02, 0.06))}"` : "";
  body.push(`<path d="${d}" fill="url(#obj)"${stroke} ${tf}/>`);
  // Shading across the object, so its surface is not flat.
  const sa = r.uniform(0, 2 * Math.PI);
  defs.push(
    `<radialGradient id="shade" cx="${n2(0.5 + 0.3 * Math.cos(sa))}" cy="${n2(0.5 + 0.3 * Math.sin(sa))}" r="0.8"><stop offset="0" stop-color="#fff" stop-opacity="${n2(r.uniform(0, 0.35))}"/><stop offset="1" stop-color="#000" stop-opacity="${n2(r.uniform(0, 0.45))}"/></radialGradient>`,
  );
  body.push(`<path d="${d}" fill="url(#shade)" ${tf}/>`);

  // Occasional occluders in front.
  const nFront = r.chance(0.35) ? r.between(1, 2) : 0;
  for (let i = 0; i < nFront; i++) body.push(distractor(r, width, height, objR * 0.35, defs, `f${i}`));

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><defs>${defs.join("")}</defs>${body.join("")}</svg>`;
}

/** Smooth value noise in [-1, 1] on a random lattice of `cell` pixels. */
function valueNoise(r: Rng, width: number, height: number, cell: number): Float32Array {
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = r.next() * 2 - 1;
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const gy = y / cell;
    const y0 = Math.floor(gy);
    const ty = gy - y0;
    const fy = ty * ty * (3 - 2 * ty); // smoothstep hides the lattice
    const row0 = y0 * gw;
    const row1 = row0 + gw;
    for (let x = 0; x < width; x++) {
      const gx = x / cell;
      const x0 = Math.floor(gx);
      const tx = gx - x0;
      const fx = tx * tx * (3 - 2 * tx);
      const top = grid[row0 + x0] + (grid[row0 + x0 + 1] - grid[row0 + x0]) * fx;
      const bot = grid[row1 + x0] + (grid[row1 + x0 + 1] - grid[row1 + x0]) * fx;
      out[y * width + x] = top + (bot - top) * fy;
    }
  }
  return out;
}

/**
 * Camera and light: uneven illumination, grainy texture, per-channel gain
 * (colour cast), brightness and contrast. In place on RGB pixels.
 */
function developPhoto(r: Rng, px: Buffer, width: number, height: number): void {
  const light = valueNoise(r, width, height, Math.max(width, height) / r.uniform(1.5, 3.5));
  const texture = valueNoise(r, width, height, r.uniform(3, 12));
  const lightAmp = r.uniform(0, 0.35);
  const textureAmp = r.uniform(0, 18);
  const grain = r.uniform(0, 9);
  const gain = [0, 1, 2].map(() => Math.exp(0.15 * r.normal()));
  const contrast = Math.exp(r.uniform(-0.4, 0.2));
  const bright = r.uniform(-30, 30);
  // Grain from a cheap xorshift stream seeded by the image's PRNG.
  let s = (r.next() * 4294967296) >>> 0 || 1;
  for (let i = 0, p = 0; i < width * height; i++, p += 3) {
    const lit = 1 + lightAmp * light[i];
    const t = textureAmp * texture[i];
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const g = grain * (((s >>> 0) / 4294967296) * 2 - 1);
    for (let c = 0; c < 3; c++) {
      const v = ((px[p + c] + t) * gain[c] * lit - 128) * contrast + 128 + bright + g;
      px[p + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
}

/**
 * The JPEG of image `index` of `split` in the set drawn from `seed`, showing class
 * `label`, at a quality drawn from bestQuality-15..bestQuality. The caller checks
 * the arguments (synthetic.ts's generateSyntheticImage).
 */
export async function drawSyntheticImage(seed: number, split: SplitName, index: number, label: number, bestQuality: number): Promise<{ jpeg: Buffer; width: number; height: number }> {
  const r = new Rng(imageSeed(seed, split, index));
  const { width, height } = frameSize(r);
  const svg = sceneSvg(r, label, width, height);
  const quality = r.between(bestQuality - 15, bestQuality);
  const raw = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (raw.info.width !== width || raw.info.height !== height || raw.info.channels !== 3) {
    throw new Error(`synthetic dataset (lib/data/synthetic.ts): librsvg rendered ${raw.info.width}x${raw.info.height}x${raw.info.channels}, expected ${width}x${height}x3; check the sharp install.`);
  }
  developPhoto(r, raw.data, width, height);
  const jpeg = await sharp(raw.data, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
  return { jpeg, width, height };
}
