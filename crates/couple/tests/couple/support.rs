//! Helpers shared by the couple crate's tests and the binary's (`tests/cli`, through a
//! `#[path]` module): random weights for a description, as the trainer names its tensors.

use ndarray::{ArrayD, ArrayView4, IxDyn};
use nestevo_model::{ModelDesc, Op, Tensors};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub fn uniform(rng: &mut ChaCha8Rng, shape: &[usize], lo: f32, hi: f32) -> ArrayD<f32> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.gen_range(lo..hi))
}

/// Random tensors for every layer of `desc`, named as the trainer names them; batch-norm
/// statistics far from identity so that an unfolded or skipped bn shows.
pub fn random_tensors(desc: &ModelDesc, seed: u64) -> Tensors {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shapes = desc.shapes().unwrap();
    let mut t = Tensors::default();
    for l in &desc.layers {
        let inp = match l.inputs[0].as_str() {
            "input" => desc.input,
            n => shapes[desc.index_of(n).unwrap()],
        };
        let n = &l.name;
        match &l.op {
            Op::Conv {
                out_channels: o,
                kernel,
                groups,
                bias,
                ..
            } => {
                let fan = inp[0] / groups * kernel[0] * kernel[1];
                let a = (6.0 / fan as f32).sqrt();
                t.insert(
                    &format!("{n}.weight"),
                    uniform(
                        &mut rng,
                        &[*o, inp[0] / groups, kernel[0], kernel[1]],
                        -a,
                        a,
                    ),
                );
                if *bias {
                    t.insert(&format!("{n}.bias"), uniform(&mut rng, &[*o], -0.3, 0.3));
                }
            }
            Op::Linear {
                out_features: o,
                bias,
            } => {
                let k: usize = inp.iter().product();
                let a = (3.0 / k as f32).sqrt();
                t.insert(&format!("{n}.weight"), uniform(&mut rng, &[*o, k], -a, a));
                if *bias {
                    t.insert(&format!("{n}.bias"), uniform(&mut rng, &[*o], -0.3, 0.3));
                }
            }
            Op::BatchNorm => {
                let c = inp[0];
                t.insert(&format!("{n}.weight"), uniform(&mut rng, &[c], 0.5, 1.5));
                t.insert(&format!("{n}.bias"), uniform(&mut rng, &[c], -0.5, 0.5));
                t.insert(
                    &format!("{n}.running_mean"),
                    uniform(&mut rng, &[c], -0.3, 0.3),
                );
                t.insert(
                    &format!("{n}.running_var"),
                    uniform(&mut rng, &[c], 0.3, 2.0),
                );
            }
            _ => {}
        }
    }
    t
}

pub fn max_abs_diff(a: ArrayView4<f32>, b: ArrayView4<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b.iter())
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}
