//! The rendered streams: determinism, shared scenes, sane boxes, real differences between domains.

use nestevo_data::{Stream, StreamId, CLASSES};

#[test]
fn frames_are_a_pure_function_of_seed_and_index() {
    let s = Stream::new(StreamId::A, 7);
    let (a, b) = (s.frame(123), Stream::new(StreamId::A, 7).frame(123));
    assert_eq!(a, b);
    assert_ne!(s.frame(123).rgb, Stream::new(StreamId::A, 8).frame(123).rgb);
    assert_eq!((a.width, a.height, a.rgb.len()), (96, 96, 96 * 96 * 3));
}

#[test]
fn c_is_a_at_a_third_of_the_rate_and_b_at_two_thirds() {
    let a = Stream::new(StreamId::A, 3);
    let b = Stream::new(StreamId::B, 3);
    let c = Stream::new(StreamId::C, 3);
    for i in [0u64, 1, 17, 1000] {
        let fa = a.frame(3 * i);
        let fc = c.frame(i);
        assert_eq!(fa.rgb, fc.rgb, "C frame {i} vs A frame {}", 3 * i);
        assert_eq!(fa.boxes, fc.boxes);
        assert_eq!(
            b.frame(2 * i).rgb,
            fa.rgb,
            "B frame {} vs A frame {}",
            2 * i,
            3 * i
        );
    }
    assert_eq!((a.fps(), b.fps(), c.fps()), (30.0, 20.0, 10.0));
    assert_eq!(c.frame(10).time_s, 1.0);
}

#[test]
fn stream_names_parse_case_insensitively() {
    assert_eq!("source".parse::<StreamId>().unwrap(), StreamId::Source);
    assert_eq!("e".parse::<StreamId>().unwrap(), StreamId::E);
    let err = "G".parse::<StreamId>().unwrap_err().to_string();
    assert!(err.contains("allowed are source, A, B, C, D, E"), "{err}");
}

#[test]
fn boxes_lie_in_the_frame_and_cover_all_classes_and_sizes() {
    for id in StreamId::ALL {
        let s = Stream::new(id, 1);
        let mut per_class = [0usize; CLASSES.len()];
        let (mut small, mut large) = (0, 0);
        for i in 0..300u64 {
            let f = s.frame(i * 37);
            for b in &f.boxes {
                assert!(b.class < CLASSES.len());
                let inside = b.x0 >= 0.0 && b.y0 >= 0.0 && b.x1 <= 96.0 && b.y1 <= 96.0;
                assert!(inside, "{id} frame {}: {b:?}", i * 37);
                assert!(b.width() >= 2.0 && b.height() >= 2.0);
                per_class[b.class] += 1;
                let side = b.width().max(b.height());
                small += (side <= 10.0) as usize;
                large += (side >= 30.0) as usize;
            }
        }
        assert!(
            per_class.iter().all(|&n| n >= 20),
            "{id}: boxes per class {per_class:?}"
        );
        assert!(
            small >= 30 && large >= 30,
            "{id}: {small} small and {large} large boxes"
        );
    }
}

#[test]
fn consecutive_frames_are_correlated_and_distant_ones_are_not() {
    let s = Stream::new(StreamId::A, 2);
    let diff = |i: u64, j: u64| {
        let (a, b) = (s.frame(i), s.frame(j));
        let sum: f64 = a
            .rgb
            .iter()
            .zip(&b.rgb)
            .map(|(x, y)| (*x as f64 - *y as f64).abs())
            .sum();
        sum / a.rgb.len() as f64
    };
    let near = diff(500, 501);
    let far = diff(500, 500 + 30 * 60);
    assert!(
        near * 3.0 < far,
        "mean |diff|: next frame {near:.2}, a minute later {far:.2}"
    );
    // Objects persist: most boxes of frame i have a box of the same class nearby in frame i+1.
    let (a, b) = (s.frame(900), s.frame(901));
    let kept = a.boxes.iter().filter(|x| {
        b.boxes
            .iter()
            .any(|y| y.class == x.class && (y.x0 - x.x0).abs() < 3.0 && (y.y0 - x.y0).abs() < 3.0)
    });
    assert!(kept.count() * 2 >= a.boxes.len());
}

fn mean_luma(id: StreamId) -> f64 {
    let s = Stream::new(id, 0);
    let (mut sum, mut n) = (0.0, 0.0);
    for i in 0..20u64 {
        for p in s.frame(i * 101).rgb.chunks_exact(3) {
            sum += 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64;
            n += 1.0;
        }
    }
    sum / n
}

#[test]
fn night_is_dark_and_rural_is_greener_than_campus() {
    let (day, night) = (mean_luma(StreamId::A), mean_luma(StreamId::E));
    assert!(
        night < 0.5 * day,
        "mean luma: day {day:.1}, night {night:.1}"
    );
    // The rural ground is fields: its lower half is mostly green-yellow, the campus's grey.
    let lower_green = |id: StreamId| {
        let f = Stream::new(id, 0).frame(10);
        let lower = &f.rgb[f.rgb.len() / 2..];
        let green = lower
            .chunks_exact(3)
            .filter(|p| p[1] as i32 > p[2] as i32 + 30)
            .count();
        green as f64 / (lower.len() / 3) as f64
    };
    let (campus, rural) = (lower_green(StreamId::A), lower_green(StreamId::D));
    assert!(
        rural > campus + 0.3,
        "green share of the lower half: campus {campus:.2}, rural {rural:.2}"
    );
}

/// Fog lowers contrast: the spread of a fog frame's pixel values is smaller than that of the
/// same scene by day (stream F renders A's kind of scene, another seed of it, in haze), and
/// the fog thickens and thins over minutes.
#[test]
fn fog_lowers_contrast() {
    let spread = |id: StreamId, i: u64| {
        let f = Stream::new(id, 3).frame(i);
        let v: Vec<f64> = f.rgb.iter().map(|&x| x as f64).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let frames = [10u64, 3000, 6000, 9000];
    let day: f64 = frames.iter().map(|&i| spread(StreamId::A, i)).sum::<f64>() / 4.0;
    let fog: Vec<f64> = frames.iter().map(|&i| spread(StreamId::F, i)).collect();
    let mean = fog.iter().sum::<f64>() / 4.0;
    assert!(mean < 0.75 * day, "pixel spread: day {day:.1}, fog {fog:?}");
    let (lo, hi) = fog
        .iter()
        .fold((f64::MAX, 0.0f64), |a, &x| (a.0.min(x), a.1.max(x)));
    assert!(hi > lo * 1.05, "the fog changes over minutes: {fog:?}");
}

#[test]
fn other_sizes_scale_the_scene() {
    let f = Stream::new(StreamId::A, 0).with_size(160, 120).frame(40);
    assert_eq!((f.width, f.height, f.rgb.len()), (160, 120, 160 * 120 * 3));
    assert!(f.boxes.iter().all(|b| b.x1 <= 160.0 && b.y1 <= 120.0));
}

#[test]
fn conditions_drift_within_a_stream_over_minutes() {
    let s = Stream::new(StreamId::A, 0);
    let at = |min: f64| s.drift((min * 60.0 * s.fps()) as u64);
    let lights: Vec<f32> = (0..12).map(|k| at(k as f64 * 0.5).light).collect();
    let (lo, hi) = lights
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert!(hi / lo > 1.2, "light over 6 minutes: {lights:?}");
    let mix_change = (0..12)
        .map(|k| {
            let (a, b) = (at(0.0).class_mix, at(k as f64 * 0.5).class_mix);
            a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>()
        })
        .fold(0.0f32, f32::max);
    assert!(
        mix_change > 0.2,
        "largest change in class mix: {mix_change}"
    );
    // The counted objects follow the mix: compare the boxes of two 2-minute windows whose mixes
    // differ most in one class.
    let count = |from: f64, class: usize| {
        (0..400u64)
            .map(|k| s.frame(((from * 60.0 + k as f64 * 0.3) * 30.0) as u64))
            .map(|f| f.boxes.iter().filter(|b| b.class == class).count())
            .sum::<usize>() as f64
    };
    let (m0, m1) = (at(1.0).class_mix, at(4.0).class_mix);
    let c = (0..CLASSES.len())
        .max_by(|&a, &b| (m0[a] - m1[a]).abs().total_cmp(&(m0[b] - m1[b]).abs()))
        .unwrap();
    let (n0, n1) = (count(0.0, c), count(3.0, c));
    assert_eq!(
        m0[c] > m1[c],
        n0 > n1,
        "class {c}: mix {} -> {}, boxes {n0} -> {n1}",
        m0[c],
        m1[c]
    );
    // Night is darker than day throughout.
    let e = Stream::new(StreamId::E, 0);
    for k in 0..20 {
        let (day, night) = (s.drift(k * 1500).light, e.drift(k * 1500).light);
        assert!(
            night < 0.5 && day > 0.65,
            "light at frame {}: day {day}, night {night}",
            k * 1500
        );
    }
}
