//! Training frames rendered on the fly: random (seed, index) draws from a stream, so every
//! batch is fresh and the pool is effectively unbounded; mirrored half of the time.

use nestevo_data::{Frame, GtBox, Stream, StreamId};
use nestevo_eval::HeldOut;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub struct FramePool {
    id: StreamId,
    /// Distinct stream seeds drawn from.
    seeds: u64,
    /// Frames drawn per seed (a stream's index range).
    frames_per_seed: u64,
    seed_base: u64,
    rng: ChaCha8Rng,
}

impl FramePool {
    /// `seed` fixes the whole sequence of batches.
    pub fn new(id: StreamId, seed: u64) -> Self {
        Self {
            id,
            seeds: 4096,
            frames_per_seed: 3000,
            seed_base: (1 << 32) + seed.wrapping_mul(0x9e37_79b9) % (1 << 31),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn sample(&mut self, n: usize) -> Vec<Frame> {
        (0..n)
            .map(|_| {
                let s = self.seed_base + self.rng.gen_range(0..self.seeds);
                let i = self.rng.gen_range(0..self.frames_per_seed);
                let f = Stream::new(self.id, s).frame(i);
                if self.rng.gen_bool(0.5) {
                    mirror(f)
                } else {
                    f
                }
            })
            .collect()
    }
}

/// Left-right mirror of a frame and its boxes.
pub fn mirror(mut f: Frame) -> Frame {
    let w = f.width;
    for row in f.rgb.chunks_exact_mut(w * 3) {
        for x in 0..w / 2 {
            for c in 0..3 {
                row.swap(x * 3 + c, (w - 1 - x) * 3 + c);
            }
        }
    }
    for b in &mut f.boxes {
        *b = GtBox {
            x0: w as f32 - b.x1,
            x1: w as f32 - b.x0,
            ..*b
        };
    }
    f
}

/// `n` held-out frames of a stream at 96x96, by the project's one rule (`eval::heldout`).
pub fn eval_frames(id: StreamId, n: usize) -> Vec<Frame> {
    if n == 0 {
        return Vec::new();
    }
    HeldOut::new(id, n)
        .render(96, 96)
        .expect("96x96 frames of a valid set")
}
