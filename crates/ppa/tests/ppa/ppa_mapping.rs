//! Mapping, replication, timing and energy of whole networks.

use nestevo_arch::{apply_overrides, preset, ArchSpec};
use nestevo_model::{load_model, parse_model, ModelDesc};
use nestevo_ppa::{map_network, network_report, Mapping};
use std::path::Path;

fn model(name: &str) -> ModelDesc {
    load_model(
        &Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("models")
            .join(name),
    )
    .unwrap()
}

fn isaac() -> ArchSpec {
    preset("isaac").unwrap()
}

/// IMAs the policy needs when no layer may use more than `t` vector slots per frame.
fn imas_needed(a: &ArchSpec, m: &Mapping, t: u64) -> u64 {
    m.layers
        .iter()
        .map(|l| (l.vectors.div_ceil(t) * l.crossbars_per_copy).div_ceil(a.ima.crossbars as u64))
        .sum()
}

#[test]
fn resnet18_fits_one_chip_balanced_and_minimal() {
    let a = isaac();
    let m = map_network(&a, &model("resnet18.toml")).unwrap();
    assert_eq!(m.chips, 1);
    assert_eq!(m.ht_bits_per_frame, 0);
    assert!(m.imas_used <= m.imas_available);
    assert_eq!(m.imas_used, m.layers.iter().map(|l| l.imas).sum::<u64>());
    let t = m.slots_per_frame;
    for l in &m.layers {
        assert_eq!(l.copies, l.vectors.div_ceil(t), "{}", l.name);
        assert!(l.vectors.div_ceil(l.copies) <= t);
        assert!(l.copies * l.crossbars_per_copy <= l.imas * 8);
    }
    // T is the smallest that fits: one slot less needs more IMAs than the chip has.
    assert!(imas_needed(&a, &m, t - 1) > m.imas_available);
}

#[test]
fn isaac_rule_layers_before_a_2x2_pool_get_4x_copies() {
    let m = map_network(&isaac(), &model("vgg16.toml")).unwrap();
    let copies = |n: &str| m.layers.iter().find(|l| l.name == n).unwrap().copies;
    assert_eq!(copies("conv1_2"), 4 * copies("conv2_1"));
    assert_eq!(copies("conv2_2"), 4 * copies("conv3_1"));
    assert_eq!(copies("fc8"), 1);
}

#[test]
fn vgg16_spans_chips_and_pays_for_the_links() {
    let a = isaac();
    let m = map_network(&a, &model("vgg16.toml")).unwrap();
    // One copy of everything: 67,576 crossbars over 16,128 per chip.
    let one_copy: u64 = m
        .layers
        .iter()
        .map(|l| l.crossbars_per_copy.div_ceil(8))
        .sum();
    assert_eq!(m.chips, one_copy.div_ceil(2016));
    assert_eq!(m.chips, 5);
    assert!(m.ht_bits_per_frame > 0);
    let fc6 = m.layers.iter().find(|l| l.name == "fc6").unwrap();
    assert!(
        fc6.last_chip > fc6.first_chip,
        "fc6 alone is larger than a chip"
    );
    let r = network_report(&a, &model("vgg16.toml"), 1).unwrap();
    assert!(r.energy_per_frame_pj.hyper_transport > 0.0);
    assert!((r.area_mm2 - 5.0 * r.peak.area_mm2).abs() < 1e-9);
}

#[test]
fn slow_chip_links_set_the_period() {
    let a = isaac();
    let slow = apply_overrides(&a, &["chip.ht_link_gb_per_s=0.01".to_string()], "test").unwrap();
    let r = network_report(&slow, &model("vgg16.toml"), 1).unwrap();
    let t = &r.timing;
    assert!(t.links_bound);
    // 20.9 Mbit over 4 links of 0.08 Gbit/s.
    assert!((t.ht_ns - r.ht_bits_per_frame as f64 / (4.0 * 0.01 * 8.0)).abs() < 1e-6 * t.ht_ns);
    assert_eq!(t.period_ns, t.ht_ns);
    assert!(
        !network_report(&a, &model("vgg16.toml"), 1)
            .unwrap()
            .timing
            .links_bound
    );
}

#[test]
fn a_smaller_chip_slows_the_bottleneck() {
    let a = isaac();
    let half = apply_overrides(&a, &["chip.tiles=84".to_string()], "test").unwrap();
    let m = model("resnet18.toml");
    let (full, small) = (
        network_report(&a, &m, 1).unwrap(),
        network_report(&half, &m, 1).unwrap(),
    );
    assert!(small.timing.period_ns > full.timing.period_ns);
    assert!(small.slots_per_frame > full.slots_per_frame);
}

#[test]
fn timing_and_energy_add_up() {
    let a = isaac();
    let m = model("resnet18.toml");
    let r1 = network_report(&a, &m, 1).unwrap();
    let r = network_report(&a, &m, 1200).unwrap();
    let t = &r.timing;
    let slowest = t.layer_ns.iter().cloned().fold(0.0, f64::max);
    assert_eq!(t.layer_ns[t.bottleneck], slowest);
    assert_eq!(t.period_ns, slowest);
    assert!((t.frames_per_s - 1e9 / slowest).abs() < 1e-6);
    // ISAAC: a layer copy takes 16 x 100 ns per input vector.
    assert_eq!(t.vector_ns, 1600.0);
    for (l, ns) in r.layers.iter().zip(&t.layer_ns) {
        assert_eq!(*ns, l.vectors.div_ceil(l.copies) as f64 * 1600.0);
    }
    assert!(t.latency_ns > t.period_ns);
    assert!((t.total_ns - (t.latency_ns + 1199.0 * t.period_ns)).abs() < 1e-3);
    assert_eq!(r1.timing.total_ns, r1.timing.latency_ns);
    // Per-layer energies plus links plus static make the per-frame total.
    let layers_uj: f64 = r.layers.iter().map(|l| l.energy_uj).sum();
    let e = &r.energy_per_frame_pj;
    let rest_uj = (e.hyper_transport + e.static_) / 1e6;
    assert!((layers_uj + rest_uj - r.energy_per_frame_uj).abs() < 1e-6 * r.energy_per_frame_uj);
    // ADC energy is conversions x 2 mW / 1.28 GS/s.
    let conv = r.total_events.matrix.adc_conversions as f64;
    assert!((e.adc - conv * 1.5625).abs() < 1e-6 * e.adc);
    // Total energy: dynamic per frame times frames, plus static power over the whole run.
    let dynamic = r.energy_per_frame_pj.total() - e.static_;
    let static_w = e.static_ / t.period_ns; // pJ/ns = mW
    let want = (dynamic * 1200.0 + static_w * t.total_ns) / 1e6;
    assert!((r.energy_total_uj - want).abs() < 1e-6 * want);
    // Below peak, and the steady-state power below the chip's Table I power.
    assert!(r.gops_achieved <= r.peak.peak_tops * 1e3);
    assert!(r.average_power_w < r.peak.power_w);
    assert_eq!(r.total_events.matrix.macs, 1_814_073_344);
}

#[test]
fn a_network_without_matrices_is_refused() {
    let m = parse_model(
        "name = \"p\"\ninput = [3, 8, 8]\n[[layers]]\nname = \"r\"\nop = \"relu\"\n",
        "p.toml",
    )
    .unwrap();
    let e = map_network(&isaac(), &m).unwrap_err();
    assert!(
        e.to_string().contains("p.toml") && e.to_string().contains("no conv, linear or dense"),
        "{e}"
    );
}
