//! Quick checks of the kernels on their own: exact equality with the integer product.

use nestevo_kernels::{AdcMode, InputMode, Programmed, XbarConfig};

fn isaac() -> XbarConfig {
    XbarConfig {
        rows: 128,
        cols: 128,
        bits_per_cell: 2,
        weight_bits: 16,
        input_bits: 16,
        dac_bits: 1,
        adc_bits: 8,
        adc_mode: AdcMode::Exact,
        flip: true,
        g_min: 1.0,
        g_max: 100.0,
    }
}

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

fn reference(w: &[i64], x: &[i64], b: usize, k: usize, n: usize) -> Vec<i64> {
    let mut y = vec![0i64; b * n];
    for v in 0..b {
        for r in 0..k {
            for o in 0..n {
                y[v * n + o] += x[v * k + r] * w[r * n + o];
            }
        }
    }
    y
}

#[test]
fn isaac_exact_and_analogue_match_integer_product() {
    let (b, k, n) = (5, 300, 37);
    let mut s = 7u64;
    let w: Vec<i64> = (0..k * n)
        .map(|_| lcg(&mut s) as i64 % 65536 - 32768)
        .collect();
    for mode in [InputMode::Unsigned, InputMode::Signed] {
        let x: Vec<i64> = (0..b * k)
            .map(|_| match mode {
                InputMode::Unsigned => lcg(&mut s) as i64 % 65536,
                InputMode::Signed => lcg(&mut s) as i64 % 65536 - 32768,
            })
            .collect();
        let want = reference(&w, &x, b, k, n);
        let p = Programmed::new(&isaac(), &w, k, n).unwrap();
        let (y, c) = p.run(&x, b, mode, None).unwrap();
        assert_eq!(y, want);
        assert_eq!(c.adc_saturations, 0);
        assert_eq!(c.crossbars, 3 * 3);
        let p = p.program_conductances(0.0, 1).unwrap();
        let (y2, c2) = p.run(&x, b, mode, None).unwrap();
        assert_eq!(y2, want);
        assert_eq!(c, c2);
    }
}
