//! The objects: how each class looks, and its ground-truth box.

use super::draw::{rgb, shade, Canvas, Rgb};
use super::rng::Rng;
use super::{GtBox, CLASSES};

/// One object in a frame.
pub(super) struct Obj {
    pub(super) class: usize,
    /// Depth in the ground band: 0 at the horizon, 1 at the bottom of the frame.
    pub(super) z: f32,
    /// Bottom centre in world units of the frame height.
    pub(super) x: f32,
    /// Height in units of the frame height.
    pub(super) h: f32,
    pub(super) dir: f32,
    pub(super) colors: [Rgb; 3],
    pub(super) phase: f32,
}

pub(super) fn object_colors(class: usize, r: &mut Rng) -> [Rgb; 3] {
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

/// Draws an object with bottom centre (cx, yb) and height hp pixels; returns its box.
pub(super) fn draw_object(
    cv: &mut Canvas,
    o: &Obj,
    cx: f32,
    yb: f32,
    hp: f32,
    night: bool,
) -> [f32; 4] {
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
pub(super) fn clip_box(b: [f32; 4], class: usize, w: f32, h: f32) -> Option<GtBox> {
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
