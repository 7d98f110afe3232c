#![cfg(feature = "torch")]
//! The CIM labeller built from the loop's global `Detector` labels as the LibTorch labeller
//! does, noiseless, within quantisation: the same pseudo boxes (class, IoU >= 0.8, score within
//! 0.05) for every box clear of the score threshold, in both directions.

use nestevo_couple::label::{LabelRequest, Labeller, PseudoBox};
use nestevo_data::StreamId;
use nestevo_eval::{iou, HeldOut};
use nestevo_evolve::cim_labeller::{cim_labeller, labeller_factory, reprogram};
use nestevo_evolve::config::{LabellerKind, LabellerSpec};
use nestevo_evolve::labeller::TorchLabeller;
use nestevo_train::checkpoint::load;
use std::path::Path;
use tch::Device;

const GLOBAL: &str = concat!(
    concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
    "/models/pretrained/global.safetensors"
);

fn bx(b: &PseudoBox) -> [f32; 4] {
    [b.x0, b.y0, b.x1, b.y1]
}

/// Every box of `a` scoring >= `clear` has a same-class box in `b` with IoU >= 0.8 and score
/// within 0.05; returns how many boxes were checked.
fn covered(a: &[PseudoBox], b: &[PseudoBox], clear: f32, what: &str) -> usize {
    let mut n = 0;
    for x in a.iter().filter(|x| x.score >= clear) {
        n += 1;
        let hit = b.iter().any(|y| {
            y.class == x.class && iou(bx(x), bx(y)) >= 0.8 && (x.score - y.score).abs() <= 0.05
        });
        assert!(hit, "{what}: box {x:?} has no match among {b:?}");
    }
    n
}

/// Noiseless CIM pseudo boxes equal the LibTorch labeller's within quantisation.
#[test]
fn cim_labeller_boxes_equal_torch_labeller_boxes_noiseless() {
    let _serial = crate::serial();
    let (global, _) = load(Path::new(GLOBAL), Device::Cpu).unwrap();
    let spec = LabellerSpec {
        kind: LabellerKind::Cim,
        ..Default::default()
    };
    let cim = cim_labeller(&global, &spec).unwrap().expect("kind cim");
    let torch = TorchLabeller::new(&global);
    let frames = HeldOut::new(StreamId::Source, 8).render(96, 96).unwrap();
    let req = LabelRequest {
        min_score: 0.3,
        feature_layer: Some("head_relu".into()),
    };
    let (a, b) = (
        torch.label(&frames, &req).unwrap(),
        cim.label(&frames, &req).unwrap(),
    );
    let mut checked = 0;
    let mut max_hm = 0f32;
    for (t, c) in a.iter().zip(&b) {
        assert_eq!(t.frame, c.frame);
        checked += covered(&t.boxes, &c.boxes, 0.4, "torch -> cim");
        checked += covered(&c.boxes, &t.boxes, 0.4, "cim -> torch");
        for (x, y) in t.soft.hm.iter().zip(&c.soft.hm) {
            max_hm = max_hm.max((x - y).abs());
        }
        assert_eq!(
            t.features.as_ref().unwrap().data.dim(),
            c.features.as_ref().unwrap().data.dim()
        );
    }
    assert!(checked >= 8, "only {checked} boxes clear of the threshold");
    assert!(max_hm < 0.5, "heat-map logits differ by {max_hm}");
    assert!(cim.last_cost().is_some() && torch.last_cost().is_none());
    assert!(reprogram(&cim, &global).unwrap().energy_j > 0.0);
    assert_eq!(
        cim.label(&frames, &req).unwrap(),
        b,
        "noiseless reprogram is the same chip"
    );
    // Torch kind builds nothing.
    assert!(cim_labeller(&global, &LabellerSpec::default())
        .unwrap()
        .is_none());
    // The edge's factory: LibTorch by default; the chip, reprogrammed, for kind = "cim".
    let torch_f = labeller_factory(&LabellerSpec::default());
    assert!(torch_f(&global, 0).unwrap().program_cost().is_none());
    let cim_f = labeller_factory(&spec);
    let second = cim_f(&global, 1).unwrap();
    assert!(second.describe().contains("simulated"));
    assert!(second.program_cost().unwrap().energy_j > 0.0);
    assert_eq!(
        second.label(&frames, &req).unwrap(),
        b,
        "noiseless: any programming is the same"
    );
}
