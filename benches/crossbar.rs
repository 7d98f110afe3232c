//! Bit-faithful ISAAC execution of a 1024x1024 layer on 256 input vectors, in simulated MACs per
//! second, next to a plain f32 matrix product of the same shape in the same run.
//! Run: cargo bench --no-default-features --bench crossbar

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ndarray::{s, Array2};
use nestevo_arch::{apply_overrides, preset};
use nestevo_cim::{CimMatrix, NoiseMode, NoiseSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

const B: usize = 256;
const K: usize = 1024;
const N: usize = 1024;

fn bench(c: &mut Criterion) {
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let w = Array2::from_shape_fn((K, N), |_| r.gen_range(-32768i64..32768));
    let x = Array2::from_shape_fn((B, K), |_| r.gen_range(0i64..65536));
    let (wf, xf) = (w.mapv(|v| v as f32), x.mapv(|v| v as f32));
    // Large weights and inputs: without flipping their column sums overflow an 8-bit ADC.
    let w_big = Array2::from_shape_fn((K, N), |_| r.gen_range(16384i64..32768));
    let x_big = Array2::from_shape_fn((B, K), |_| r.gen_range(32768i64..65536));
    let isaac = preset("isaac").unwrap();
    let noflip = apply_overrides(&isaac, &["encoding.flip=false".into()], "isaac").unwrap();
    let none = NoiseSpec::default();
    let cell = NoiseSpec {
        mode: NoiseMode::Cell,
        mu: 0.01,
        read_mu: 0.0,
        seed: 1,
    };

    let mut g = c.benchmark_group("layer_1024x1024_batch256");
    g.throughput(Throughput::Elements((B * K * N) as u64));
    g.sample_size(10);
    g.bench_function("f32_matmul_1_thread", |b| b.iter(|| xf.dot(&wf)));
    // The same product split over rayon's threads by rows, as the simulator is.
    g.bench_function("f32_matmul_rayon", |b| {
        b.iter(|| {
            let th = rayon::current_num_threads();
            let per = B.div_ceil(th);
            (0..th)
                .into_par_iter()
                .map(|t| xf.slice(s![t * per..((t + 1) * per).min(B), ..]).dot(&wf))
                .collect::<Vec<_>>()
        })
    });
    for (name, spec, noise, w, x) in [
        ("isaac_exact", &isaac, &none, &w, &x),
        (
            "isaac_noflip_8bit_saturating",
            &noflip,
            &none,
            &w_big,
            &x_big,
        ),
        ("isaac_cell_noise", &isaac, &cell, &w, &x),
    ] {
        let m = CimMatrix::program(spec, w.view(), noise).unwrap();
        let (_, st) = m.mvm(x.view(), false).unwrap();
        eprintln!(
            "{name}: {} crossbars, {} ADC conversions, {} saturated ({:.3} %)",
            st.crossbars,
            st.adc_conversions,
            st.adc_saturations,
            100.0 * st.saturation_rate()
        );
        g.bench_function(name, |b| b.iter(|| m.mvm(x.view(), false).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
