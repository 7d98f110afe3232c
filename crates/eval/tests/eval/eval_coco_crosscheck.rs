//! Our mAP against pycocotools on a seeded, messy case: random ground truth of many sizes,
//! jittered, duplicated, misclassified and spurious detections. (The case does not use the
//! renderer, so that the reference figures stay valid when the rendering changes.)
//! The reference figures below were printed by pycocotools 2.0.11 (COCOeval, bbox) on the files
//! this test writes when NESTEVO_DUMP_COCO=DIR is set; docs/data.md has the exact commands.

use nestevo_data::{coco_ground_truth, CocoImage, GtBox, CLASSES};
use nestevo_eval::{coco_results, evaluate, Detection};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// pycocotools' `stats[0]` (AP .50:.95), `stats[1]` (AP .50), `stats[2]` (AP .75).
const PYCOCOTOOLS: [f64; 3] = [0.28205649398095406, 0.6039429678571253, 0.19878974920241888];

type Case = (Vec<(u64, Vec<GtBox>)>, Vec<Detection>, Vec<CocoImage>);

fn case() -> Case {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut gt, mut dets, mut images) = (Vec::new(), Vec::new(), Vec::new());
    for i in (0..600u64).step_by(5) {
        let boxes: Vec<GtBox> = (0..rng.gen_range(0..7))
            .map(|_| {
                let side = rng.gen_range(3.0..40.0f32);
                let (w, h) = (side * rng.gen_range(0.4..2.0f32), side);
                let (x0, y0) = (
                    rng.gen_range(0.0..96.0 - w.min(95.0)),
                    rng.gen_range(0.0..96.0 - h),
                );
                let class = rng.gen_range(0..CLASSES.len());
                GtBox {
                    class,
                    x0,
                    y0,
                    x1: (x0 + w).min(96.0),
                    y1: y0 + h,
                }
            })
            .collect();
        for b in &boxes {
            let copies =
                if rng.gen::<f32>() < 0.8 { 1 } else { 0 } + (rng.gen::<f32>() < 0.15) as usize;
            for _ in 0..copies {
                let (w, h) = (b.width(), b.height());
                let j = rng.gen_range(0.0..0.3f32);
                let class = if rng.gen::<f32>() < 0.1 {
                    rng.gen_range(0..CLASSES.len())
                } else {
                    b.class
                };
                let mut jit = |v: f32, s: f32| v + rng.gen_range(-j..=j) * s;
                let (x0, y0) = (jit(b.x0, w), jit(b.y0, h));
                let (x1, y1) = (jit(b.x1, w).max(x0 + 0.5), jit(b.y1, h).max(y0 + 0.5));
                dets.push(Detection {
                    image_id: i,
                    class,
                    score: rng.gen_range(0.05..1.0),
                    x0,
                    y0,
                    x1,
                    y1,
                });
            }
        }
        for _ in 0..rng.gen_range(0..3) {
            let (x0, y0) = (rng.gen_range(0.0..80.0f32), rng.gen_range(0.0..80.0f32));
            let (w, h) = (rng.gen_range(3.0..16.0f32), rng.gen_range(3.0..16.0f32));
            let class = rng.gen_range(0..CLASSES.len());
            dets.push(Detection {
                image_id: i,
                class,
                score: rng.gen_range(0.0..0.7),
                x0,
                y0,
                x1: x0 + w,
                y1: y0 + h,
            });
        }
        images.push(CocoImage {
            id: i,
            file_name: format!("frame_{i:06}.png"),
            width: 96,
            height: 96,
        });
        gt.push((i, boxes));
    }
    (gt, dets, images)
}

#[test]
fn map_matches_pycocotools() {
    let (gt, dets, images) = case();
    let r = evaluate(&gt, &dets);
    if let Ok(dir) = std::env::var("NESTEVO_DUMP_COCO") {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        let pairs: Vec<_> = images
            .into_iter()
            .zip(gt.iter().map(|g| g.1.clone()))
            .collect();
        let g = serde_json::to_string(&coco_ground_truth(&pairs)).unwrap();
        std::fs::write(dir.join("gt.json"), g).unwrap();
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_string(&coco_results(&dets)).unwrap(),
        )
        .unwrap();
        println!(
            "ours: map {:.6} map50 {:.6} map75 {:.6}",
            r.map, r.map50, r.map75
        );
    }
    let ours = [r.map, r.map50, r.map75];
    for (k, (a, b)) in ours.iter().zip(PYCOCOTOOLS).enumerate() {
        assert!(
            (a - b).abs() < 1e-6,
            "figure {k}: ours {a:.6}, pycocotools {b:.6}"
        );
    }
    assert!(
        r.map50 > 0.3 && r.map50 < 0.95,
        "a case that exercises matching: {r:?}"
    );
}
