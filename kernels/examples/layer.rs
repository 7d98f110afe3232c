//! The 1024x1024 ISAAC layer on 256 vectors against its bounds, interleaved round by round
//! (this machine's speed drifts between seconds) and reported as the fastest and the median
//! round, in ms:
//! - `f64_product`: the exact f64 product of the same shape (dgemm, split over the threads);
//! - `f32_binary_x128`: 128 binary-input f32 products of that shape (8 weight slices x 16 input
//!   bit-planes), what the analogue column sums of cell noise amount to;
//! - `noiseless`: ISAAC, flipping, exact 8-bit ADC (the exact product: no column can saturate);
//! - `noiseless_bit_planes`: the same with the bit-plane kernel forced (what runs where the
//!   product cannot be proved);
//! - `saturating`: flipping off, large weights and inputs (0.78 % of conversions saturate);
//! - `cell_noise`: cell noise mu = 0.01 (the analogue path).
//!
//!   cargo run --release -p nestevo-kernels --example layer [ROUNDS] [--json]
//!
//! `NESTEVO_SIMD=avx2` runs the kernels as on a CPU without AVX-512.
use nestevo_kernels::{ExactKernel, InputMode, Programmed, XbarConfig};
use rayon::prelude::*;
use std::time::Instant;

const B: usize = 256;
const K: usize = 1024;
const N: usize = 1024;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5);
    let json = args.iter().any(|a| a == "--json");
    let cfg = XbarConfig::isaac();
    let noflip = XbarConfig {
        flip: false,
        ..cfg.clone()
    };
    let mut s = 1u64;
    let mut r = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as i64
    };
    let w: Vec<i64> = (0..K * N).map(|_| r() % 65536 - 32768).collect();
    let x: Vec<i64> = (0..B * K).map(|_| r() % 65536).collect();
    let w_big: Vec<i64> = (0..K * N).map(|_| 16384 + r() % 16384).collect();
    let x_big: Vec<i64> = (0..B * K).map(|_| 32768 + r() % 32768).collect();

    let exact = Programmed::new(&cfg, &w, K, N).unwrap();
    assert!(exact.exact_product());
    let planes = Programmed::new(&cfg, &w, K, N)
        .unwrap()
        .with_exact_kernel(ExactKernel::BitSliced);
    let sat = Programmed::new(&noflip, &w_big, K, N).unwrap();
    assert!(!sat.exact_product());
    let noisy = Programmed::new(&cfg, &w, K, N)
        .unwrap()
        .program_conductances(0.01, 3)
        .unwrap();
    // Warm-up, and the product against the bit-plane kernel.
    let (y1, c1) = exact.run(&x, B, InputMode::Unsigned, None).unwrap();
    let (y2, c2) = planes.run(&x, B, InputMode::Unsigned, None).unwrap();
    assert!(y1 == y2 && c1 == c2);
    let (_, cs) = sat.run(&x_big, B, InputMode::Unsigned, None).unwrap();

    let (xf, wf) = (
        x.iter().map(|&v| v as f64).collect::<Vec<_>>(),
        w.iter().map(|&v| v as f64).collect::<Vec<_>>(),
    );
    let bin: Vec<f32> = (0..B * K).map(|i| (x[i] & 1) as f32).collect();
    let wsl: Vec<f32> = w.iter().map(|&v| (v & 3) as f32).collect();
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e3
    };
    let names = [
        "f64_product",
        "f32_binary_x128",
        "noiseless",
        "noiseless_bit_planes",
        "saturating",
        "cell_noise",
    ];
    let mut t: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..rounds {
        t[0].push(time(&mut || drop(dgemm(&xf, &wf))));
        t[1].push(time(&mut || {
            for _ in 0..128 {
                drop(sgemm(&bin, &wsl));
            }
        }));
        t[2].push(time(&mut || {
            drop(exact.run(&x, B, InputMode::Unsigned, None))
        }));
        t[3].push(time(&mut || {
            drop(planes.run(&x, B, InputMode::Unsigned, None))
        }));
        t[4].push(time(&mut || {
            drop(sat.run(&x_big, B, InputMode::Unsigned, None))
        }));
        t[5].push(time(&mut || {
            drop(noisy.run(&x, B, InputMode::Unsigned, None))
        }));
    }
    let stat = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        (v[0], v[v.len() / 2])
    };
    let simd = std::env::var("NESTEVO_SIMD").unwrap_or_else(|_| "auto".into());
    if json {
        let rows: Vec<String> = names
            .iter()
            .zip(&t)
            .map(|(n, v)| {
                let (m, md) = stat(v);
                format!("\"{n}\": {{\"min_ms\": {m:.2}, \"median_ms\": {md:.2}}}")
            })
            .collect();
        println!(
            "{{\"simd\": \"{simd}\", \"threads\": {}, \"rounds\": {rounds}, \"saturation_rate\": {:.5}, {}}}",
            rayon::current_num_threads(),
            cs.saturation_rate(),
            rows.join(", ")
        );
        return;
    }
    println!(
        "NESTEVO_SIMD={simd}, {} threads, {rounds} rounds; saturating case: {:.2} % of conversions saturate",
        rayon::current_num_threads(),
        100.0 * cs.saturation_rate()
    );
    let (f64m, _) = stat(&t[0]);
    let (f32m, _) = stat(&t[1]);
    for (n, v) in names.iter().zip(&t) {
        let (m, md) = stat(v);
        println!(
            "{n:22} min {m:8.1} ms  median {md:8.1} ms  ({:6.2}x f64 product, {:5.2}x 128 binary f32 products, by min)",
            m / f64m,
            m / f32m
        );
    }
}

/// C = A B for row-major A (B x K) and B (K x N), row blocks over the threads, with one of
/// matrixmultiply's products.
macro_rules! product {
    ($name:ident, $t:ty, $gemm:path) => {
        fn $name(a: &[$t], b: &[$t]) -> Vec<$t> {
            let mut c: Vec<$t> = vec![0.0; B * N];
            let per = B.div_ceil(rayon::current_num_threads() * 2);
            c.par_chunks_mut(per * N)
                .zip(a.par_chunks(per * K))
                .for_each(|(cb, ab)| unsafe {
                    // SAFETY: row-major blocks, in bounds.
                    $gemm(
                        ab.len() / K,
                        K,
                        N,
                        1.0,
                        ab.as_ptr(),
                        K as isize,
                        1,
                        b.as_ptr(),
                        N as isize,
                        1,
                        0.0,
                        cb.as_mut_ptr(),
                        N as isize,
                        1,
                    )
                });
            c
        }
    };
}
product!(dgemm, f64, matrixmultiply::dgemm);
product!(sgemm, f32, matrixmultiply::sgemm);
