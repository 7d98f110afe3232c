//! The performance model's predicted events for a layer equal what the crossbar simulator
//! counts when it executes that layer, one test per layer kind and on several presets.

use ndarray::{Array1, Array2, Array4};
use nestevo_arch::{apply_overrides, preset, ArchSpec};
use nestevo_cim::{CimConv2d, CimLinear, Conv2dShape, LayerStats, NoiseSpec};
use nestevo_model::parse_model;
use nestevo_ppa::{map_network, MatrixEvents};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn archs() -> Vec<ArchSpec> {
    let isaac = preset("isaac").unwrap();
    vec![
        isaac.clone(),
        preset("isaac-noflip-9bit").unwrap(),
        preset("xbar256-1bit").unwrap(),
        apply_overrides(
            &isaac,
            &["crossbar.rows=64".into(), "data.weight_bits=8".into()],
            "test",
        )
        .unwrap(),
    ]
}

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| r.gen_range(-1.0..1.0)).collect()
}

/// Predicted events of the model's first conv/linear layer, for one frame.
fn predicted(arch: &ArchSpec, model: &str) -> MatrixEvents {
    let desc = parse_model(model, "test model").unwrap();
    map_network(arch, &desc).unwrap().layers[0].events
}

fn assert_same(arch: &ArchSpec, kind: &str, p: MatrixEvents, m: LayerStats) {
    let pairs = [
        ("crossbars", p.crossbars, m.crossbars),
        ("crossbar_reads", p.crossbar_reads, m.crossbar_reads),
        ("dac_pulses", p.dac_pulses, m.dac_pulses),
        ("adc_conversions", p.adc_conversions, m.adc_conversions),
        ("shift_adds", p.shift_adds, m.shift_adds),
        ("vectors", p.vectors, m.vectors),
        ("macs", p.macs, m.macs),
    ];
    for (field, want, got) in pairs {
        assert_eq!(
            want, got,
            "{kind} on {}: predicted {field} {want}, measured {got}",
            arch.name
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn conv_case(
    kind: &str,
    cin: usize,
    hw: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    dil: usize,
    groups: usize,
) {
    let model = format!(
        "name = \"t\"\ninput = [{cin}, {hw}, {hw}]\n[[layers]]\nname = \"c\"\nop = \"conv\"\nout_channels = {cout}\n\
         kernel = {k}\nstride = {stride}\npadding = {pad}\ndilation = {dil}\ngroups = {groups}\n"
    );
    for arch in archs() {
        let w = Array4::from_shape_vec(
            (cout, cin / groups, k, k),
            random(cout * cin / groups * k * k, 1),
        )
        .unwrap();
        let shape = Conv2dShape {
            stride: (stride, stride),
            padding: (pad, pad),
            dilation: (dil, dil),
            groups,
        };
        let mut conv = CimConv2d::new(&arch, w.view(), None, shape, &NoiseSpec::default()).unwrap();
        let x = Array4::from_shape_vec((1, cin, hw, hw), random(cin * hw * hw, 2)).unwrap();
        let (_, measured) = conv.forward(x.view()).unwrap();
        assert_same(&arch, kind, predicted(&arch, &model), measured);
    }
}

#[test]
fn conv3x3_padded() {
    conv_case("conv 3x3", 20, 9, 24, 3, 1, 1, 1, 1);
}

#[test]
fn conv_strided_1x1() {
    conv_case("conv 1x1 stride 2", 150, 8, 40, 1, 2, 0, 1, 1);
}

#[test]
fn conv_dilated() {
    conv_case("conv 3x3 dilation 2", 16, 10, 8, 3, 1, 2, 2, 1);
}

#[test]
fn conv_grouped() {
    conv_case("conv 3x3 groups 4", 32, 6, 48, 3, 1, 1, 1, 4);
}

#[test]
fn linear() {
    let (k, n) = (300, 70);
    let model = format!(
        "name = \"t\"\ninput = [{k}, 1, 1]\n[[layers]]\nname = \"fc\"\nop = \"linear\"\nout_features = {n}\n"
    );
    for arch in archs() {
        let w = Array2::from_shape_vec((n, k), random(n * k, 3)).unwrap();
        let mut fc = CimLinear::new(
            &arch,
            w.view(),
            Some(Array1::zeros(n)),
            &NoiseSpec::default(),
        )
        .unwrap();
        let x = Array2::from_shape_vec((1, k), random(k, 4)).unwrap();
        let (_, measured) = fc.forward(x.view()).unwrap();
        assert_same(&arch, "linear", predicted(&arch, &model), measured);
    }
}
