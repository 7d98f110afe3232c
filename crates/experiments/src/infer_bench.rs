//! Measured LibTorch inference of a detector on N frames, split as the paper's Table 6:
//! loading the model (checkpoint to a network on the device), moving the frames to the device,
//! inferring (forward passes, synchronised on CUDA), and the device memory the run holds
//! (weights, and the largest batch's activations from the description's shapes; on CUDA no
//! allocator statistics are read, so the figure is the tensors' own size).

use nestevo_data::Frame;
use nestevo_eval::Detection;
use nestevo_model::ModelDesc;
use nestevo_train::checkpoint::load;
use nestevo_train::decode::{decode, DecodeConfig};
use nestevo_train::detector::Detector;
use nestevo_train::Result;
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// What one measured run took.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InferTiming {
    pub device: String,
    pub frames: usize,
    pub batch: usize,
    /// Checkpoint read and network built on the device, s.
    pub load_s: f64,
    /// Frames (u8 RGB) to float tensors on the device, s.
    pub move_s: f64,
    /// Forward passes, s.
    pub infer_s: f64,
    /// Weights and batch-norm statistics on the device, bytes.
    pub weights_bytes: u64,
    /// Every layer's output of one batch (f32), the activations a forward holds at most, bytes.
    pub activation_bytes: u64,
}

fn sync(d: Device) {
    if let Device::Cuda(i) = d {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Bytes of every layer's f32 output for `batch` frames.
pub fn activation_bytes(desc: &ModelDesc, batch: usize) -> Result<u64> {
    let per: usize = desc
        .shapes()?
        .iter()
        .map(|s| s.iter().product::<usize>())
        .sum();
    Ok((per * batch * 4) as u64)
}

fn weights_bytes(m: &Detector) -> u64 {
    m.vs.variables()
        .values()
        .map(|t| t.numel() as u64 * 4)
        .sum()
}

/// Times `forward` over frames already as u8 RGB slices; returns detections when asked.
fn run(
    m: &Detector,
    rgb: &[&[u8]],
    ids: &[u64],
    batch: usize,
    decode_too: bool,
) -> Result<(f64, f64, Vec<Detection>)> {
    let _g = tch::no_grad_guard();
    let d = m.vs.device();
    let [_, h, w] = m.input_chw();
    let cfg = DecodeConfig {
        stride: m.stride,
        ..Default::default()
    };
    let (mut move_s, mut infer_s, mut dets) = (0.0, 0.0, Vec::new());
    for (chunk, id) in rgb.chunks(batch).zip(ids.chunks(batch)) {
        let t0 = Instant::now();
        let x = m.batch_from_rgb(chunk);
        sync(d);
        let t1 = Instant::now();
        let out = m.forward(&x, false)?;
        let _ = out.hm.sum(Kind::Float).double_value(&[]);
        sync(d);
        let t2 = Instant::now();
        move_s += (t1 - t0).as_secs_f64();
        infer_s += (t2 - t1).as_secs_f64();
        if decode_too {
            dets.extend(decode(&out, id, (h, w), &cfg));
        }
    }
    Ok((move_s, infer_s, dets))
}

/// A checkpoint on `device`, timed on `frames` (their detections returned for scoring).
pub fn time_checkpoint(
    weights: &Path,
    device: Device,
    frames: &[Frame],
    batch: usize,
) -> Result<(InferTiming, Vec<Detection>)> {
    nestevo_core::check!(batch >= 1, "--batch must be at least 1");
    let t0 = Instant::now();
    let (m, _) = load(weights, device)?;
    sync(device);
    let load_s = t0.elapsed().as_secs_f64();
    let rgb: Vec<&[u8]> = frames.iter().map(|f| f.rgb.as_slice()).collect();
    let ids: Vec<u64> = frames.iter().map(|f| f.index).collect();
    // One untimed batch first: LibTorch's first call allocates and picks kernels.
    run(&m, &rgb[..batch.min(rgb.len())], &ids, batch, false)?;
    let (move_s, infer_s, dets) = run(&m, &rgb, &ids, batch, true)?;
    Ok((
        InferTiming {
            device: format!("{device:?}"),
            frames: frames.len(),
            batch,
            load_s,
            move_s,
            infer_s,
            weights_bytes: weights_bytes(&m),
            activation_bytes: activation_bytes(&m.desc, batch.min(frames.len().max(1)))?,
        },
        dets,
    ))
}

/// A description with fresh weights (no checkpoint: the mapper-only comparison's network),
/// timed on `frames` random frames; load_s is the build time.
pub fn time_description(
    desc: &ModelDesc,
    device: Device,
    frames: usize,
    batch: usize,
) -> Result<InferTiming> {
    nestevo_core::check!(
        batch >= 1 && frames >= 1,
        "frames and batch must be at least 1"
    );
    tch::manual_seed(0);
    let shapes = desc.shapes()?;
    let classes = desc
        .outputs
        .first()
        .and_then(|n| desc.index_of(n))
        .map_or(1, |i| shapes[i][0]);
    let t0 = Instant::now();
    let m = Detector::new(desc, classes, device)?;
    sync(device);
    let load_s = t0.elapsed().as_secs_f64();
    let [c, h, w] = desc.input;
    let buf: Vec<Vec<u8>> = (0..frames)
        .map(|_| {
            let x = Tensor::randint(256, [(c * h * w) as i64], (Kind::Uint8, Device::Cpu));
            Vec::<u8>::try_from(x).expect("u8")
        })
        .collect();
    let rgb: Vec<&[u8]> = buf.iter().map(|v| v.as_slice()).collect();
    let ids: Vec<u64> = (0..frames as u64).collect();
    run(&m, &rgb[..batch.min(frames)], &ids, batch, false)?;
    let (move_s, infer_s, _) = run(&m, &rgb, &ids, batch, false)?;
    Ok(InferTiming {
        device: format!("{device:?}"),
        frames,
        batch,
        load_s,
        move_s,
        infer_s,
        weights_bytes: weights_bytes(&m),
        activation_bytes: activation_bytes(desc, batch.min(frames))?,
    })
}
