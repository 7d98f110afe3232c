//! The scene model: a side view of the ground plane with a camera that pans, objects that walk or
//! drive across it, and slow drift in light, clutter and object mix. Every quantity is a pure
//! function of (domain, seed, time), so any frame can be rendered on its own.

use super::draw::{mix, shade, Canvas, Rgb};
use super::stream::Domain;
use super::{Drift, GtBox, CLASSES};
use std::f32::consts::TAU;

/// Object slots: at most this many objects in a frame.
const SLOTS: u64 = 10;
/// Seconds a source-domain clip keeps its layout and palette.
const SOURCE_CLIP_S: f64 = 6.0;

/// SplitMix64: a fixed, documented generator, so that frames never change with a crate update.
#[derive(Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(parts: &[u64]) -> Self {
        let mut s = 0x243F_6A88_85A3_08D3u64;
        for &p in parts {
            s = mix64(s ^ p);
        }
        Rng(s)
    }
    pub fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f32 {
        (self.u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn range(&mut self, a: f32, b: f32) -> f32 {
        a + (b - a) * self.f()
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.u64() % xs.len() as u64) as usize]
    }
    /// Index drawn with the given (unnormalised) weights.
    pub fn weighted(&mut self, w: &[f32]) -> usize {
        let total: f32 = w.iter().sum();
        let mut r = self.f() * total;
        for (i, &x) in w.iter().enumerate() {
            if r < x {
                return i;
            }
            r -= x;
        }
        w.len() - 1
    }
}

#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn rgb(r: u8, g: u8, b: u8) -> Rgb {
    [r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0]
}

/// A scene's layout and palette (fixed per stream; per clip in the source domain).
#[derive(Clone, Debug)]
struct Look {
    rural: bool,
    night: bool,
    layout: u64,
    /// Horizon as a fraction of the frame height from the top.
    horizon: f32,
    sky_top: Rgb,
    sky_bottom: Rgb,
    buildings: [Rgb; 3],
    ground_near: Rgb,
    ground_far: Rgb,
    road: Rgb,
    path: Rgb,
    /// Road band, as fractions of the ground depth (0 = horizon, 1 = bottom of the frame).
    road_g: (f32, f32),
    /// Camera pan amplitude and period.
    pan_amp: f32,
    pan_period: f32,
    pan_phase: f32,
    /// Base light level of the scene.
    light: f32,
    tint: Rgb,
}

impl Look {
    fn campus(r: &mut Rng, night: bool) -> Self {
        let buildings = [
            r.pick(&[rgb(176, 92, 72), rgb(196, 170, 140), rgb(150, 150, 156)]),
            r.pick(&[rgb(214, 206, 190), rgb(160, 110, 90), rgb(120, 130, 145)]),
            r.pick(&[rgb(190, 180, 160), rgb(140, 84, 66), rgb(170, 176, 184)]),
        ];
        let road_a = r.range(0.32, 0.42);
        Look {
            rural: false,
            night,
            layout: r.u64(),
            horizon: r.range(0.36, 0.44),
            sky_top: mix(rgb(70, 130, 205), rgb(120, 165, 215), r.f()),
            sky_bottom: mix(rgb(175, 205, 235), rgb(215, 225, 235), r.f()),
            buildings,
            ground_near: mix(rgb(112, 150, 80), rgb(96, 138, 72), r.f()),
            ground_far: mix(rgb(160, 160, 155), rgb(185, 180, 170), r.f()),
            road: mix(rgb(78, 80, 84), rgb(100, 100, 104), r.f()),
            path: mix(rgb(172, 168, 160), rgb(196, 186, 170), r.f()),
            road_g: (road_a, road_a + r.range(0.36, 0.44)),
            pan_amp: r.range(0.15, 0.4),
            pan_period: r.range(16.0, 30.0),
            pan_phase: r.range(0.0, TAU),
            light: if night {
                r.range(0.34, 0.4)
            } else {
                r.range(0.85, 1.1)
            },
            tint: if night {
                [0.75, 0.85, 1.2]
            } else {
                [1.0, 1.0, 1.0]
            },
        }
    }

    fn rural(r: &mut Rng) -> Self {
        let road_a = r.range(0.35, 0.45);
        Look {
            rural: true,
            night: false,
            layout: r.u64(),
            horizon: r.range(0.3, 0.38),
            sky_top: mix(rgb(110, 170, 225), rgb(150, 195, 230), r.f()),
            sky_bottom: mix(rgb(225, 232, 215), rgb(240, 236, 210), r.f()),
            buildings: [rgb(110, 135, 120), rgb(95, 120, 100), rgb(130, 150, 125)],
            ground_near: mix(rgb(150, 170, 60), rgb(120, 160, 55), r.f()),
            ground_far: mix(rgb(205, 185, 95), rgb(190, 175, 90), r.f()),
            road: mix(rgb(170, 135, 95), rgb(185, 150, 105), r.f()),
            path: rgb(120, 150, 70),
            road_g: (road_a, road_a + r.range(0.22, 0.3)),
            pan_amp: r.range(0.2, 0.45),
            pan_period: r.range(18.0, 32.0),
            pan_phase: r.range(0.0, TAU),
            light: r.range(1.0, 1.15),
            tint: [1.05, 1.0, 0.9],
        }
    }

    /// Camera pan at time t, in units of the frame height.
    fn cam(&self, t: f64) -> f32 {
        let p = (t as f32 / self.pan_period) * TAU + self.pan_phase;
        self.pan_amp * (p.sin() + 0.3 * (2.7 * p).sin())
    }
}

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

/// One object in a frame.
struct Obj {
    class: usize,
    /// Depth in the ground band: 0 at the horizon, 1 at the bottom of the frame.
    z: f32,
    /// Bottom centre in world units of the frame height.
    x: f32,
    /// Height in units of the frame height.
    h: f32,
    dir: f32,
    colors: [Rgb; 3],
    phase: f32,
}

impl Scene {
    pub fn new(domain: Domain, seed: u64) -> Self {
        let tag = match domain {
            Domain::Source => 1,
            Domain::CampusDay => 2,
            Domain::RuralDay => 3,
            Domain::CampusNight => 4,
        };
        let mut r = Rng::new(&[seed, tag]);
        let look = match domain {
            Domain::Source => None,
            Domain::CampusDay => Some(Look::campus(&mut r, false)),
            Domain::RuralDay => Some(Look::rural(&mut r)),
            Domain::CampusNight => Some(Look::campus(&mut r, true)),
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
        let light = look.light * cond.light;
        let noise = if look.night { 0.04 } else { 0.015 };
        let rgb = finish(&cv, light, look.tint, noise, mix64(self.seed ^ t.to_bits()));
        (rgb, boxes)
    }
}

fn object_colors(class: usize, r: &mut Rng) -> [Rgb; 3] {
    match class {
        // shirt, trousers, skin
        0 => [
            r.pick(&[
                rgb(200, 40, 40),
                rgb(40, 80, 200),
                rgb(240, 200, 40),
                rgb(40, 160, 60),
                rgb(240, 240, 240),
                rgb(230, 110, 30),
                rgb(150, 50, 170),
            ]),
            r.pick(&[
                rgb(30, 40, 80),
                rgb(50, 50, 55),
                rgb(20, 20, 25),
                rgb(90, 70, 50),
            ]),
            r.pick(&[rgb(240, 200, 165), rgb(200, 150, 110), rgb(140, 95, 65)]),
        ],
        // body, window, wheel
        1 => [
            r.pick(&[
                rgb(210, 30, 30),
                rgb(30, 70, 190),
                rgb(235, 235, 235),
                rgb(170, 175, 180),
                rgb(30, 30, 35),
                rgb(240, 190, 20),
                rgb(30, 130, 120),
            ]),
            rgb(150, 200, 235),
            rgb(20, 20, 20),
        ],
        // frame, tyre, saddle
        2 => [
            r.pick(&[
                rgb(230, 40, 40),
                rgb(20, 120, 230),
                rgb(20, 190, 90),
                rgb(250, 150, 0),
                rgb(220, 30, 180),
            ]),
            rgb(25, 25, 25),
            rgb(40, 30, 20),
        ],
        // coat, darker patches, nose
        _ => {
            let coat = r.pick(&[
                rgb(150, 95, 45),
                rgb(210, 170, 110),
                rgb(60, 45, 35),
                rgb(235, 225, 210),
                rgb(120, 70, 30),
            ]);
            [coat, shade(coat, 0.6), rgb(20, 15, 15)]
        }
    }
}

/// Sky, buildings or hills, and the ground with its road, drawn column by column.
fn background(cv: &mut Canvas, look: &Look, cam_px: f32, seed: u64) {
    let (w, h) = (cv.w, cv.h);
    let hf = h as f32;
    let hy = look.horizon * hf;
    let cell = 0.45 * hf;
    for x in 0..w {
        let u = x as f32 + 0.5 + cam_px; // world position in pixels
        let ci = (u / cell).floor() as i64;
        let mut r = Rng::new(&[look.layout, ci as u64]);
        // Skyline: a building (campus) or a hill profile (rural) above the horizon.
        let (top, col, windows) = if look.rural {
            let un = u / hf;
            let hill = 0.06 + 0.035 * (un * 2.1 + 1.3).sin() + 0.02 * (un * 5.3).sin();
            (
                hy - hill * hf,
                mix(look.buildings[0], look.sky_bottom, 0.35),
                false,
            )
        } else if r.f() < 0.8 {
            let bh = r.range(0.1, 0.3);
            (hy - bh * hf, look.buildings[(r.u64() % 3) as usize], true)
        } else {
            (hy, look.sky_bottom, false)
        };
        let inset = r.range(0.03, 0.08) * hf;
        let within = u - ci as f32 * cell;
        let edge = within < 1.0 || within > cell - 1.0;
        for y in 0..h {
            let yf = y as f32 + 0.5;
            let c = if yf < top {
                mix(look.sky_top, look.sky_bottom, (yf / hy.max(1.0)).min(1.0))
            } else if yf < hy {
                let mut c = col;
                if windows {
                    if edge {
                        c = shade(c, 0.75);
                    }
                    let wx = (within - inset).rem_euclid(0.11 * hf) < 0.06 * hf;
                    let wy = (yf - top - 0.03 * hf).rem_euclid(0.08 * hf) < 0.04 * hf;
                    if wx && wy && within > inset && within < cell - inset && yf > top + 0.02 * hf {
                        c = if look.night {
                            // Whole windows are lit or not: hash the window's grid index.
                            let wi = ((within - inset) / (0.11 * hf)) as u64;
                            let wj = ((yf - top - 0.03 * hf) / (0.08 * hf)) as u64;
                            let lit = Rng::new(&[seed, ci as u64, wi, wj]).u64().is_multiple_of(3);
                            if lit {
                                cv_emit(cv, x, y, [0.9, 0.75, 0.4]);
                            }
                            rgb(40, 50, 70)
                        } else {
                            rgb(70, 95, 120)
                        };
                    }
                }
                c
            } else {
                ground(look, (yf - hy) / (hf - hy), u / hf)
            };
            cv.set(x, y, c);
        }
    }
}

fn cv_emit(cv: &mut Canvas, x: usize, y: usize, c: Rgb) {
    let i = (y * cv.w + x) * 3;
    cv.emit[i..i + 3].copy_from_slice(&c);
}

/// The ground colour at depth g (0 horizon, 1 bottom) and world position un (frame heights).
fn ground(look: &Look, g: f32, un: f32) -> Rgb {
    let (ra, rb) = look.road_g;
    if g >= ra && g < rb {
        let mid = (ra + rb) / 2.0;
        let lane = (g - mid).abs() < 0.012 + 0.01 * g;
        let dash = (un * 4.0).rem_euclid(1.0) < 0.5;
        if !look.rural && lane && dash {
            return rgb(235, 225, 150);
        }
        if look.rural {
            // Wheel ruts.
            let rut = ((g - ra) / (rb - ra) * 4.0).rem_euclid(1.0) < 0.12;
            return if rut {
                shade(look.road, 0.85)
            } else {
                look.road
            };
        }
        return look.road;
    }
    if look.rural {
        // Fields in bands with furrows, receding toward the horizon.
        let band = (g * 5.0 + (un * 0.7).sin() * 0.3).floor() as i32;
        let base = match band.rem_euclid(3) {
            0 => look.ground_far,
            1 => look.ground_near,
            _ => rgb(140, 110, 70),
        };
        let furrow = ((un * 30.0 * (0.3 + g)) + g * 40.0).sin() > 0.6;
        let c = if furrow { shade(base, 0.85) } else { base };
        return mix(c, look.sky_bottom, (1.0 - g).powi(6) * 0.5);
    }
    if g < ra {
        // Pavement with slabs.
        let slab = (un * 12.0).rem_euclid(1.0) < 0.05;
        if slab {
            shade(look.path, 0.9)
        } else {
            mix(look.ground_far, look.path, g / ra)
        }
    } else {
        let stripe = (g * 12.0).rem_euclid(1.0) < 0.5;
        if stripe {
            look.ground_near
        } else {
            shade(look.ground_near, 0.93)
        }
    }
}

/// Static things at the foot of the skyline (trees, lamps, bins, bales): their number drifts.
fn clutter(cv: &mut Canvas, look: &Look, cam_px: f32, density: f32) {
    let hf = cv.h as f32;
    let cell = 0.3 * hf;
    let first = ((cam_px - 0.3 * hf) / cell).floor() as i64;
    let last = ((cam_px + cv.w as f32 + 0.3 * hf) / cell).ceil() as i64;
    for ci in first..=last {
        let mut r = Rng::new(&[look.layout, 0xC1, ci as u64]);
        if r.f() > density {
            continue;
        }
        let x = (ci as f32 + r.range(0.1, 0.9)) * cell - cam_px;
        let yb = (look.horizon + r.range(0.02, 0.12) * (1.0 - look.horizon)) * hf;
        let s = hf * r.range(0.8, 1.2);
        match (look.rural, r.u64() % 4) {
            (false, 0) | (true, 0) | (true, 1) => {
                // Tree: trunk and round crown.
                let crown = if look.rural {
                    rgb(45, 95, 40)
                } else {
                    rgb(60, 120, 50)
                };
                cv.rect(
                    x - 0.012 * s,
                    yb - 0.16 * s,
                    x + 0.012 * s,
                    yb,
                    rgb(90, 60, 35),
                );
                cv.ellipse(x, yb - 0.2 * s, 0.07 * s, 0.08 * s, crown);
            }
            (false, 1) => {
                // Lamp post: a light source at night.
                cv.rect(
                    x - 0.006 * s,
                    yb - 0.3 * s,
                    x + 0.006 * s,
                    yb,
                    rgb(70, 70, 75),
                );
                cv.rect(
                    x - 0.025 * s,
                    yb - 0.31 * s,
                    x + 0.025 * s,
                    yb - 0.29 * s,
                    rgb(90, 90, 90),
                );
                if look.night {
                    cv.glow(x, yb - 0.29 * s, 0.12 * s, [1.0, 0.85, 0.55]);
                }
            }
            (false, 2) => {
                // Bench.
                cv.rect(
                    x - 0.05 * s,
                    yb - 0.035 * s,
                    x + 0.05 * s,
                    yb - 0.025 * s,
                    rgb(120, 80, 50),
                );
                cv.rect(
                    x - 0.045 * s,
                    yb - 0.025 * s,
                    x - 0.04 * s,
                    yb,
                    rgb(50, 50, 50),
                );
                cv.rect(
                    x + 0.04 * s,
                    yb - 0.025 * s,
                    x + 0.045 * s,
                    yb,
                    rgb(50, 50, 50),
                );
            }
            (false, _) => {
                // Hedge.
                cv.ellipse(x, yb - 0.03 * s, 0.09 * s, 0.035 * s, rgb(50, 105, 45));
            }
            (true, 2) => {
                // Hay bale.
                cv.ellipse(x, yb - 0.03 * s, 0.035 * s, 0.03 * s, rgb(215, 180, 90));
            }
            (true, _) => {
                // Fence.
                for k in 0..4 {
                    let px = x + (k as f32 - 1.5) * 0.03 * s;
                    cv.rect(
                        px - 0.003 * s,
                        yb - 0.05 * s,
                        px + 0.003 * s,
                        yb,
                        rgb(110, 80, 50),
                    );
                }
                cv.rect(
                    x - 0.05 * s,
                    yb - 0.04 * s,
                    x + 0.05 * s,
                    yb - 0.034 * s,
                    rgb(110, 80, 50),
                );
            }
        }
    }
}

/// Draws an object with bottom centre (cx, yb) and height hp pixels; returns its box.
fn draw_object(cv: &mut Canvas, o: &Obj, cx: f32, yb: f32, hp: f32, night: bool) -> [f32; 4] {
    let d = o.dir;
    let h = hp;
    let sw = o.phase.sin();
    let [c0, c1, c2] = o.colors;
    let px = |f: f32| cx + f * h * d;
    let py = |f: f32| yb - f * h;
    match o.class {
        0 => {
            // Person: legs, torso, arms, head.
            for (side, ph) in [(-1.0f32, 0.0f32), (1.0, std::f32::consts::PI)] {
                let s = (o.phase + ph).sin();
                cv.line(
                    px(side * 0.06),
                    py(0.44),
                    px(side * 0.05 + 0.1 * s),
                    py(0.03),
                    0.1 * h,
                    c1,
                );
            }
            cv.rect(cx - 0.14 * h, py(0.77), cx + 0.14 * h, py(0.42), c0);
            for side in [-1.0f32, 1.0] {
                cv.line(
                    px(side * 0.15),
                    py(0.74),
                    px(side * 0.16 - 0.06 * sw * side),
                    py(0.46),
                    0.075 * h,
                    shade(c0, 0.8),
                );
            }
            cv.ellipse(cx, py(0.875), 0.11 * h, 0.115 * h, c2);
            cv.ellipse(
                cx - 0.02 * h * d,
                py(0.94),
                0.1 * h,
                0.05 * h,
                rgb(40, 30, 25),
            );
            [cx - 0.22 * h, yb - h, cx + 0.22 * h, yb]
        }
        1 => {
            // Car: body, cabin with windows, wheels, lights.
            cv.quad(
                [
                    (px(-0.6), py(0.57)),
                    (px(-0.42), py(1.0)),
                    (px(0.32), py(1.0)),
                    (px(0.55), py(0.57)),
                ],
                c0,
            );
            cv.quad(
                [
                    (px(-0.5), py(0.6)),
                    (px(-0.37), py(0.92)),
                    (px(-0.1), py(0.92)),
                    (px(-0.1), py(0.6)),
                ],
                c1,
            );
            cv.quad(
                [
                    (px(-0.03), py(0.6)),
                    (px(-0.03), py(0.92)),
                    (px(0.27), py(0.92)),
                    (px(0.45), py(0.6)),
                ],
                c1,
            );
            cv.rect(cx - 0.95 * h, py(0.6), cx + 0.95 * h, py(0.17), c0);
            cv.rect(
                cx - 0.95 * h,
                py(0.24),
                cx + 0.95 * h,
                py(0.17),
                shade(c0, 0.55),
            );
            for f in [-0.58f32, 0.58] {
                cv.ellipse(px(f), py(0.19), 0.19 * h, 0.19 * h, c2);
                cv.ellipse(px(f), py(0.19), 0.08 * h, 0.08 * h, rgb(160, 160, 165));
            }
            cv.rect(
                px(0.95).min(px(0.85)),
                py(0.5),
                px(0.95).max(px(0.85)),
                py(0.4),
                rgb(250, 240, 190),
            );
            cv.rect(
                px(-0.95).min(px(-0.88)),
                py(0.5),
                px(-0.95).max(px(-0.88)),
                py(0.4),
                rgb(200, 20, 20),
            );
            if night {
                cv.glow(px(0.98), py(0.45), 0.35 * h, [1.0, 0.95, 0.75]);
                cv.glow(px(1.25), py(0.3), 0.3 * h, [0.5, 0.48, 0.38]);
                cv.glow(px(-0.95), py(0.45), 0.15 * h, [0.9, 0.1, 0.05]);
            }
            [cx - 0.95 * h, yb - h, cx + 0.95 * h, yb]
        }
        2 => {
            // Bicycle: two wheels, a diamond frame, saddle and handlebar.
            let t = 0.075 * h;
            for f in [-0.55f32, 0.55] {
                cv.ring(px(f), py(0.3), 0.28 * h, t, c1);
            }
            let (rx, ry) = (px(-0.55), py(0.3));
            let (bx, by) = (px(-0.05), py(0.3));
            let (sx, sy) = (px(-0.17), py(0.75));
            let (hx, hy) = (px(0.38), py(0.78));
            let (fx, fy) = (px(0.55), py(0.3));
            let ft = 0.07 * h;
            cv.line(rx, ry, bx, by, ft, c0);
            cv.line(rx, ry, sx, sy, ft, c0);
            cv.line(sx, sy, bx, by, ft, c0);
            cv.line(sx, sy, hx, hy, ft, c0);
            cv.line(hx, hy, bx, by, ft, c0);
            cv.line(hx, hy, fx, fy, ft, c0);
            cv.line(hx, hy, px(0.32), py(0.95), ft, rgb(60, 60, 60));
            cv.line(px(0.22), py(0.95), px(0.42), py(0.95), ft, rgb(30, 30, 30));
            cv.line(px(-0.3), py(0.8), px(-0.06), py(0.8), 0.08 * h, c2);
            [cx - 0.87 * h, yb - h, cx + 0.87 * h, yb]
        }
        _ => {
            // Dog: legs, tail, body, head with snout and ear.
            for (f, ph) in [(-0.38f32, 0.0f32), (-0.24, 3.1), (0.2, 3.1), (0.33, 0.0)] {
                let s = (o.phase + ph).sin();
                cv.line(
                    px(f),
                    py(0.5),
                    px(f + 0.08 * s),
                    py(0.04),
                    0.085 * h,
                    if ph > 1.0 { c1 } else { c0 },
                );
            }
            cv.line(
                px(-0.45),
                py(0.62),
                px(-0.68),
                py(0.9 + 0.04 * sw),
                0.07 * h,
                c0,
            );
            cv.ellipse(px(-0.03), py(0.58), 0.46 * h, 0.18 * h, c0);
            cv.ellipse(px(0.47), py(0.79), 0.16 * h, 0.15 * h, c0);
            cv.ellipse(px(0.62), py(0.74), 0.1 * h, 0.065 * h, c0);
            cv.ellipse(px(0.7), py(0.76), 0.03 * h, 0.03 * h, c2);
            cv.ellipse(px(0.41), py(0.86), 0.055 * h, 0.11 * h, c1);
            cv.ellipse(px(0.52), py(0.83), 0.02 * h, 0.02 * h, c2);
            [cx - 0.73 * h, yb - h, cx + 0.73 * h, yb]
        }
    }
}

/// Clips a box to the frame; drops it when less than a third of it is in view or it is tiny.
fn clip_box(b: [f32; 4], class: usize, w: f32, h: f32) -> Option<GtBox> {
    debug_assert!(class < CLASSES.len());
    let full = (b[2] - b[0]) * (b[3] - b[1]);
    let c = GtBox {
        class,
        x0: b[0].max(0.0),
        y0: b[1].max(0.0),
        x1: b[2].min(w),
        y1: b[3].min(h),
    };
    let ok = c.width() >= 2.0 && c.height() >= 2.0 && c.area() >= full / 3.0;
    ok.then_some(c)
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
