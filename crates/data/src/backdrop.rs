//! The static part of a frame: sky, skyline (buildings or hills), ground, road and clutter.

use super::draw::{mix, rgb, shade, Canvas, Rgb};
use super::look::Look;
use super::rng::Rng;

/// Sky, buildings or hills, and the ground with its road, drawn column by column.
pub(super) fn background(cv: &mut Canvas, look: &Look, cam_px: f32, seed: u64) {
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
pub(super) fn clutter(cv: &mut Canvas, look: &Look, cam_px: f32, density: f32) {
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
