//! mAP against cases worked by hand. COCO AP samples the interpolated precision at the 101
//! recall points 0, 0.01, ..., 1 and averages them; VOC AP is the area under the interpolated
//! curve. "Interpolated precision at recall r" = best precision at any recall >= r.

use nestevo_data::GtBox;
use nestevo_eval::{average_precision, evaluate, iou, ApKind, Detection, IOU_THRESHOLDS};

const EPS: f64 = 1e-9;

fn gt(class: usize, b: [f32; 4]) -> GtBox {
    GtBox {
        class,
        x0: b[0],
        y0: b[1],
        x1: b[2],
        y1: b[3],
    }
}

fn det(image_id: u64, class: usize, score: f32, b: [f32; 4]) -> Detection {
    Detection {
        image_id,
        class,
        score,
        x0: b[0],
        y0: b[1],
        x1: b[2],
        y1: b[3],
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < EPS
}

/// Per-class APs equal up to rounding (COCO divides by tp + fp + machine epsilon).
fn same(a: &[Option<f64>], b: &[Option<f64>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Some(x), Some(y)) => close(*x, *y),
            (None, None) => true,
            _ => false,
        })
}

const G1: [f32; 4] = [10.0, 10.0, 30.0, 40.0];
const G2: [f32; 4] = [50.0, 50.0, 70.0, 60.0];
const NOWHERE: [f32; 4] = [80.0, 0.0, 90.0, 8.0];

#[test]
fn one_perfect_detection_scores_one_everywhere() {
    let r = evaluate(&[(0, vec![gt(1, G1)])], &[det(0, 1, 0.3, G1)]);
    assert!(
        close(r.map50, 1.0) && close(r.map75, 1.0) && close(r.map, 1.0) && close(r.map50_voc, 1.0)
    );
    assert!(
        same(&r.ap50_per_class, &[None, Some(1.0), None, None]),
        "{r:?}"
    );
}

#[test]
fn false_positive_ranked_above_the_true_positive_halves_ap() {
    // Ranked: FP (0.9), TP (0.8); 1 ground truth.
    // recall    0    1
    // precision 0    1/2   -> interpolated 1/2, 1/2
    // COCO: every one of the 101 recall points reads 1/2 -> AP = 0.5.
    // VOC: area = (1 - 0) * 1/2 = 0.5.
    let r = evaluate(
        &[(0, vec![gt(0, G1)])],
        &[det(0, 0, 0.9, NOWHERE), det(0, 0, 0.8, G1)],
    );
    assert!(close(r.map50, 0.5), "{r:?}");
    assert!(close(r.map50_voc, 0.5), "{r:?}");
    // The same false positive ranked below the true positive costs nothing:
    // recall 1, 1; precision 1, 1/2 -> interpolated 1, 1/2; recall 1 is reached at precision 1.
    let r = evaluate(
        &[(0, vec![gt(0, G1)])],
        &[det(0, 0, 0.7, NOWHERE), det(0, 0, 0.8, G1)],
    );
    assert!(close(r.map50, 1.0) && close(r.map50_voc, 1.0), "{r:?}");
}

#[test]
fn duplicate_detection_is_a_false_positive() {
    // Two objects; detections: d1 on G1 (0.9), d2 again on G1 (0.8), d3 on G2 (0.7).
    // TP/FP:     T     F     T
    // recall     1/2   1/2   1
    // precision  1     1/2   2/3   -> interpolated 1, 2/3, 2/3
    // COCO: recall points 0..=0.50 (51 of them) read 1, points 0.51..=1 (50) read 2/3:
    //       AP = (51 + 50 * 2/3) / 101 = 0.834983...
    // VOC:  1/2 * 1 + 1/2 * 2/3 = 5/6.
    let g = [(7, vec![gt(2, G1), gt(2, G2)])];
    let d = [
        det(7, 2, 0.9, G1),
        det(7, 2, 0.8, [10.5, 10.0, 30.5, 40.0]),
        det(7, 2, 0.7, G2),
    ];
    let r = evaluate(&g, &d);
    let coco = (51.0 + 50.0 * 2.0 / 3.0) / 101.0;
    assert!(close(r.map50, coco), "{} vs {coco}", r.map50);
    assert!(close(r.map50_voc, 5.0 / 6.0), "{}", r.map50_voc);
}

#[test]
fn missed_object_caps_recall() {
    // Two objects, one found: recall 1/2 at precision 1; points 0..=0.50 read 1, the rest 0.
    let r = evaluate(&[(0, vec![gt(0, G1), gt(0, G2)])], &[det(0, 0, 0.5, G2)]);
    assert!(close(r.map50, 51.0 / 101.0), "{}", r.map50);
    assert!(close(r.map50_voc, 0.5));
}

#[test]
fn classes_are_averaged_and_classes_without_ground_truth_left_out() {
    // Class 0: perfect (AP 1). Class 1: one object, only a detection elsewhere (AP 0).
    // Class 3: a detection but no ground truth anywhere: not counted (COCO). mAP = (1 + 0) / 2.
    let g = [(0, vec![gt(0, G1)]), (1, vec![gt(1, G2)])];
    let d = [
        det(0, 0, 0.9, G1),
        det(1, 1, 0.9, NOWHERE),
        det(1, 3, 0.9, G2),
    ];
    let r = evaluate(&g, &d);
    assert!(close(r.map50, 0.5) && close(r.map, 0.5), "{r:?}");
    assert!(
        same(&r.ap50_per_class, &[Some(1.0), Some(0.0), None, None]),
        "{r:?}"
    );
    assert_eq!((r.images, r.gt_boxes, r.detections), (2, 2, 3));
    // A detection of the right box with the wrong class is no match either.
    let r = evaluate(&[(0, vec![gt(0, G1)])], &[det(0, 1, 0.9, G1)]);
    assert!(close(r.map50, 0.0));
}

#[test]
fn iou_exactly_at_a_threshold_matches_for_coco_but_not_for_voc() {
    // Ground truth 10x10; detection its top half: IoU = 50 / 100 = 0.5 exactly.
    // COCO matches IoU >= t: a true positive at 0.50 only, so AP50 = 1, AP75 = 0 and
    // AP[.5:.95] = 1/10. VOC needs IoU > 0.5: AP = 0.
    let g = [(0, vec![gt(0, [0.0, 0.0, 10.0, 10.0])])];
    let r = evaluate(&g, &[det(0, 0, 1.0, [0.0, 0.0, 10.0, 5.0])]);
    assert_eq!(iou([0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 5.0]), 0.5);
    assert!(
        close(r.map50, 1.0) && close(r.map75, 0.0) && close(r.map, 0.1),
        "{r:?}"
    );
    assert!(close(r.map50_voc, 0.0));
    // Three quarters: IoU = 0.75 matches at .50, .55, .60, .65, .70, .75: AP = 6/10, AP75 = 1.
    let r = evaluate(&g, &[det(0, 0, 1.0, [0.0, 0.0, 10.0, 7.5])]);
    assert!(close(r.map75, 1.0) && close(r.map, 0.6), "{r:?}");
}

#[test]
fn thresholds_are_numpy_linspace() {
    assert_eq!(IOU_THRESHOLDS[0], 0.5);
    assert_eq!(IOU_THRESHOLDS[5], 0.75);
    assert_eq!(IOU_THRESHOLDS[9], 0.95);
    assert!(IOU_THRESHOLDS
        .windows(2)
        .all(|w| (w[1] - w[0] - 0.05).abs() < 1e-12));
}

#[test]
fn each_ground_truth_goes_to_the_best_scoring_detection_then_best_iou() {
    // Two overlapping objects A=[0,0,10,10], B=[4,0,14,10]; one detection [1,0,11,10]
    // (IoU with A = 90/110, with B = 70/130) takes A; a second detection equal to A, scored lower,
    // finds A taken and B at IoU 60/140 < 0.5: false positive. TP, FP with 2 objects:
    // recall 1/2, 1/2; precision 1, 1/2: COCO AP = 51/101.
    let g = [(
        0,
        vec![gt(0, [0.0, 0.0, 10.0, 10.0]), gt(0, [4.0, 0.0, 14.0, 10.0])],
    )];
    let d = [
        det(0, 0, 0.9, [1.0, 0.0, 11.0, 10.0]),
        det(0, 0, 0.8, [0.0, 0.0, 10.0, 10.0]),
    ];
    let r = evaluate(&g, &d);
    assert!(close(r.map50, 51.0 / 101.0), "{}", r.map50);
}

#[test]
fn only_the_best_hundred_detections_per_image_and_class_count() {
    // 100 false positives scored above the one true positive push it out: AP 0. With 99 it stays,
    // at rank 100: precision 1/100 at recall 1 -> every recall point reads 0.01.
    let g = [(0, vec![gt(0, G1)])];
    let mut d: Vec<_> = (0..100)
        .map(|i| det(0, 0, 0.9, [i as f32 * 0.1, 0.0, i as f32 * 0.1 + 1.0, 1.0]))
        .collect();
    d.push(det(0, 0, 0.5, G1));
    assert!(close(evaluate(&g, &d).map50, 0.0));
    d.remove(0);
    let ap = evaluate(&g, &d).map50;
    assert!((ap - 0.01).abs() < 1e-12, "{ap}");
}

#[test]
fn rankings_pool_images() {
    // Image 0: TP at 0.6. Image 1: FP at 0.9 and TP at 0.4. Pooled ranking: FP, TP, TP.
    // recall 0, 1/2, 1; precision 0, 1/2, 2/3 -> interpolated 2/3 throughout: AP = 2/3.
    let g = [(0, vec![gt(0, G1)]), (1, vec![gt(0, G2)])];
    let d = [
        det(0, 0, 0.6, G1),
        det(1, 0, 0.9, NOWHERE),
        det(1, 0, 0.4, G2),
    ];
    let r = evaluate(&g, &d);
    assert!((r.map50 - 2.0 / 3.0).abs() < 1e-9, "{}", r.map50);
    // VOC: 1/2 * 2/3 + 1/2 * 2/3 = 2/3.
    assert!((r.map50_voc - 2.0 / 3.0).abs() < 1e-9);
    // Detections on an image that has no ground truth are false positives.
    let r = evaluate(&g[..1], &[det(0, 0, 0.6, G1), det(5, 0, 0.9, G1)]);
    assert!(close(r.map50, 0.5), "{}", r.map50);
}

#[test]
fn no_detections_or_no_ground_truth() {
    let r = evaluate(&[(0, vec![gt(0, G1)])], &[]);
    assert!(close(r.map, 0.0));
    let r = evaluate(&[(0, vec![])], &[det(0, 0, 0.9, G1)]);
    assert!(close(r.map, 0.0) && r.ap50_per_class.iter().all(|a| a.is_none()));
    assert!(close(average_precision(ApKind::Coco101, &[], 0), 0.0));
}
