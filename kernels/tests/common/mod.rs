//! Shared by the kernel tests: a tiny generator, the integer product
//! and the comparison of the two noiseless kernels.
#![allow(dead_code)]

use nestevo_kernels::{ExactKernel, InputMode, Programmed, XbarConfig};

pub fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// `len` signed 16-bit values (weights) drawn from `lcg`.
pub fn signed16(len: usize, s: &mut u64) -> Vec<i64> {
    (0..len).map(|_| lcg(s) as i64 % 65536 - 32768).collect()
}

/// `len` unsigned 16-bit values (inputs) drawn from `lcg`.
pub fn unsigned16(len: usize, s: &mut u64) -> Vec<i64> {
    (0..len).map(|_| lcg(s) as i64 % 65536).collect()
}

pub fn reference(w: &[i64], x: &[i64], b: usize, k: usize, n: usize) -> Vec<i64> {
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

/// The bit-sliced and the popcount kernels (and `Auto`) give the same outputs and the same event counts
/// (saturations included) over knobs that make the ADC saturate or not, partial tiles and
/// blocks, signed and unsigned inputs.
pub fn compare_kernels() {
    let mut s = 11u64;
    let (mut cases, mut saturated) = (0, 0);
    for (rows, cols, bpc, wb, ib, adc, flip) in [
        (128, 128, 2, 16, 16, 8, true),
        (128, 128, 2, 16, 16, 8, false),
        (128, 128, 2, 16, 16, 6, true),
        (64, 32, 1, 8, 8, 4, false),
        (200, 48, 4, 8, 12, 9, true),
        (16, 16, 2, 4, 4, 3, false),
        (256, 64, 2, 16, 16, 10, false),
        (100, 40, 4, 16, 5, 5, true),
        // Inputs wider than ISAAC's 16 bits (the bit-sliced kernel takes at most 16).
        (128, 128, 2, 16, 24, 8, true),
        (64, 48, 2, 8, 20, 5, false),
    ] {
        let cfg = XbarConfig {
            rows,
            cols,
            bits_per_cell: bpc,
            weight_bits: wb,
            input_bits: ib,
            adc_bits: adc,
            flip,
            ..XbarConfig::isaac()
        };
        for mode in [InputMode::Unsigned, InputMode::Signed] {
            let (k, n, b) = (
                1 + lcg(&mut s) as usize % 400,
                1 + lcg(&mut s) as usize % 70,
                1 + lcg(&mut s) as usize % 90,
            );
            let wr = 1i64 << wb;
            // Half the matrices lean to large weights, where flip-off columns saturate.
            let lean = lcg(&mut s).is_multiple_of(2);
            let w: Vec<i64> = (0..k * n)
                .map(|_| {
                    let v = lcg(&mut s) as i64 % wr - wr / 2;
                    if lean {
                        v.abs().min(wr / 2 - 1) * if v < 0 { -1 } else { 1 } / 4 - 1
                    } else {
                        v
                    }
                })
                .collect();
            let ir = 1i64 << ib;
            let x: Vec<i64> = (0..b * k)
                .map(|_| match mode {
                    InputMode::Unsigned => lcg(&mut s) as i64 % ir,
                    InputMode::Signed => lcg(&mut s) as i64 % ir - ir / 2,
                })
                .collect();
            let p = Programmed::new(&cfg, &w, k, n).unwrap();
            let p = p.with_exact_kernel(ExactKernel::Popcount);
            let (y1, c1) = p.run(&x, b, mode, None).unwrap();
            let p = p.with_exact_kernel(ExactKernel::BitSliced);
            let (y2, c2) = p.run(&x, b, mode, None).unwrap();
            // Auto: the exact product where no column can saturate, else a bit-plane kernel.
            let p = p.with_exact_kernel(ExactKernel::Auto);
            let (y3, c3) = p.run(&x, b, mode, None).unwrap();
            assert_eq!(
                (&y1, &c1),
                (&y3, &c3),
                "Auto, product {}",
                p.exact_product()
            );
            assert_eq!(
                y1, y2,
                "rows {rows} bpc {bpc} ib {ib} adc {adc} flip {flip} {mode:?}"
            );
            assert_eq!(
                c1, c2,
                "rows {rows} bpc {bpc} ib {ib} adc {adc} flip {flip} {mode:?}"
            );
            if adc >= 10 || (flip && adc == 8) {
                assert_eq!(y1, reference(&w, &x, b, k, n));
            }
            cases += 1;
            saturated += c1.adc_saturations;
        }
    }
    assert_eq!(cases, 20);
    assert!(
        saturated > 1000,
        "{saturated} saturations: the cases should exercise the clamp"
    );
}
