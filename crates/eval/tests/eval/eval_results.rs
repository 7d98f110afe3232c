//! COCO results files: written, read back, and rejected with clear errors when malformed.

use nestevo_data::{Stream, StreamId};
use nestevo_eval::{evaluate, ground_truth, read_coco_results, write_coco_results, Detection};
use std::fs;

#[test]
fn results_round_trip_and_score_the_ground_truth_perfectly() {
    let s = Stream::new(StreamId::B, 0);
    let frames: Vec<_> = (0..20).map(|i| s.frame(i * 9)).collect();
    let gt = ground_truth(&frames);
    let dets: Vec<Detection> = frames
        .iter()
        .flat_map(|f| {
            f.boxes.iter().map(|b| Detection {
                image_id: f.index,
                class: b.class,
                score: 0.9,
                x0: b.x0,
                y0: b.y0,
                x1: b.x1,
                y1: b.y1,
            })
        })
        .collect();
    assert!(dets.len() > 20);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.json");
    write_coco_results(&p, &dets).unwrap();
    let back = read_coco_results(&p).unwrap();
    assert_eq!(back.len(), dets.len());
    let j: serde_json::Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
    assert_eq!(
        j[0]["category_id"].as_u64().unwrap(),
        dets[0].class as u64 + 1
    );
    let r = evaluate(&gt, &back);
    assert!(r.map > 0.999 && r.map50_voc > 0.999, "{r:?}");
}

#[test]
fn malformed_results_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.json");
    let err = |text: &str| {
        fs::write(&p, text).unwrap();
        format!("{:#}", read_coco_results(&p).unwrap_err())
    };
    let e = err("{}");
    assert!(e.contains("r.json") && e.contains("COCO results"), "{e}");
    let e = err(r#"[{"image_id": 0, "category_id": 9, "bbox": [0, 0, 1, 1], "score": 0.5}]"#);
    assert!(
        e.contains("entry 0") && e.contains("category_id 9") && e.contains("allowed 1 to 4"),
        "{e}"
    );
    let e = err(r#"[{"image_id": 0, "category_id": 1, "bbox": [0, 0, -1, 1], "score": 0.5}]"#);
    assert!(e.contains("entry 0") && e.contains("bbox"), "{e}");
    let e = format!(
        "{:#}",
        read_coco_results(&dir.path().join("none.json")).unwrap_err()
    );
    assert!(e.contains("cannot read") && e.contains("none.json"), "{e}");
}
