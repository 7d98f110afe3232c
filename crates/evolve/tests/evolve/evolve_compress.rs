//! Adaptive data compression (`evolve::compress`): pooled frames are the 2x2 averages, their
//! pseudo boxes and the teacher's soft outputs describe the same objects at half the size on
//! the coarser grid, and the switch and the threshold decide which frames the rule pools.

use ndarray::Array3;
use nestevo_couple::label::{Labelled, PseudoBox, SoftOutputs};
use nestevo_data::{Frame, GtBox};
use nestevo_evolve::compress::{compress, has_small, pool_frame, pool_soft, CompressSpec};

fn frame(h: usize, w: usize) -> Frame {
    let rgb = (0..h * w * 3).map(|i| (i * 37 % 251) as u8).collect();
    Frame {
        width: w,
        height: h,
        rgb,
        boxes: vec![GtBox {
            class: 1,
            x0: 10.0,
            y0: 20.0,
            x1: 30.0,
            y1: 44.0,
        }],
        index: 7,
        time_s: 0.5,
    }
}

/// Teacher outputs on a 24x24 grid (stride 4) with one object of class `c`, centred at pixel
/// (cx, cy), `bw` x `bh` pixels.
fn soft(c: usize, cx: f32, cy: f32, bw: f32, bh: f32) -> SoftOutputs {
    let (g, s) = (24, 4.0);
    let mut hm = Array3::from_elem((3, g, g), -6.0f32);
    let mut wh = Array3::zeros((2, g, g));
    let mut off = Array3::zeros((2, g, g));
    let (fx, fy) = (cx / s, cy / s);
    let (ix, iy) = (fx.floor() as usize, fy.floor() as usize);
    hm[[c, iy, ix]] = 2.0;
    // A weaker neighbour, so the block's peak must be found.
    hm[[c, iy, (ix + 1).min(g - 1)]] = 0.5;
    wh[[0, iy, ix]] = bw / s;
    wh[[1, iy, ix]] = bh / s;
    off[[0, iy, ix]] = fx - ix as f32;
    off[[1, iy, ix]] = fy - iy as f32;
    SoftOutputs {
        hm,
        wh,
        off,
        stride: s,
    }
}

/// Decodes the peak of class `c`: (centre x, centre y, width, height) in input pixels.
fn decode(s: &SoftOutputs, c: usize) -> (f32, f32, f32, f32) {
    let (_, h, w) = s.hm.dim();
    let (mut best, mut at) = (f32::NEG_INFINITY, (0, 0));
    for y in 0..h {
        for x in 0..w {
            if s.hm[[c, y, x]] > best {
                best = s.hm[[c, y, x]];
                at = (y, x);
            }
        }
    }
    let (y, x) = at;
    (
        (x as f32 + s.off[[0, y, x]]) * s.stride,
        (y as f32 + s.off[[1, y, x]]) * s.stride,
        s.wh[[0, y, x]] * s.stride,
        s.wh[[1, y, x]] * s.stride,
    )
}

fn label(boxes: &[(f32, f32, f32, f32)]) -> Labelled {
    Labelled {
        frame: 0,
        boxes: boxes
            .iter()
            .map(|&(x0, y0, x1, y1)| PseudoBox {
                class: 0,
                score: 0.9,
                x0,
                y0,
                x1,
                y1,
            })
            .collect(),
        soft: soft(0, 40.0, 40.0, 20.0, 20.0),
        features: None,
    }
}

/// A pooled frame is the rounded mean of each 2x2 block, per channel, its boxes halved.
#[test]
fn pooled_pixels_are_block_means() {
    let _serial = crate::serial();
    let f = frame(96, 96);
    let p = pool_frame(&f).unwrap();
    assert_eq!((p.height, p.width, p.rgb.len()), (48, 48, 48 * 48 * 3));
    for (y, x, c) in [(0, 0, 0), (13, 29, 2), (47, 47, 1)] {
        let at = |yy: usize, xx: usize| f.rgb[(yy * 96 + xx) * 3 + c] as f64;
        let m = (at(2 * y, 2 * x)
            + at(2 * y, 2 * x + 1)
            + at(2 * y + 1, 2 * x)
            + at(2 * y + 1, 2 * x + 1))
            / 4.0;
        assert!((p.rgb[(y * 48 + x) * 3 + c] as f64 - m).abs() <= 0.5);
    }
    assert_eq!(
        (p.boxes[0].x0, p.boxes[0].y0, p.boxes[0].x1, p.boxes[0].y1),
        (5.0, 10.0, 15.0, 22.0)
    );
    assert!(pool_frame(&frame(95, 96)).is_none());
}

/// The pooled soft outputs decode to the same object at half the size: centre and size
/// halved (to float precision), on a 12x12 grid at the same stride, the peak kept.
#[test]
fn pooled_targets_describe_the_halved_object() {
    let _serial = crate::serial();
    for &(c, cx, cy, bw, bh) in &[
        (0, 13.0, 23.0, 16.0, 24.0),
        (1, 50.5, 7.25, 30.0, 12.0),
        (2, 90.0, 90.0, 8.0, 40.0),
        (1, 4.1, 61.9, 44.0, 44.0),
    ] {
        let s = soft(c, cx, cy, bw, bh);
        let before = decode(&s, c);
        assert!((before.0 - cx).abs() < 1e-4 && (before.1 - cy).abs() < 1e-4);
        let p = pool_soft(&s).unwrap();
        assert_eq!(p.hm.dim(), (3, 12, 12));
        assert_eq!(p.stride, 4.0);
        let after = decode(&p, c);
        let want = (cx / 2.0, cy / 2.0, bw / 2.0, bh / 2.0);
        for (a, b) in [
            (after.0, want.0),
            (after.1, want.1),
            (after.2, want.2),
            (after.3, want.3),
        ] {
            assert!((a - b).abs() < 1e-4, "{after:?} vs {want:?}");
        }
        // The peak logit survives the pooling, the offsets stay in [0, 1).
        let peak = p.hm.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(peak, 2.0);
        assert!(p.off.iter().all(|&o| (0.0..1.0).contains(&o)));
    }
}

/// The rule pools exactly the frames without a box lower than `small_px`, only when the switch
/// is on; a higher threshold keeps more frames whole.
#[test]
fn the_switch_and_threshold_choose_the_pooled_frames() {
    let _serial = crate::serial();
    let frames = vec![frame(96, 96), frame(96, 96), frame(96, 96), frame(96, 96)];
    let labels = vec![
        label(&[(0.0, 0.0, 20.0, 8.0)]),  // 8 px high: small
        label(&[(0.0, 0.0, 20.0, 20.0)]), // 20 px
        label(&[(0.0, 0.0, 20.0, 30.0), (40.0, 40.0, 44.0, 50.0)]), // 30 and 10 px
        label(&[]),                       // no object
    ];
    assert!(has_small(&labels[0], 12.0) && !has_small(&labels[1], 12.0));
    let on = CompressSpec {
        enabled: true,
        small_px: 12.0,
    };
    let (fs, ls, c) = compress(&on, &frames, &labels);
    let sizes: Vec<usize> = fs.iter().map(|f| f.height).collect();
    assert_eq!(sizes, [96, 48, 96, 48]);
    assert_eq!((c.frames, c.pooled), (4, 2));
    assert_eq!(ls[1].soft.hm.dim(), (3, 12, 12));
    assert_eq!(ls[0].soft.hm.dim(), (3, 24, 24));
    assert_eq!(ls[1].boxes[0].y1, 10.0);
    let off = CompressSpec {
        enabled: false,
        ..on.clone()
    };
    let (fs, _, c) = compress(&off, &frames, &labels);
    assert!(fs.iter().all(|f| f.height == 96) && c.pooled == 0);
    let high = CompressSpec {
        enabled: true,
        small_px: 25.0,
    };
    let (fs, _, _) = compress(&high, &frames, &labels);
    let sizes: Vec<usize> = fs.iter().map(|f| f.height).collect();
    assert_eq!(sizes, [96, 96, 96, 48]);
}

/// A shipped detector takes a pooled frame and answers on the pooled targets' 12x12 grid, and
/// a distillation and a mutual-learning pair over a mixed set (whole and pooled frames) run
/// with finite losses.
#[cfg(feature = "torch")]
#[test]
fn detectors_train_on_pooled_frames() {
    let _serial = crate::serial();
    use nestevo_couple::label::{LabelRequest, Labeller};
    use nestevo_evolve::distill::{distill, DistillConfig};
    use nestevo_evolve::labeller::TorchLabeller;
    use nestevo_train::frames::FramePool;
    tch::set_num_threads(1);
    let dev = tch::Device::Cpu;
    let (teacher, _) = nestevo_train::checkpoint::load(
        std::path::Path::new("models/pretrained/global.safetensors"),
        dev,
    )
    .unwrap();
    let (mut student, _) = nestevo_train::checkpoint::load(
        std::path::Path::new("models/pretrained/M3.safetensors"),
        dev,
    )
    .unwrap();
    let frames = FramePool::new(nestevo_data::StreamId::D, 5).sample(8);
    let req = LabelRequest {
        min_score: 0.3,
        feature_layer: None,
    };
    let labels = TorchLabeller::new(&teacher).label(&frames, &req).unwrap();
    // Pool every other frame whatever its boxes, to have both sizes in the batches.
    let (mut fs, mut ls) = (frames.clone(), labels.clone());
    for k in (0..8).step_by(2) {
        fs[k] = pool_frame(&frames[k]).unwrap();
        ls[k] = nestevo_evolve::compress::pool_label(&labels[k]).unwrap();
    }
    let x = student.batch_from_rgb_hw(&[fs[0].rgb.as_slice()], 48, 48);
    let out = student.forward(&x, false).unwrap();
    assert_eq!(out.hm.size()[2..], [12, 12]);
    let rep = distill(
        &mut student,
        &fs,
        &ls,
        &DistillConfig {
            steps: 3,
            batch: 4,
            lr: 1e-4,
            peak_thresholds: vec![0.3],
            soft: false,
            augment: false,
            seed: 1,
            context: "test".into(),
        },
    )
    .unwrap();
    assert!(rep.first_loss.is_finite() && rep.last_loss.is_finite());
    // A mutual-learning pair on the same mixed set, the intermediate on box targets built on
    // each size's grid.
    use nestevo_evolve::coevolve::{copy_model, train_pair, PairConfig};
    let mut mid = copy_model(&teacher, "mid").unwrap();
    let rep = train_pair(
        &mut student,
        &mut mid,
        &fs,
        &ls,
        None,
        &PairConfig {
            steps: 2,
            lr: 1e-4,
            beta: 0.8,
            mu: 0.02,
            seed: 2,
            ..crate::common::pair_config("test")
        },
    )
    .unwrap();
    assert!(rep.local_last.is_finite() && rep.mid_last.is_finite());
}
