//! A tiny float RGB canvas with anti-aliased shapes: enough to draw recognisable objects of a few
//! pixels and cheap enough for > 1000 frames/s at 96x96.

pub(crate) type Rgb = [f32; 3];

/// Reflectance (`base`, darkened by the scene's light) and light sources (`emit`, added after).
pub(crate) struct Canvas {
    pub w: usize,
    pub h: usize,
    pub base: Vec<f32>,
    pub emit: Vec<f32>,
}

/// Sub-pixel sample offsets (2x2): anti-aliasing so that 6-pixel objects keep their shape.
const SUB: [(f32, f32); 4] = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)];

impl Canvas {
    pub fn new(w: usize, h: usize) -> Self {
        Canvas {
            w,
            h,
            base: vec![0.0; w * h * 3],
            emit: vec![0.0; w * h * 3],
        }
    }

    #[inline]
    pub fn set(&mut self, x: usize, y: usize, c: Rgb) {
        let i = (y * self.w + x) * 3;
        self.base[i..i + 3].copy_from_slice(&c);
    }

    #[inline]
    fn blend(&mut self, x: usize, y: usize, c: Rgb, a: f32) {
        let i = (y * self.w + x) * 3;
        for (b, c) in self.base[i..i + 3].iter_mut().zip(c) {
            *b += (c - *b) * a;
        }
    }

    /// Clamped integer pixel range covering `[lo, hi)`.
    fn span(lo: f32, hi: f32, n: usize) -> (usize, usize) {
        let a = lo.floor().max(0.0) as usize;
        let b = (hi.ceil().max(0.0) as usize).min(n);
        (a.min(n), b)
    }

    /// Axis-aligned rectangle with exact area coverage at its edges.
    pub fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: Rgb) {
        let (xa, xb) = Self::span(x0, x1, self.w);
        let (ya, yb) = Self::span(y0, y1, self.h);
        for y in ya..yb {
            let cy = (y1.min(y as f32 + 1.0) - y0.max(y as f32)).clamp(0.0, 1.0);
            for x in xa..xb {
                let cx = (x1.min(x as f32 + 1.0) - x0.max(x as f32)).clamp(0.0, 1.0);
                let a = cx * cy;
                if a > 0.0 {
                    self.blend(x, y, c, a);
                }
            }
        }
    }

    /// Any shape given by an inside test, supersampled 2x2 within its bounding box.
    pub fn shape(&mut self, bb: [f32; 4], c: Rgb, inside: impl Fn(f32, f32) -> bool) {
        let (xa, xb) = Self::span(bb[0], bb[2], self.w);
        let (ya, yb) = Self::span(bb[1], bb[3], self.h);
        for y in ya..yb {
            for x in xa..xb {
                let n = SUB
                    .iter()
                    .filter(|(dx, dy)| inside(x as f32 + dx, y as f32 + dy))
                    .count();
                if n > 0 {
                    self.blend(x, y, c, n as f32 * 0.25);
                }
            }
        }
    }

    pub fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, c: Rgb) {
        let (rx, ry) = (rx.max(0.4), ry.max(0.4));
        self.shape([cx - rx, cy - ry, cx + rx, cy + ry], c, |x, y| {
            let (u, v) = ((x - cx) / rx, (y - cy) / ry);
            u * u + v * v <= 1.0
        });
    }

    /// Circle outline of radius `r` (centre of the stroke) and stroke width `t`.
    pub fn ring(&mut self, cx: f32, cy: f32, r: f32, t: f32, c: Rgb) {
        let t = t.max(0.7);
        let (ri, ro) = ((r - t / 2.0).max(0.0), r + t / 2.0);
        self.shape([cx - ro, cy - ro, cx + ro, cy + ro], c, |x, y| {
            let d2 = (x - cx).powi(2) + (y - cy).powi(2);
            d2 <= ro * ro && d2 >= ri * ri
        });
    }

    /// A thick segment with round caps.
    pub fn line(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, t: f32, c: Rgb) {
        let r = t.max(0.7) / 2.0;
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = (dx * dx + dy * dy).max(1e-6);
        let bb = [
            x0.min(x1) - r,
            y0.min(y1) - r,
            x0.max(x1) + r,
            y0.max(y1) + r,
        ];
        self.shape(bb, c, |x, y| {
            let s = (((x - x0) * dx + (y - y0) * dy) / len2).clamp(0.0, 1.0);
            let (ex, ey) = (x - x0 - s * dx, y - y0 - s * dy);
            ex * ex + ey * ey <= r * r
        });
    }

    /// Convex quadrilateral with corners in order (either winding).
    pub fn quad(&mut self, p: [(f32, f32); 4], c: Rgb) {
        let xs = p.map(|q| q.0);
        let ys = p.map(|q| q.1);
        let bb = [
            xs.iter().cloned().fold(f32::MAX, f32::min),
            ys.iter().cloned().fold(f32::MAX, f32::min),
            xs.iter().cloned().fold(f32::MIN, f32::max),
            ys.iter().cloned().fold(f32::MIN, f32::max),
        ];
        self.shape(bb, c, |x, y| {
            let mut sign = 0.0f32;
            for k in 0..4 {
                let (a, b) = (p[k], p[(k + 1) % 4]);
                let cr = (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0);
                if cr != 0.0 {
                    if sign != 0.0 && cr.signum() != sign {
                        return false;
                    }
                    sign = cr.signum();
                }
            }
            true
        });
    }

    /// A light source: adds a soft disc of radius `r` to the emitted light.
    pub fn glow(&mut self, cx: f32, cy: f32, r: f32, c: Rgb) {
        let r = r.max(0.8);
        let (xa, xb) = Self::span(cx - r, cx + r, self.w);
        let (ya, yb) = Self::span(cy - r, cy + r, self.h);
        for y in ya..yb {
            for x in xa..xb {
                let d2 = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)) / (r * r);
                if d2 < 1.0 {
                    let a = (1.0 - d2).powi(2);
                    let i = (y * self.w + x) * 3;
                    for (e, c) in self.emit[i..i + 3].iter_mut().zip(c) {
                        *e += c * a;
                    }
                }
            }
        }
    }
}

/// Scales a colour.
#[inline]
pub(crate) fn shade(c: Rgb, s: f32) -> Rgb {
    [c[0] * s, c[1] * s, c[2] * s]
}

/// Linear mix of two colours.
#[inline]
pub(crate) fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// A colour from 8-bit components.
pub(crate) fn rgb(r: u8, g: u8, b: u8) -> Rgb {
    [r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0]
}
