//! A scene's look: its layout seed, horizon, palette, road band, camera pan and base light,
//! drawn once per stream (once per clip in the source domain). The camera's horizontal offset
//! at time t, in frame heights, is pan_amp * (sin p + 0.3 sin 2.7p), p = 2 pi t / pan_period +
//! pan_phase.

use super::draw::{mix, rgb, Rgb};
use super::rng::Rng;
use std::f32::consts::TAU;

/// A scene's layout and palette (fixed per stream; per clip in the source domain).
#[derive(Clone, Debug)]
pub(super) struct Look {
    pub(super) rural: bool,
    pub(super) night: bool,
    pub(super) layout: u64,
    /// Horizon as a fraction of the frame height from the top.
    pub(super) horizon: f32,
    pub(super) sky_top: Rgb,
    pub(super) sky_bottom: Rgb,
    pub(super) buildings: [Rgb; 3],
    pub(super) ground_near: Rgb,
    pub(super) ground_far: Rgb,
    pub(super) road: Rgb,
    pub(super) path: Rgb,
    /// Road band, as fractions of the ground depth (0 = horizon, 1 = bottom of the frame).
    pub(super) road_g: (f32, f32),
    /// Camera pan amplitude and period.
    pub(super) pan_amp: f32,
    pub(super) pan_period: f32,
    pub(super) pan_phase: f32,
    /// Base light level of the scene.
    pub(super) light: f32,
    pub(super) tint: Rgb,
}

impl Look {
    pub(super) fn campus(r: &mut Rng, night: bool) -> Self {
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

    pub(super) fn rural(r: &mut Rng) -> Self {
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
    pub(super) fn cam(&self, t: f64) -> f32 {
        let p = (t as f32 / self.pan_period) * TAU + self.pan_phase;
        self.pan_amp * (p.sin() + 0.3 * (2.7 * p).sin())
    }
}
