//! Shared by the LibTorch evolution tests: a tiny detector description (16x16 input, four
//! classes, heat-map/size/offset heads on `head_relu`) and seeded instances of it.

use nestevo_model::parse_model;
use nestevo_train::detector::Detector;
use tch::{Device, Kind, Tensor};

pub const TINY: &str = r#"
name = "tiny"
input = [3, 16, 16]
outputs = ["hm", "wh", "off"]
[[layers]]
name = "stem"
op = "conv"
out_channels = 6
kernel = 3
stride = 2
padding = 1
bias = false
[[layers]]
name = "stem_bn"
op = "bn"
[[layers]]
name = "stem_relu"
op = "relu"
[[layers]]
name = "head"
op = "conv"
out_channels = 8
kernel = 3
stride = 2
padding = 1
bias = false
[[layers]]
name = "head_bn"
op = "bn"
[[layers]]
name = "head_relu"
op = "relu"
[[layers]]
name = "hm"
op = "conv"
out_channels = 4
kernel = 1
bias = true
inputs = ["head_relu"]
[[layers]]
name = "wh"
op = "conv"
out_channels = 2
kernel = 1
bias = true
inputs = ["head_relu"]
[[layers]]
name = "off"
op = "conv"
out_channels = 2
kernel = 1
bias = true
inputs = ["head_relu"]
"#;

#[allow(dead_code)]
pub fn tiny(seed: i64) -> Detector {
    tch::manual_seed(seed);
    let d = Detector::new(&parse_model(TINY, "tiny").unwrap(), 4, Device::Cpu).unwrap();
    // Distinct batch-norm statistics, so that their averaging is seen too.
    let _g = tch::no_grad_guard();
    for (k, v) in d.vs.variables() {
        if k.ends_with("running_mean") || k.ends_with("running_var") {
            let mut v = v.shallow_clone();
            v.copy_(&(Tensor::rand(v.size(), (Kind::Float, Device::Cpu)) + 0.5));
        }
    }
    d
}

/// The smoke preset shrunk for CI (few frames and steps), with `extra` overrides after.
#[allow(dead_code)]
pub fn small_smoke(extra: &[&str]) -> nestevo_evolve::config::Experiment {
    let mut sets: Vec<String> = [
        "windows.d_max=16",
        "windows.min_upload=4",
        "windows.eval_frames=16",
        "distill.steps=4",
        "distill.batch=4",
        "mutual.steps=3",
        "mutual.batch=4",
        "generator.steps=10",
        "generator.batch=16",
        "generator.samples=4",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sets.extend(extra.iter().map(|s| s.to_string()));
    let smoke = nestevo_evolve::config::preset("smoke").unwrap();
    nestevo_evolve::config::apply_overrides(&smoke, &sets, "smoke").unwrap()
}

/// A tiny (untrained) teacher's pseudo boxes on `frames`: every detection above 0.05.
#[allow(dead_code)]
pub fn pseudo_boxes(
    teacher: &Detector,
    frames: &[nestevo_data::Frame],
) -> Vec<nestevo_couple::label::Labelled> {
    use nestevo_couple::label::{LabelRequest, Labeller};
    let req = LabelRequest {
        min_score: 0.05,
        feature_layer: None,
    };
    nestevo_evolve::labeller::TorchLabeller::new(teacher)
        .label(frames, &req)
        .unwrap()
}

/// Eight frames of stream A at 16x16, a tiny teacher normalised on them (so that its latents
/// are not all cut off by the ReLU) and its pseudo boxes, given an area (the untrained size
/// head gives none) as a trained teacher's would have, so that they hold centres.
#[allow(dead_code)]
pub fn labelled_frames() -> (
    Vec<nestevo_data::Frame>,
    Detector,
    Vec<nestevo_couple::label::Labelled>,
) {
    let st = nestevo_data::Stream::new(nestevo_data::StreamId::A, 1).with_size(16, 16);
    let fs: Vec<_> = (0..8).map(|i| st.frame(i * 7)).collect();
    let rgb: Vec<&[u8]> = fs.iter().map(|f| f.rgb.as_slice()).collect();
    let teacher = tiny(3);
    teacher
        .reestimate_bn(&teacher.batch_from_rgb(&rgb))
        .unwrap();
    let mut labels = pseudo_boxes(&teacher, &fs);
    for b in labels.iter_mut().flat_map(|l| l.boxes.iter_mut()) {
        b.x1 = b.x0 + 4.0;
        b.y1 = b.y0 + 4.0;
    }
    (fs, teacher, labels)
}

/// A generator (noise 4, hidden 16, four classes) trained `steps` steps against `head_of`'s
/// head with class counts `counts`.
#[allow(dead_code)]
pub fn trained_generator(
    head_of: &Detector,
    counts: &[usize],
    steps: usize,
) -> nestevo_evolve::generator::Generator {
    use nestevo_evolve::generator::{train_generator, GenConfig, Generator, Head};
    let head = Head::of(head_of).unwrap();
    let mut g = Generator::new(4, 16, head.latent_dim(), 4, Device::Cpu);
    train_generator(
        &mut g,
        &[head],
        &[counts.to_vec()],
        &GenConfig {
            steps,
            batch: 16,
            lr: 1e-2,
            diversity: 1.0,
            seed: 1,
        },
    )
    .unwrap();
    g
}

/// The pair settings the tests start from (40 steps of 4 frames at lr 1e-2, alpha = beta =
/// 0.5, no noise, samples, feature or terminal term, replay, box labels, frozen batch norm);
/// each test sets what it is about with `..pair_config(context)`.
#[allow(dead_code)]
pub fn pair_config(context: &str) -> nestevo_evolve::coevolve::PairConfig {
    nestevo_evolve::coevolve::PairConfig {
        steps: 40,
        batch: 4,
        lr: 1e-2,
        alpha: 0.5,
        beta: 0.5,
        mu: 0.0,
        samples: 0,
        feature: 0.0,
        terminal: 0.0,
        labels: nestevo_evolve::config::PairLabels::Boxes,
        freeze_mid_bn: true,
        peak_thresholds: vec![0.3],
        replay: 0,
        seed: 7,
        context: context.into(),
    }
}
