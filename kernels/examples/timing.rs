//! Timing of one 1024x1024 layer on 256 vectors against sgemm of the same shape, interleaved
//! round by round and reported as the fastest and the median round (this machine's speed drifts
//! by 2x between seconds; the criterion bench is the reference).
//!   RAYON_NUM_THREADS=1 cargo run --release -p nestevo-kernels --example timing [flip|noflip] [ROUNDS]
use nestevo_kernels::{ExactKernel, InputMode, Programmed, XbarConfig};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flip = args.get(1).map(|a| a != "noflip").unwrap_or(true);
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(9);
    let cfg = XbarConfig {
        flip,
        ..XbarConfig::isaac()
    };
    let (b, k, n) = (256, 1024, 1024);
    let mut s = 1u64;
    let mut r = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as i64
    };
    let w: Vec<i64> = (0..k * n).map(|_| r() % 65536 - 32768).collect();
    let x: Vec<i64> = (0..b * k).map(|_| r() % 65536).collect();
    let p = Programmed::new(&cfg, &w, k, n).unwrap();
    let pop = Programmed::new(&cfg, &w, k, n)
        .unwrap()
        .with_exact_kernel(ExactKernel::Popcount);
    let bits = p.with_exact_kernel(ExactKernel::BitSliced);
    // Warm-up (the bit-sliced kernel builds its row lists on first use).
    let (y1, c1) = pop.run(&x, b, InputMode::Unsigned, None).unwrap();
    let (y2, c2) = bits.run(&x, b, InputMode::Unsigned, None).unwrap();
    assert!(y1 == y2 && c1 == c2);
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e3
    };
    let mut t: [Vec<f64>; 3] = Default::default();
    for _ in 0..rounds {
        t[0].push(gemm_ms());
        t[1].push(time(&mut || {
            drop(pop.run(&x, b, InputMode::Unsigned, None))
        }));
        t[2].push(time(&mut || {
            drop(bits.run(&x, b, InputMode::Unsigned, None))
        }));
    }
    let stat = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        (v[0], v[v.len() / 2])
    };
    let (g, gm) = stat(&mut t[0]);
    println!(
        "flip={flip}, {rounds} rounds, saturated conversions {}",
        c1.adc_saturations
    );
    println!("sgemm      min {g:7.1} ms  median {gm:7.1} ms");
    let [_, tp, tb] = &mut t;
    for (name, v) in [("popcount", tp), ("bitsliced", tb)] {
        let (m, md) = stat(v);
        println!(
            "{name:10} min {m:7.1} ms  median {md:7.1} ms  ({:.1}x sgemm by min, {:.1}x by median)",
            m / g,
            md / gm
        );
    }
    if args.get(3).map(|a| a == "analog").unwrap_or(false) {
        let p = Programmed::new(&cfg, &w, k, n)
            .unwrap()
            .program_conductances(0.01, 3)
            .unwrap();
        let ms = time(&mut || drop(p.run(&x, b, InputMode::Unsigned, None)));
        println!("analog     {ms:7.1} ms");
    }
}

fn gemm_ms() -> f64 {
    let (m, k, n) = (256usize, 1024usize, 1024usize);
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut c = vec![0f32; m * n];
    let t = Instant::now();
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
    t.elapsed().as_secs_f64() * 1e3
}
