//! The LibTorch labeller: the global model on the trainer's device behind
//! `couple::label::Labeller`, plus the drift statistics its labels give.

use super::drift::{pool_box, FeatureStats};
use super::error::{EvolveError, Result};
use ndarray::Array3;
use nestevo_couple::label::{
    FeatureMap, LabelError, LabelRequest, Labelled, Labeller, PseudoBox, SoftOutputs,
};
use nestevo_data::Frame;
use nestevo_train::decode::{decode, DecodeConfig};
use nestevo_train::detector::Detector;
use tch::{Kind, Tensor};

/// Frames per forward pass.
const BATCH: usize = 32;

pub struct TorchLabeller<'a> {
    pub model: &'a Detector,
}

impl<'a> TorchLabeller<'a> {
    pub fn new(model: &'a Detector) -> Self {
        Self { model }
    }

    /// Index and stride (input pixels per cell) of layer `name`.
    fn layer(&self, name: &str) -> std::result::Result<(usize, f32), LabelError> {
        let d = &self.model.desc;
        let i = d.index_of(name).ok_or_else(|| {
            let names: Vec<&str> = d.layers.iter().map(|l| l.name.as_str()).collect();
            LabelError::BadInput(format!(
                "model {}: no layer `{name}` to take features from; layers: {}",
                d.name,
                names.join(", ")
            ))
        })?;
        let shapes = d.shapes().map_err(|e| LabelError::Fault(e.to_string()))?;
        Ok((i, d.input[1] as f32 / shapes[i][1] as f32))
    }
}

fn to_array3(t: &Tensor) -> Array3<f32> {
    let s = t.size();
    let v = Vec::<f32>::try_from(
        t.to_device(tch::Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .reshape(-1),
    )
    .expect("f32 tensor");
    Array3::from_shape_vec((s[0] as usize, s[1] as usize, s[2] as usize), v).expect("shape")
}

impl Labeller for TorchLabeller<'_> {
    fn describe(&self) -> String {
        format!(
            "{} on {:?} (LibTorch)",
            self.model.desc.name,
            self.model.vs.device()
        )
    }

    fn label(
        &self,
        frames: &[Frame],
        req: &LabelRequest,
    ) -> std::result::Result<Vec<Labelled>, LabelError> {
        let m = self.model;
        let [_, h, w] = m.input_chw();
        let layer = req
            .feature_layer
            .as_deref()
            .map(|n| self.layer(n))
            .transpose()?;
        let cfg = DecodeConfig {
            min_score: req.min_score,
            stride: m.stride,
            ..Default::default()
        };
        let _guard = tch::no_grad_guard();
        let mut out = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(BATCH) {
            if let Some(f) = chunk.iter().find(|f| f.width != w || f.height != h) {
                return Err(LabelError::BadInput(format!(
                    "model {}: frame {} is {}x{}, the model takes {w}x{h}",
                    m.desc.name, f.index, f.width, f.height
                )));
            }
            let rgb: Vec<&[u8]> = chunk.iter().map(|f| f.rgb.as_slice()).collect();
            let x = m.batch_from_rgb(&rgb);
            let fault = |e: nestevo_train::TrainError| LabelError::Fault(e.to_string());
            let (heads, feats) = match layer {
                Some((i, _)) => {
                    let (h, f) = m.forward_features(&x, false, i).map_err(fault)?;
                    (h, Some(f))
                }
                None => (m.forward(&x, false).map_err(fault)?, None),
            };
            let ids: Vec<u64> = (0..chunk.len() as u64).collect();
            let mut boxes = vec![Vec::new(); chunk.len()];
            for d in decode(&heads, &ids, (h, w), &cfg) {
                boxes[d.image_id as usize].push(PseudoBox {
                    class: d.class,
                    score: d.score,
                    x0: d.x0,
                    y0: d.y0,
                    x1: d.x1,
                    y1: d.y1,
                });
            }
            for (b, (f, bx)) in chunk.iter().zip(boxes).enumerate() {
                let b = b as i64;
                out.push(Labelled {
                    frame: f.index,
                    boxes: bx,
                    soft: SoftOutputs {
                        hm: to_array3(&heads.hm.get(b)),
                        wh: to_array3(&heads.wh.get(b)),
                        off: to_array3(&heads.off.get(b)),
                        stride: m.stride,
                    },
                    features: match (&feats, layer) {
                        (Some(t), Some((_, stride))) => Some(FeatureMap {
                            layer: req.feature_layer.clone().unwrap_or_default(),
                            data: to_array3(&t.get(b)),
                            stride,
                        }),
                        _ => None,
                    },
                });
            }
        }
        Ok(out)
    }
}

/// Per-class drift statistics of labelled frames: each pseudo box pools the features it
/// covers (`drift::pool_box`). Every `Labelled` must carry features of one layer.
pub fn feature_stats(labels: &[Labelled], classes: usize) -> Result<FeatureStats> {
    let Some(first) = labels.iter().find_map(|l| l.features.as_ref()) else {
        return Err(EvolveError::BadInput(
            "drift statistics need labels with features (LabelRequest::feature_layer)".into(),
        ));
    };
    let (c, _, _) = first.data.dim();
    let mut stats = FeatureStats::new(&first.layer, classes, c);
    for l in labels {
        let f = l.features.as_ref().ok_or_else(|| {
            EvolveError::BadInput(format!(
                "drift statistics: frame {} has no features",
                l.frame
            ))
        })?;
        let (c, h, w) = f.data.dim();
        let data = f.data.as_standard_layout();
        let flat = data.as_slice().expect("standard layout");
        for b in &l.boxes {
            let v = pool_box(flat, [c, h, w], f.stride, [b.x0, b.y0, b.x1, b.y1]);
            stats.add(b.class, &v)?;
        }
    }
    Ok(stats)
}

/// A `TorchLabeller` that owns its model (a copy of the global model), so that the edge can
/// keep it beside a labeller of another kind behind one `Box<dyn Labeller>`.
pub struct OwnedTorchLabeller(pub Detector);

impl Labeller for OwnedTorchLabeller {
    fn describe(&self) -> String {
        TorchLabeller::new(&self.0).describe()
    }

    fn label(
        &self,
        frames: &[Frame],
        req: &LabelRequest,
    ) -> std::result::Result<Vec<Labelled>, LabelError> {
        TorchLabeller::new(&self.0).label(frames, req)
    }
}

/// The drift statistics of `frames` source frames (the trainer's frame pool on `seed`),
/// labelled 256 at a time and merged.
pub fn source_stats(
    lab: &TorchLabeller<'_>,
    frames: usize,
    seed: u64,
    req: &LabelRequest,
) -> Result<FeatureStats> {
    let mut pool = nestevo_train::frames::FramePool::new(nestevo_data::StreamId::Source, seed);
    let mut stats = None;
    let mut left = frames;
    while left > 0 {
        let n = left.min(256);
        left -= n;
        let labels = lab.label(&pool.sample(n), req)?;
        let s = feature_stats(&labels, nestevo_data::CLASSES.len())?;
        stats = Some(match stats {
            None => s,
            Some(acc) => super::drift::merge(&acc, &s)?,
        });
    }
    stats.ok_or_else(|| EvolveError::BadInput("--frames must be at least 1".into()))
}
