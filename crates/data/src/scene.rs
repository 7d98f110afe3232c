//! The scene model: a side view of the ground plane with a camera that pans, objects that walk or
//! drive across it, and slow drift in light, clutter and object mix. Every quantity is a pure
//! function of (domain, seed, time), so any frame can be rendered on its own.

use super::backdrop::{background, clutter};
use super::draw::{Canvas, Rgb};
use super::look::Look;
use super::objects::{clip_box, draw_object, object_colors, Obj};
use super::rng::{mix64, Rng};
use super::{Drift, GtBox};
use std::f32::consts::TAU;

/// What a stream looks like; streams of one domain differ only in seed and frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    /// Campus-like daytime scenes whose layout and palette change every few seconds.
    Source,
    /// One campus scene by day.
    CampusDay,
    /// Fields, trees and a dirt road by day, another palette and object mix.
    RuralDay,
    /// A campus scene at night: dark, noisy, lamps, lit windows and headlights.
    CampusNight,
    /// A campus scene by day in fog: contrast falls with distance, the fog thickens and thins
    /// over minutes.
    CampusFog,
}

/// Object slots: at most this many objects in a frame.
const SLOTS: u64 = 10;
/// Seconds a source-domain clip keeps its layout and palette.
const SOURCE_CLIP_S: f64 = 6.0;

/// Slowly drifting conditions within a stream (minutes).
struct Conditions {
    light: f32,
    clutter: f32,
    density: f32,
    class_w: [f32; 4],
}

/// The scene of one stream.
#[derive(Clone, Debug)]
pub(crate) struct Scene {
    domain: Domain,
    seed: u64,
    look: Option<Look>,
    phases: [f32; 8],
}

impl Scene {
    pub fn new(domain: Domain, seed: u64) -> Self {
        let tag = match domain {
            Domain::Source => 1,
            Domain::CampusDay => 2,
            Domain::RuralDay => 3,
            Domain::CampusNight => 4,
            Domain::CampusFog => 5,
        };
        let mut r = Rng::new(&[seed, tag]);
        let look = match domain {
            Domain::Source => None,
            Domain::CampusDay => Some(Look::campus(&mut r, false)),
            Domain::RuralDay => Some(Look::rural(&mut r)),
            Domain::CampusNight => Some(Look::campus(&mut r, true)),
            Domain::CampusFog => Some(Look::campus(&mut r, false)),
        };
        let phases = std::array::from_fn(|_| r.range(0.0, TAU));
        Scene {
            domain,
            seed: mix64(seed ^ tag),
            look,
            phases,
        }
    }

    fn look_at(&self, t: f64) -> Look {
        match &self.look {
            Some(l) => l.clone(),
            None => {
                let clip = (t / SOURCE_CLIP_S).floor() as u64;
                let mut r = Rng::new(&[self.seed, 0xC11B, clip]);
                let mut l = Look::campus(&mut r, false);
                // The source covers the light range that streams A-C drift through.
                l.light = r.range(0.7, 1.2);
                l
            }
        }
    }

    fn conditions(&self, t: f64) -> Conditions {
        let s = |period: f32, k: usize| ((t as f32 / period) * TAU + self.phases[k]).sin();
        let base: [f32; 4] = match self.domain {
            Domain::RuralDay => [0.22, 0.14, 0.28, 0.36],
            _ => [0.34, 0.3, 0.2, 0.16],
        };
        let mut class_w = base;
        for (c, w) in class_w.iter_mut().enumerate() {
            *w *= 1.0 + 0.6 * s(300.0 + 37.0 * c as f32, 4 + c);
        }
        Conditions {
            light: 1.0 + 0.2 * s(240.0, 0),
            clutter: 0.35 + 0.25 * s(180.0, 1),
            density: 0.6 + 0.2 * s(150.0, 2),
            class_w,
        }
    }

    /// The drift state at time t (ground truth for drift detection).
    pub fn drift(&self, t: f64) -> Drift {
        let c = self.conditions(t);
        let total: f32 = c.class_w.iter().sum();
        Drift {
            light: self.look_at(t).light * c.light,
            clutter: c.clutter,
            density: c.density,
            class_mix: c.class_w.map(|w| w / total),
        }
    }

    /// The objects present at time t, far ones first.
    fn objects(&self, t: f64, look: &Look, cond: &Conditions, aspect: f32) -> Vec<Obj> {
        let mut objs = Vec::new();
        for k in 0..SLOTS {
            let mut r = Rng::new(&[self.seed, 0x0B1, k]);
            let dur = r.range(4.0, 9.0) as f64;
            let off = r.range(0.0, dur as f32) as f64;
            let seg = ((t + off) / dur).floor();
            let t0 = seg * dur - off;
            let mut r = Rng::new(&[self.seed, 0x5E6, k, seg as i64 as u64]);
            if r.f() > cond.density {
                continue;
            }
            let class = r.weighted(&cond.class_w);
            let (z_lo, z_hi) = match class {
                1 => look.road_g,
                2 => (look.road_g.0 * 0.5, look.road_g.1),
                _ => (0.0, 1.0),
            };
            // Favour far (small) positions a little: small objects are the hard case.
            let z0 = z_lo + (z_hi - z_lo) * r.f().powf(1.3);
            let vz = r.range(-0.015, 0.015);
            let dt = (t - t0) as f32;
            let z = (z0 + vz * dt).clamp(z_lo, z_hi);
            let scale = 0.2 + 0.8 * z;
            let (base_h, speed) = match class {
                0 => (0.42, r.range(0.05, 0.12)),
                1 => (0.24, r.range(0.2, 0.45)),
                2 => (0.26, r.range(0.15, 0.3)),
                _ => (0.22, r.range(0.08, 0.2)),
            };
            let moving = r.f() < 0.8;
            let dir = if r.f() < 0.5 { -1.0 } else { 1.0 };
            let v = if moving { speed * scale * dir } else { 0.0 };
            // Half of the moving objects walk or drive in from the edge of the view; the rest
            // (and parked ones) appear in it, as people do from doors and side streets.
            let half = base_h * scale;
            let x0 = if moving && r.f() < 0.5 {
                look.cam(t0) + if dir > 0.0 { -half } else { aspect + half }
            } else {
                look.cam(t0) + r.range(-0.1, 1.1) * aspect
            };
            let colors = object_colors(class, &mut r);
            objs.push(Obj {
                class,
                z,
                x: x0 + v * dt,
                h: base_h * scale * r.range(0.88, 1.12),
                dir,
                colors,
                phase: if moving {
                    dt * 9.0 * speed / 0.1 + r.range(0.0, TAU)
                } else {
                    0.0
                },
            });
        }
        objs.sort_by(|a, b| a.z.total_cmp(&b.z));
        objs
    }

    /// Renders the frame at time t: 8-bit RGB and the visible objects' boxes.
    pub fn render(&self, t: f64, w: usize, h: usize) -> (Vec<u8>, Vec<GtBox>) {
        let look = self.look_at(t);
        let cond = self.conditions(t);
        let hf = h as f32;
        let aspect = w as f32 / hf;
        let mut cv = Canvas::new(w, h);
        let cam_px = look.cam(t) * hf;
        background(&mut cv, &look, cam_px, self.seed);
        clutter(&mut cv, &look, cam_px, cond.clutter);
        let mut boxes = Vec::new();
        for o in self.objects(t, &look, &cond, aspect) {
            let yb = (look.horizon + o.z * (1.0 - look.horizon)) * hf;
            let cx = o.x * hf - cam_px;
            let bb = draw_object(&mut cv, &o, cx, yb, o.h * hf, look.night);
            if let Some(b) = clip_box(bb, o.class, w as f32, hf) {
                boxes.push(b);
            }
        }
        if self.domain == Domain::CampusFog {
            fog(&mut cv, look.horizon, self.fog_density(t));
        }
        let light = look.light * cond.light;
        let noise = if look.night { 0.04 } else { 0.015 };
        let rgb = finish(&cv, light, look.tint, noise, mix64(self.seed ^ t.to_bits()));
        (rgb, boxes)
    }
}

impl Scene {
    /// Fog density at time t: between 0.45 and 0.75, over a period of about four minutes.
    fn fog_density(&self, t: f64) -> f32 {
        0.6 + 0.15 * ((t as f32 / 230.0) * TAU + self.phases[3]).sin()
    }
}

/// Haze over the canvas: each pixel's reflectance moves towards a grey-white haze by
/// `density` at the horizon and above, a third of it at the bottom row (nearer the camera);
/// lights keep a third of their glow.
fn fog(cv: &mut Canvas, horizon: f32, density: f32) {
    const HAZE: [f32; 3] = [0.80, 0.82, 0.84];
    let (w, h) = (cv.w, cv.h);
    for y in 0..h {
        let depth = ((y as f32 / h as f32 - horizon) / (1.0 - horizon)).clamp(0.0, 1.0);
        let f = density * (1.0 - 0.67 * depth);
        for x in 0..w {
            let i = (y * w + x) * 3;
            for (k, haze) in HAZE.iter().enumerate() {
                cv.base[i + k] = cv.base[i + k] * (1.0 - f) + haze * f;
                cv.emit[i + k] *= 1.0 - 0.67 * f;
            }
        }
    }
}

/// Light, tint and sensor noise; converts to 8-bit.
fn finish(cv: &Canvas, light: f32, tint: Rgb, noise: f32, seed: u64) -> Vec<u8> {
    let gain = [light * tint[0], light * tint[1], light * tint[2]];
    let mut out = vec![0u8; cv.base.len()];
    let mut r = Rng::new(&[seed]);
    for (p, o) in out.chunks_exact_mut(3).enumerate() {
        // One noise draw per pixel, shared by the channels (luminance noise), two for the spread.
        let bits = r.u64();
        let n = (((bits & 0xFFFF) as f32 + ((bits >> 16) & 0xFFFF) as f32) / 65535.0 - 1.0)
            * noise
            * 1.7;
        for k in 0..3 {
            let i = p * 3 + k;
            let v = cv.base[i] * gain[k] + cv.emit[i] + n;
            o[k] = (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
        }
    }
    out
}
