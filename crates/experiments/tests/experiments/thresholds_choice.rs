//! Per-class thresholds: precision, recall and F1 of scored candidates by hand, and the
//! threshold of highest F1 per class (the higher one on a tie).

use nestevo_experiments::thresholds::{choose, prf, Candidate};

fn c(class: usize, score: f32, hit: bool) -> Candidate {
    Candidate { class, score, hit }
}

#[test]
fn thresholds_by_hand() {
    // Class 0: hits at 0.9 and 0.7, misses at 0.5 and 0.3, three truths. Class 1: a hit at
    // 0.35, a miss at 0.8, one truth. Classes 2 and 3: nothing.
    let cands = [
        c(0, 0.9, true),
        c(0, 0.7, true),
        c(0, 0.5, false),
        c(0, 0.3, false),
        c(1, 0.8, false),
        c(1, 0.35, true),
    ];
    let truths = [3, 1, 0, 0];
    // Class 0 at 0.4: 3 boxes, 2 hits: P 2/3, R 2/3, F1 2/3.
    let p = prf(&cands, &truths, Some(0), &[0.4]);
    assert_eq!((p.boxes, p.hits, p.truths), (3, 2, 3));
    assert!((p.f1 - 2.0 / 3.0).abs() < 1e-12);
    // At 0.6: 2 boxes, 2 hits: P 1, R 2/3, F1 0.8 (the best for class 0).
    assert!((prf(&cands, &truths, Some(0), &[0.6]).f1 - 0.8).abs() < 1e-12);
    // Class 1 at 0.3: P 1/2, R 1, F1 2/3; at 0.4: no hit, F1 0.
    assert!((prf(&cands, &truths, Some(1), &[0.3]).f1 - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(prf(&cands, &truths, Some(1), &[0.4]).f1, 0.0);
    let grid = [0.2, 0.3, 0.4, 0.6, 0.8];
    // Class 0: F1 at 0.2 and 0.3 is 4/7, at 0.4 2/3, at 0.6 0.8, at 0.8 1/2. Class 1: 2/3 at
    // 0.2 and 0.3 (the higher, 0.3), 0 above. Empty classes tie at 0: the highest, 0.8.
    assert_eq!(choose(&cands, &truths, &grid), vec![0.6, 0.3, 0.8, 0.8]);
    // Pooled at the chosen thresholds: class 0's 2 boxes (2 hits) and class 1's 2 (1 hit) of
    // 4 truths.
    let all = prf(&cands, &truths, None, &[0.6, 0.3, 0.8, 0.8]);
    assert_eq!((all.boxes, all.hits, all.truths), (4, 3, 4));
    assert!((all.precision - 0.75).abs() < 1e-12 && (all.recall - 0.75).abs() < 1e-12);
}
