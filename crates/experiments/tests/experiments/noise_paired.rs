//! Fig. 15's bookkeeping: frames spread over the streams, and the paired differences over the
//! draws the models share (no training or crossbar run: a written results file).

use nestevo_data::StreamId;
use nestevo_experiments::noise_sweep::{describe_frames, spread, summarise, summary};
use nestevo_experiments::points::PointsFile;

#[test]
fn frames_spread_over_the_streams() {
    let sets = spread(&StreamId::ALL, 300, 59297).unwrap();
    assert_eq!(sets.len(), 7);
    assert_eq!(sets.iter().map(|s| s.frames).sum::<usize>(), 300);
    let counts: Vec<usize> = sets.iter().map(|s| s.frames).collect();
    assert_eq!(counts, vec![43, 43, 43, 43, 43, 43, 42]);
    assert!(sets.iter().all(|s| s.seed == 59297));
    assert!(describe_frames(&sets).starts_with("source:43@59297 A:43@59297"));
    assert!(spread(&StreamId::ALL, 3, 1).is_err());
    assert!(spread(&[], 3, 1).is_err());
}

/// Model A is 0.1 above B at every draw, with a draw effect shared by both (what pairing
/// removes): the paired interval is tight and above 0 although the draws spread widely; a
/// draw only one side has is left out of the pairs.
#[test]
fn paired_differences_over_shared_draws() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.csv");
    let mut s = String::from("model,mode,mu,draw,seed,map50,seconds,frames\n");
    let row = |m: &str, mode: &str, mu: f64, d: usize, v: f64| {
        format!("{m},{mode},{mu},{d},{d},{v:.5},1.0,source:4@1\n")
    };
    s += &row("a", "cim-weight", 0.0, 0, 0.90);
    s += &row("b", "cim-weight", 0.0, 0, 0.92);
    let shared = [0.3, 0.6, 0.45, 0.2, 0.7];
    for (d, e) in shared.iter().enumerate() {
        let jitter = [0.001, -0.002, 0.0, 0.002, -0.001][d];
        s += &row("a", "cim-weight", 0.02, d, e + 0.1 + jitter);
        s += &row("b", "cim-weight", 0.02, d, *e);
    }
    s += &row("a", "cim-weight", 0.02, 9, 0.99);
    std::fs::write(&p, s).unwrap();
    let header = [
        "model", "mode", "mu", "draw", "seed", "map50", "seconds", "frames",
    ];
    let f = PointsFile::open(&p, &header, 4).unwrap();
    let sm = summary(&f);
    let r = sm
        .paired
        .iter()
        .find(|r| r.kind == "model" && r.mu == 0.02)
        .unwrap();
    assert_eq!((r.a.as_str(), r.b.as_str(), r.diff.n), ("a", "b", 5));
    assert!((r.diff.mean - 0.1).abs() < 1e-9);
    assert!(r.diff.lo > 0.09 && r.diff.hi < 0.11, "{:?}", r.diff);
    assert_eq!(r.verdict, "above");
    assert_eq!((r.clean_a, r.clean_b), (Some(0.9), Some(0.92)));
    // Unpaired, the draws' spread would swamp the difference.
    let a = sm
        .cells
        .iter()
        .find(|c| c.model == "b" && c.mu == 0.02)
        .unwrap();
    assert!(a.map50.hi - a.map50.lo > 0.3);
    let plots = dir.path().join("plots");
    let json = dir.path().join("s.json");
    let text = summarise(&f, Some(&plots), Some(&json)).unwrap();
    assert!(
        text.contains("| cim-weight | a - b | 0.02 | +0.100 ["),
        "{text}"
    );
    assert!(plots.join("noise-cim-weight.png").exists());
    // One noise level: no paired plot against mu; a second level brings it.
    assert!(!plots.join("noise-paired.png").exists());
    let mut s2 = std::fs::read_to_string(&p).unwrap();
    for d in 0..5 {
        s2 += &row("a", "cim-weight", 0.05, d, 0.3);
        s2 += &row("b", "cim-weight", 0.05, d, 0.2 + 0.01 * d as f64);
    }
    let p2 = dir.path().join("s2.csv");
    std::fs::write(&p2, s2).unwrap();
    let plots2 = dir.path().join("plots2");
    summarise(
        &PointsFile::open(&p2, &header, 4).unwrap(),
        Some(&plots2),
        None,
    )
    .unwrap();
    assert!(plots2.join("noise-paired.png").exists());
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j["frames"], "source:4@1");
}
