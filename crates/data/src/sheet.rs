//! Contact sheets: a grid of frames, to look at a stream with one's own eyes.

use super::{Frame, CLASSES};

/// Box colours per class (person red, car yellow, bicycle cyan, dog magenta).
const BOX_RGB: [[u8; 3]; CLASSES.len()] =
    [[255, 40, 40], [255, 230, 0], [0, 230, 255], [255, 0, 255]];

/// Lays out frames in a grid `cols` wide with a 2-pixel gutter, each scaled up `scale` times
/// (nearest neighbour), boxes outlined when `boxes` is set. Returns `(width, height, rgb)`.
pub fn contact_sheet(
    frames: &[Frame],
    cols: usize,
    scale: usize,
    boxes: bool,
) -> (usize, usize, Vec<u8>) {
    let cols = cols.max(1);
    let scale = scale.max(1);
    let rows = frames.len().div_ceil(cols).max(1);
    let (fw, fh) = frames
        .first()
        .map(|f| (f.width * scale, f.height * scale))
        .unwrap_or((1, 1));
    let gap = 2;
    let (w, h) = (cols * (fw + gap) + gap, rows * (fh + gap) + gap);
    let mut out = vec![255u8; w * h * 3];
    for (n, f) in frames.iter().enumerate() {
        let (ox, oy) = (gap + (n % cols) * (fw + gap), gap + (n / cols) * (fh + gap));
        let mut put = |x: usize, y: usize, c: [u8; 3]| {
            if x < fw && y < fh {
                let i = ((oy + y) * w + ox + x) * 3;
                out[i..i + 3].copy_from_slice(&c);
            }
        };
        for y in 0..f.height.min(fh / scale) {
            for x in 0..f.width.min(fw / scale) {
                let i = (y * f.width + x) * 3;
                let c = [f.rgb[i], f.rgb[i + 1], f.rgb[i + 2]];
                for dy in 0..scale {
                    for dx in 0..scale {
                        put(x * scale + dx, y * scale + dy, c);
                    }
                }
            }
        }
        if boxes {
            for b in &f.boxes {
                let c = BOX_RGB[b.class % BOX_RGB.len()];
                let px = |v: f32| (v * scale as f32).round().max(0.0) as usize;
                let (x0, y0) = (px(b.x0), px(b.y0));
                let (x1, y1) = (
                    px(b.x1).saturating_sub(1).max(x0),
                    px(b.y1).saturating_sub(1).max(y0),
                );
                for x in x0..=x1 {
                    put(x, y0, c);
                    put(x, y1, c);
                }
                for y in y0..=y1 {
                    put(x0, y, c);
                    put(x1, y, c);
                }
            }
        }
    }
    (w, h, out)
}
