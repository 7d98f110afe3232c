//! One run, three answers: `cim run` of the shipped global detector gives mAP both ways, an
//! energy that is its per-layer energies plus the chip-level terms, and per-layer counts that
//! equal the performance model's prediction for the whole network; the CIM labeller labels
//! from the same crossbars and reports modelled time, energy and write cost.

use nestevo_arch::preset;
use nestevo_cim::{Backend, NoiseMode, NoiseSpec};
use nestevo_couple::label::{LabelRequest, Labeller};
use nestevo_couple::{load_checkpoint, run_detector, ChipSetup, CimLabeller, RunConfig, WriteCost};
use nestevo_data::StreamId;
use nestevo_eval::HeldOut;
use nestevo_ppa::mapping::layer_events;
use nestevo_ppa::{map_network, network_report};
use std::path::Path;

const GLOBAL: &str = concat!(
    concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
    "/models/pretrained/global.safetensors"
);

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// The run's energy is exactly its layers' energies plus links and static power, each layer's
/// measured counts equal ppa's per-frame prediction times the frames, so its energy equals
/// ppa's predicted layer energy times the frames, and the modelled time is ppa's pipeline time.
#[test]
fn one_run_energy_is_its_layers_and_counts_equal_ppa_for_the_whole_detector() {
    let (desc, tensors) = load_checkpoint(Path::new(GLOBAL), None).unwrap();
    let spec = preset("isaac").unwrap();
    let frames = 3u64;
    let cfg = RunConfig {
        frames: HeldOut::new(StreamId::Source, frames as usize),
        calib_frames: 1,
        noise: NoiseSpec::default(),
        backend: Backend::cpu(),
        batch: nestevo_couple::FRAMES_PER_FORWARD,
    };
    let r = run_detector(&desc, &tensors, &spec, &cfg).unwrap();
    let c = &r.cost;
    let m = map_network(&spec, &desc).unwrap();
    assert_eq!(c.layers.len(), m.layers.len(), "every mapped layer ran");
    let sum: f64 = c.layers.iter().map(|l| l.energy_pj.total()).sum();
    let chip = c.energy_pj.hyper_transport + c.energy_pj.static_;
    assert!(close(c.energy_pj.total(), sum + chip));
    assert!(close(c.energy_total_uj * 1e6, sum + chip));
    assert!(c.energy_pj.static_ > 0.0 && c.energy_pj.adc > 0.0);
    let ppa = network_report(&spec, &desc, frames).unwrap();
    for (l, lm) in c.layers.iter().zip(&m.layers) {
        assert_eq!(l.layer, lm.name);
        let p = layer_events(&spec, lm).matrix;
        let s = &l.stats;
        for (what, want, got) in [
            ("crossbars", p.crossbars, s.crossbars),
            (
                "crossbar reads",
                p.crossbar_reads * frames,
                s.crossbar_reads,
            ),
            ("DAC pulses", p.dac_pulses * frames, s.dac_pulses),
            (
                "ADC conversions",
                p.adc_conversions * frames,
                s.adc_conversions,
            ),
            ("shift-and-adds", p.shift_adds * frames, s.shift_adds),
            ("vectors", p.vectors * frames, s.vectors),
            ("MACs", p.macs * frames, s.macs),
        ] {
            assert_eq!(
                want, got,
                "layer {}: predicted {what} {want}, measured {got}",
                l.layer
            );
        }
        let row = ppa.layers.iter().find(|x| x.name == l.layer).unwrap();
        assert!(
            close(l.energy_uj, row.energy_uj * frames as f64),
            "layer {}: run {} uJ, ppa {} uJ x {frames}",
            l.layer,
            l.energy_uj,
            row.energy_uj
        );
        assert!((0.0..=1.0).contains(&l.saturation_rate));
    }
    assert!(close(c.pipeline_time_us, ppa.timing.total_ns / 1e3));
    assert!(close(c.energy_total_uj, ppa.energy_total_uj));
    // Noiseless on ISAAC the crossbars find what the float model finds.
    assert!(
        r.cim_vs_float.map50 > 0.8,
        "cim vs float {}",
        r.cim_vs_float.map50
    );
}

fn labeller(mode: NoiseMode, mu: f64, seed: u64) -> CimLabeller {
    let (desc, tensors) = load_checkpoint(Path::new(GLOBAL), None).unwrap();
    let [_, h, w] = desc.input;
    let calib = HeldOut::new(StreamId::Source, 2)
        .calibration(2)
        .render(w, h)
        .unwrap();
    let setup = ChipSetup {
        spec: preset("isaac").unwrap(),
        noise: NoiseSpec {
            mode,
            mu,
            read_mu: 0.0,
            seed,
        },
        write: WriteCost::default(),
        backend: Backend::cpu(),
    };
    CimLabeller::new(&desc, &tensors, setup, calib).unwrap()
}

/// A label call's modelled time is ppa's pipeline time for its frames; the write cost counts
/// every used cell; a reprogram draws fresh noise (cell noise changes the heads) while a
/// noiseless reprogram of the same weights changes nothing.
#[test]
fn cim_labeller_costs_and_reprogramming() {
    let (desc, tensors) = load_checkpoint(Path::new(GLOBAL), None).unwrap();
    let spec = preset("isaac").unwrap();
    let frames = HeldOut::new(StreamId::Source, 4).render(96, 96).unwrap();
    let req = LabelRequest {
        min_score: 0.3,
        feature_layer: Some("s8_relu".into()),
    };
    let clean = labeller(NoiseMode::None, 0.0, 0);
    assert!(clean.last_cost().is_none());
    let a = clean.label(&frames, &req).unwrap();
    let cost = clean.last_cost().unwrap();
    let ppa = network_report(&spec, &desc, 4).unwrap();
    assert!(close(cost.seconds, ppa.timing.total_ns * 1e-9));
    assert!(close(cost.energy_j, ppa.energy_total_uj * 1e-6));
    assert_eq!(spec.slices_per_weight(), 8);
    let m = map_network(&spec, &desc).unwrap();
    let cells: u64 = m
        .layers
        .iter()
        .map(|l| l.groups * l.k * l.n * 8 * l.copies)
        .sum();
    let p = clean.program_cost().unwrap();
    assert!(close(p.energy_j, cells as f64 * 10e-12));
    assert!(close(p.seconds, 128.0 * 100e-9));
    assert_eq!(a.len(), 4);
    assert!(a
        .iter()
        .all(|l| l.features.as_ref().is_some_and(|f| f.layer == "s8_relu")));
    clean.reprogram(&tensors).unwrap();
    assert_eq!(clean.programmings(), 2);
    assert_eq!(clean.label(&frames, &req).unwrap(), a);
    let noisy = labeller(NoiseMode::Cell, 0.05, 1);
    let n1 = noisy.label(&frames, &req).unwrap();
    assert_ne!(
        n1[0].soft, a[0].soft,
        "cell noise at mu 0.05 changes the heads"
    );
    noisy.reprogram(&tensors).unwrap();
    let n2 = noisy.label(&frames, &req).unwrap();
    assert_ne!(n1[0].soft, n2[0].soft, "a reprogram draws fresh noise");
    let bad = noisy.label(
        &HeldOut::new(StreamId::Source, 1).render(64, 64).unwrap(),
        &req,
    );
    assert!(bad.unwrap_err().to_string().contains("64"));
}
