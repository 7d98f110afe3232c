//! The evolution system's pure maths against hand-worked values: the drift statistic
//! (Eq. 11-13), FedAvg and the life-cycle performance (Eq. 6-8).

use nestevo_evolve::drift::{decide, delta, delta_global, merge, pool_box, Decision, FeatureStats};
use nestevo_evolve::fedavg::{average, weights, Params};
use nestevo_evolve::lcp::{lcp, served_by_old, transfer_s, EvolvingTime};

fn stats(vs: &[(usize, [f32; 2])]) -> FeatureStats {
    let mut s = FeatureStats::new("test", 4, 2);
    for (c, v) in vs {
        s.add(*c, v).unwrap();
    }
    s
}

/// delta_i on hand-made features: the std is over the union of both sets, constant
/// dimensions add nothing, classes seen on one side only are skipped, and the class terms
/// are L2 norms summed over classes.
#[test]
fn drift_statistic_on_hand_made_features() {
    // Class 0: train means (2, 0), terminal (6, 0); union {1, 3, 5, 7}: std sqrt(5); the
    // second dimension is constant. Term: 4 / sqrt(5).
    // Class 1: train (0, 2), (0, 4); terminal (2, 3). Dimension 0 over {0, 0, 2}: mean 2/3,
    // variance 8/9, difference 2, so 3/sqrt(2); dimension 1 differs by 0.
    // Class 2 only in train, class 3 only on the terminal: skipped.
    let train = stats(&[
        (0, [1.0, 0.0]),
        (0, [3.0, 0.0]),
        (1, [0.0, 2.0]),
        (1, [0.0, 4.0]),
        (2, [9.0, 9.0]),
    ]);
    let term = stats(&[
        (0, [5.0, 0.0]),
        (0, [7.0, 0.0]),
        (1, [2.0, 3.0]),
        (3, [1.0, 1.0]),
    ]);
    let d = delta(&train, &term).unwrap();
    let c0 = 4.0 / 5f64.sqrt();
    let c1 = 3.0 / 2f64.sqrt();
    assert_eq!(d.per_class.len(), 2);
    assert_eq!((d.per_class[0].0, d.per_class[0].2), (0, 2));
    assert!((d.per_class[0].1 - c0).abs() < 1e-12, "{:?}", d);
    assert!((d.per_class[1].1 - c1).abs() < 1e-12, "{:?}", d);
    assert!((d.delta - (c0 + c1)).abs() < 1e-12);
    // The same features give delta 0.
    assert_eq!(delta(&train, &train).unwrap().delta, 0.0);
    // Merging two halves equals adding all at once.
    let a = stats(&[(0, [1.0, 0.0]), (1, [0.0, 2.0])]);
    let b = stats(&[(0, [3.0, 0.0]), (1, [0.0, 4.0]), (2, [9.0, 9.0])]);
    let m = merge(&a, &b).unwrap();
    for c in 0..4 {
        assert_eq!(m.classes[c].count, train.classes[c].count);
        for k in 0..2 {
            assert!((m.classes[c].mean[k] - train.classes[c].mean[k]).abs() < 1e-12);
            assert!((m.classes[c].var()[k] - train.classes[c].var()[k]).abs() < 1e-12);
        }
    }
    // Wrong sizes are refused.
    assert!(FeatureStats::new("x", 4, 2).add(4, &[0.0, 0.0]).is_err());
    assert!(delta(&train, &FeatureStats::new("y", 4, 3)).is_err());
}

/// Eq. 12-13 and the decision: delta_global counts deltas strictly above gamma, and
/// delta_global < epsilon means distillation only.
#[test]
fn delta_global_and_the_decision() {
    assert_eq!(delta_global(&[0.5, 2.0, 2.5, 7.0], 2.0), 2);
    assert_eq!(decide(2, 2), Decision::CoEvolve);
    assert_eq!(decide(1, 2), Decision::DistillOnly);
    assert_eq!(decide(0, 0), Decision::CoEvolve);
}

/// A box pools the mean of the cells it covers; a box inside one cell takes that cell.
#[test]
fn box_pooling_covers_the_box_cells() {
    let data: Vec<f32> = (0..32).map(|i| i as f32).collect(); // 2 channels of 4x4
    let v = pool_box(&data, [2, 4, 4], 4.0, [0.0, 0.0, 8.0, 8.0]);
    assert_eq!(v, vec![2.5, 18.5]); // cells 0, 1, 4, 5
    let v = pool_box(&data, [2, 4, 4], 4.0, [13.0, 13.0, 14.0, 14.0]);
    assert_eq!(v, vec![15.0, 31.0]);
    let v = pool_box(&data, [2, 4, 4], 4.0, [-5.0, 12.0, 30.0, 99.0]);
    assert_eq!(v, vec![13.5, 29.5]); // last row, clipped
}

fn params(vals: &[(&str, Vec<i64>, Vec<f32>)]) -> Params {
    vals.iter()
        .map(|(n, s, v)| (n.to_string(), (s.clone(), v.clone())))
        .collect()
}

/// FedAvg weights by frame counts exactly; models whose tensors differ in shape or name are
/// refused with the tensor named.
#[test]
fn fedavg_is_exact_and_refuses_heterogeneous_models() {
    let a = params(&[
        ("w", vec![2], vec![1.0, 2.0]),
        ("bn.running_var", vec![1], vec![1.0]),
    ]);
    let b = params(&[
        ("w", vec![2], vec![3.0, 6.0]),
        ("bn.running_var", vec![1], vec![5.0]),
    ]);
    assert_eq!(weights(&[1, 3]).unwrap(), vec![0.25, 0.75]);
    let m = average(&[("a", &a), ("b", &b)], &[1, 3]).unwrap();
    assert_eq!(m["w"].1, vec![2.5, 5.0]);
    assert_eq!(m["bn.running_var"].1, vec![4.0]);
    let c = params(&[
        ("w", vec![3], vec![1.0, 1.0, 1.0]),
        ("bn.running_var", vec![1], vec![1.0]),
    ]);
    let e = average(&[("M1", &a), ("M2", &c)], &[1, 1])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`w`") && e.contains("[3]") && e.contains("[2]") && e.contains("M2"),
        "{e}"
    );
    let d = params(&[("w", vec![2], vec![1.0, 1.0])]);
    let e = average(&[("a", &a), ("d", &d)], &[1, 1])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bn.running_var") && e.contains("no tensor"),
        "{e}"
    );
    assert!(average(&[("a", &a), ("b", &b)], &[0, 0]).is_err());
}

/// Eq. 6-8 on a hand-worked window: 100 frames up and a 230 kB model down over 20 Mbit/s with
/// 20 ms latency, 3 s waiting and the rest of 15 s training, in a 60 s window.
#[test]
fn life_cycle_performance_on_a_hand_worked_window() {
    let up = 100 * 96 * 96 * 3;
    let t_c = transfer_s(up, 230_000, 20.0, 20.0);
    assert!((t_c - (0.04 + 8.0 * 2_994_800.0 / 20e6)).abs() < 1e-12);
    let t = EvolvingTime {
        t_c,
        t_w: 3.0,
        t_r: 15.0 - 3.0 - t_c,
    };
    assert!((t.total() - 15.0).abs() < 1e-12);
    // (0.4 * 15 + 0.7 * 45) / 60 = 0.625, Eq. 8 gives the same.
    let l = lcp(0.4, 0.7, t.total(), 60.0);
    assert!((l - 0.625).abs() < 1e-12);
    assert!((l - (0.4 + 0.3 * 45.0 / 60.0)).abs() < 1e-12);
    // A model that arrives after the window never serves in it.
    assert_eq!(lcp(0.4, 0.7, 90.0, 60.0), 0.4);
    assert_eq!(served_by_old(&[0.0, 5.0, 14.9, 15.0, 30.0], 15.0), 3);
}

/// Eq. 5: an even split before any delta is known; afterwards every terminal gets at least
/// `min_upload`, a larger delta never gets fewer frames, and the sum stays within D_max.
#[test]
fn uploads_follow_drift_within_the_budget() {
    use nestevo_evolve::uploads::upload_counts;
    assert_eq!(
        upload_counts(96, 8, &[None, Some(3.0), None]),
        vec![32, 32, 32]
    );
    let d = [Some(30.0), Some(5.0), Some(10.0)];
    let u = upload_counts(96, 8, &d);
    assert!(
        u.iter().sum::<usize>() <= 96 && u.iter().all(|&x| x >= 8),
        "{u:?}"
    );
    assert!(u[0] > u[2] && u[2] > u[1], "{u:?}");
    assert_eq!(upload_counts(40, 10, &[Some(0.0), Some(0.0)]), vec![20, 20]);
}

/// Every method's action under both decisions of the drift rule (the table of `method`).
#[test]
fn methods_act_as_their_table_says() {
    use nestevo_evolve::drift::Decision::{CoEvolve, DistillOnly};
    use nestevo_evolve::method::{Action, Method};
    let co = Action::CoEvolve { generator: true };
    let cases = [
        (Method::Nestevo, Action::Distill, co),
        (Method::A1, Action::Adapt, Action::Adapt),
        (
            Method::A2,
            Action::Distill,
            Action::CoEvolve { generator: false },
        ),
        (Method::A3, Action::None, Action::None),
        (Method::A4, Action::DistillOriginal, Action::DistillOriginal),
        (Method::AlwaysKd, Action::Distill, Action::Distill),
        (Method::AlwaysCoevolve, co, co),
    ];
    for (m, quiet, drifted) in cases {
        assert_eq!(m.action(DistillOnly), quiet, "{m}");
        assert_eq!(m.action(CoEvolve), drifted, "{m}");
        assert_eq!(m.name().parse::<Method>().unwrap(), m);
    }
    let e = "a5".parse::<Method>().unwrap_err();
    assert!(e.contains("a5") && e.contains("always-coevolve"), "{e}");
}

/// Each pair's sample classes: pooled shares for every pair by default; with `own` a terminal's
/// own shares, and the pooled ones for a terminal with no pseudo box.
#[cfg(feature = "torch")]
#[test]
fn pair_priors_pooled_or_own() {
    use nestevo_evolve::coevolve::{class_prior, pair_priors};
    use nestevo_evolve::config::SampleLabels;
    let counts = vec![vec![6, 2, 0, 0], vec![0, 0, 3, 1], vec![0, 0, 0, 0]];
    let (pooled, all) = class_prior(&counts);
    assert_eq!(all, 12);
    assert_eq!(pooled, vec![0.5, 2.0 / 12.0, 0.25, 1.0 / 12.0]);
    let p = pair_priors(&counts, SampleLabels::Pooled);
    assert!(p.iter().all(|q| q == &pooled));
    let o = pair_priors(&counts, SampleLabels::Own);
    assert_eq!(o[0], vec![0.75, 0.25, 0.0, 0.0]);
    assert_eq!(o[1], vec![0.0, 0.0, 0.75, 0.25]);
    assert_eq!(o[2], pooled);
}
