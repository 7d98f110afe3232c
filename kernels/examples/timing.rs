//! Rough timing of one 1024x1024 layer on 256 vectors (the criterion bench is the reference).
use nestevo_kernels::{AdcMode, InputMode, Programmed, XbarConfig};
use std::time::Instant;

fn cpu_ms() -> f64 {
    let mut ts = [0i64; 2];
    // utime + stime in 10 ms ticks: CPU time, which a loaded machine does not inflate.
    if let Ok(s) = std::fs::read_to_string("/proc/self/stat") {
        let f: Vec<&str> = s.split_whitespace().collect();
        ts[0] = f[13].parse().unwrap_or(0);
        ts[1] = f[14].parse().unwrap_or(0);
    }
    (ts[0] + ts[1]) as f64 * 10.0
}

fn main() {
    let flip = std::env::args()
        .nth(1)
        .map(|a| a != "noflip")
        .unwrap_or(true);
    let cfg = XbarConfig {
        rows: 128,
        cols: 128,
        bits_per_cell: 2,
        weight_bits: 16,
        input_bits: 16,
        dac_bits: 1,
        adc_bits: 8,
        adc_mode: AdcMode::Exact,
        flip,
        g_min: 1.0,
        g_max: 100.0,
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
    let c0 = cpu_ms();
    for _ in 0..20 {
        gemm_ms();
    }
    println!("sgemm: {:.1} ms cpu each", (cpu_ms() - c0) / 20.0);
    let p = Programmed::new(&cfg, &w, k, n).unwrap();
    for _ in 0..3 {
        let (t, c0) = (Instant::now(), cpu_ms());
        let (_, c) = p.run(&x, b, InputMode::Unsigned, None).unwrap();
        println!(
            "exact flip={flip}: {:.1} ms wall, {:.0} ms cpu, sat {}",
            t.elapsed().as_secs_f64() * 1e3,
            cpu_ms() - c0,
            c.adc_saturations
        );
    }
    let p = p.program_conductances(0.01, 3).unwrap();
    for _ in 0..2 {
        let (t, c0) = (Instant::now(), cpu_ms());
        p.run(&x, b, InputMode::Unsigned, None).unwrap();
        println!(
            "analog: {:.1} ms wall, {:.0} ms cpu",
            t.elapsed().as_secs_f64() * 1e3,
            cpu_ms() - c0
        );
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
