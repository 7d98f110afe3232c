//! Predicted event counts: the closed forms against hand counts and against the definitions
//! executed crossbar by crossbar.

use nestevo_arch::{preset, ArchSpec};
use nestevo_model::parse_model;
use nestevo_ppa::{map_network, matrix_events, MatrixEvents};
use proptest::prelude::*;

/// The definitions of `cim::LayerStats`, walked crossbar by crossbar.
fn walk(a: &ArchSpec, k: u64, n: u64, v: u64) -> MatrixEvents {
    let rows = a.crossbar.rows as u64;
    let slices = a.slices_per_weight() as u64;
    let outs = (a.crossbar.cols as u64) / slices;
    let cyc = a.cycles_per_input() as u64;
    let mut e = MatrixEvents {
        vectors: v,
        macs: k * n * v,
        ..Default::default()
    };
    let mut r0 = 0;
    while r0 < k {
        let r = rows.min(k - r0);
        let mut c0 = 0;
        while c0 < n {
            let cols = outs.min(n - c0) * slices;
            e.crossbars += 1;
            e.crossbar_reads += cyc * v;
            e.dac_pulses += r * cyc * v;
            e.adc_conversions += (cols + u64::from(a.encoding.flip)) * cyc * v;
            e.shift_adds += cols * cyc * v;
            c0 += outs;
        }
        r0 += rows;
    }
    e
}

#[test]
fn hand_counted_isaac_layer() {
    let a = preset("isaac").unwrap();
    // K = 300 -> 3 row tiles; N = 40 -> 3 column tiles of 16 outputs; 5 vectors, 16 cycles.
    let e = matrix_events(&a, 300, 40, 5);
    assert_eq!(e.crossbars, 9);
    assert_eq!(e.crossbar_reads, 9 * 16 * 5);
    assert_eq!(e.dac_pulses, 300 * 3 * 16 * 5);
    assert_eq!(e.adc_conversions, (3 * 40 * 8 + 9) * 16 * 5);
    assert_eq!(e.shift_adds, 3 * 40 * 8 * 16 * 5);
    assert_eq!(e.macs, 300 * 40 * 5);
    // Without flipping there is no unit-column conversion.
    let nf = matrix_events(&preset("isaac-noflip-9bit").unwrap(), 300, 40, 5);
    assert_eq!(nf.adc_conversions, 3 * 40 * 8 * 16 * 5);
}

proptest! {
    #[test]
    fn closed_form_equals_the_walk(k in 1u64..1500, n in 1u64..700, v in 1u64..50, which in 0usize..3) {
        let a = preset(["isaac", "isaac-noflip-9bit", "xbar256-1bit"][which]).unwrap();
        prop_assert_eq!(matrix_events(&a, k, n, v), walk(&a, k, n, v));
    }
}

/// One test per layer kind: the mapper's per-layer events are the walk over that layer's
/// matrix (grouped convs: once per group).
fn check_layer(model: &str, layer: &str, k: u64, n: u64, groups: u64, v: u64) {
    let a = preset("isaac").unwrap();
    let m = parse_model(model, "test").unwrap();
    let map = map_network(&a, &m).unwrap();
    let l = map.layers.iter().find(|l| l.name == layer).unwrap();
    assert_eq!((l.k, l.n, l.groups, l.vectors), (k, n, groups, v));
    let one = walk(&a, k, n, v);
    let want = MatrixEvents {
        crossbars: one.crossbars * groups,
        crossbar_reads: one.crossbar_reads * groups,
        dac_pulses: one.dac_pulses * groups,
        adc_conversions: one.adc_conversions * groups,
        shift_adds: one.shift_adds * groups,
        vectors: v,
        macs: one.macs * groups,
    };
    assert_eq!(l.events, want);
    assert_eq!(l.crossbars_per_copy, want.crossbars);
}

const NET: &str = r#"
name = "kinds"
input = [20, 15, 15]
[[layers]]
name = "conv3"
op = "conv"
out_channels = 36
kernel = 3
padding = 1
[[layers]]
name = "pw"
op = "conv"
out_channels = 130
kernel = 1
stride = 2
[[layers]]
name = "grouped"
op = "conv"
out_channels = 130
kernel = [3, 5]
groups = 10
[[layers]]
name = "fc"
op = "linear"
out_features = 17
"#;

#[test]
fn conv_layer() {
    check_layer(NET, "conv3", 20 * 9, 36, 1, 15 * 15);
}

#[test]
fn pointwise_strided_conv_layer() {
    check_layer(NET, "pw", 36, 130, 1, 8 * 8);
}

#[test]
fn grouped_conv_layer() {
    check_layer(NET, "grouped", 13 * 15, 13, 10, 6 * 4);
}

#[test]
fn linear_layer() {
    check_layer(NET, "fc", 130 * 6 * 4, 17, 1, 1);
}
