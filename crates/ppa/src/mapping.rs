//! Placing a network on crossbar chips: crossbars per layer copy, replication to balance the
//! pipeline, IMAs/tiles/chips used and the traffic between chips.
//!
//! Policy (ISAAC's, generalised): every conv/linear layer gets its own IMAs; a layer with v
//! input vectors per frame gets ceil(v / T) copies, so no layer needs more than T vector slots
//! per frame. With T = the last conv's vectors this is ISAAC's rule working back from the last
//! layer (a layer before a 2x2 pool gets 4x the copies of the one after it). T is the smallest
//! value whose copies fit the chips; the chip count is the fewest that hold one copy of every
//! layer, so a network too large for one chip spans chips (never reprograms) and pays for it
//! in HyperTransport traffic, extra area and static power.

use super::events::{matrix_events, LayerEvents, MatrixEvents};
use nestevo_arch::ArchSpec;
use nestevo_model::{Act, ModelDesc, ModelError, Op, Step};
use serde::Serialize;

/// One conv/linear layer as placed.
#[derive(Debug, Clone, Serialize)]
pub struct LayerMap {
    /// Index into `ModelDesc::layers`.
    pub layer: usize,
    pub name: String,
    pub op: &'static str,
    pub k: u64,
    pub n: u64,
    pub groups: u64,
    /// Input vectors per frame.
    pub vectors: u64,
    /// Elements of the layer's input feature map (C*H*W), for traffic between chips.
    pub input_elems: u64,
    pub crossbars_per_copy: u64,
    pub copies: u64,
    /// copies * crossbars_per_copy.
    pub crossbars: u64,
    /// Whole IMAs the copies occupy (IMAs are not shared between layers).
    pub imas: u64,
    /// Global index of the layer's first IMA (chip-major), and the chips it spans.
    pub first_ima: u64,
    pub first_chip: u64,
    pub last_chip: u64,
    /// Weight cells stored / cells of the crossbars of one copy.
    pub cell_utilisation: f64,
    /// Element operations of the digital layers that follow it, done in its tile (see
    /// [`digital_cost`]).
    pub digital_ops: u64,
    /// The part of `digital_ops` that takes time of its own (not streamed with the outputs).
    pub timed_digital_ops: u64,
    /// Crossbar events of one copy set per frame (all groups).
    pub events: MatrixEvents,
}

/// All per-frame events of a placed layer. Inputs are read from eDRAM and sent over the bus
/// once per vector (no window reuse is modelled); outputs are requantised to input_bits and
/// written to the consumer's eDRAM over the on-chip network.
pub fn layer_events(a: &ArchSpec, l: &LayerMap) -> LayerEvents {
    let bits = a.data.input_bits as u64;
    let inputs = l.groups * l.k * l.vectors;
    let outputs = l.groups * l.n * l.vectors;
    let row_tiles = l.k.div_ceil(a.crossbar.rows as u64);
    LayerEvents {
        matrix: l.events,
        edram_read_bits: inputs * bits,
        edram_write_bits: outputs * bits,
        bus_bits: inputs * bits,
        router_bits: outputs * bits,
        tile_shift_adds: (row_tiles - 1) * outputs,
        digital_ops: l.digital_ops,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Mapping {
    pub layers: Vec<LayerMap>,
    pub chips: u64,
    /// T: the most vector slots (one input vector per copy, 16 crossbar reads) any layer needs
    /// per frame.
    pub slots_per_frame: u64,
    pub imas_used: u64,
    pub imas_available: u64,
    /// IMAs of different layers may share a tile: ceil(IMAs used / IMAs per tile).
    pub tiles_used: u64,
    pub crossbars_used: u64,
    pub crossbars_available: u64,
    /// Bits crossing chips per frame (inputs of layers placed away from their producer, and
    /// partial sums of layers split over chips).
    pub ht_bits_per_frame: u64,
    /// Every layer that is not on crossbars and does work, with its cost.
    pub digital: Vec<DigitalLayer>,
}

/// One digital layer's work per frame and the crossbar layer whose tile does it.
#[derive(Debug, Clone, Serialize)]
pub struct DigitalLayer {
    pub name: String,
    pub op: &'static str,
    pub ops: u64,
    /// Whether it takes time of its own (see [`digital_cost`]).
    pub timed: bool,
    /// Index into `Mapping::layers` of the owning crossbar layer.
    pub owner: usize,
}

impl Mapping {
    /// Crossbars holding weights / crossbars of the chips used.
    pub fn crossbar_utilisation(&self) -> f64 {
        self.crossbars_used as f64 / self.crossbars_available as f64
    }
}

/// Maps every conv/linear layer of `model` onto as few chips of `arch` as hold it.
pub fn map_network(a: &ArchSpec, model: &ModelDesc) -> Result<Mapping, ModelError> {
    let steps = model.walk()?;
    let mats = model.matrices()?;
    if mats.is_empty() {
        return Err(ModelError::new(
            &model.source,
            "",
            "layers",
            "no conv, linear or dense layer: nothing goes onto crossbars",
        ));
    }
    let xpi = a.ima.crossbars as u64;
    let chip_imas = a.chip.tiles as u64 * a.tile.imas as u64;
    let mut layers: Vec<LayerMap> = Vec::with_capacity(mats.len());
    for m in &mats {
        let ev = matrix_events(a, m.k as u64, m.n as u64, m.vectors as u64);
        let g = m.groups as u64;
        let xpc = ev.crossbars * g;
        let [c, h, w] = steps[m.layer].input();
        let cells = (m.k * m.n * m.groups) as f64 * a.slices_per_weight() as f64;
        layers.push(LayerMap {
            layer: m.layer,
            name: m.name.clone(),
            op: model.layers[m.layer].op.kind(),
            k: m.k as u64,
            n: m.n as u64,
            groups: g,
            vectors: m.vectors as u64,
            input_elems: (c * h * w) as u64,
            crossbars_per_copy: xpc,
            copies: 1,
            crossbars: xpc,
            imas: 0,
            first_ima: 0,
            first_chip: 0,
            last_chip: 0,
            cell_utilisation: cells
                / (xpc as f64 * a.crossbar.rows as f64 * a.crossbar.cols as f64),
            digital_ops: 0,
            timed_digital_ops: 0,
            events: MatrixEvents {
                crossbars: xpc,
                ..scale(&ev, g)
            },
        });
    }
    let digital = attach_digital_ops(&steps, &mut layers);

    let need = |t: u64| -> u64 {
        layers
            .iter()
            .map(|l| (l.vectors.div_ceil(t) * l.crossbars_per_copy).div_ceil(xpi))
            .sum()
    };
    let max_v = layers.iter().map(|l| l.vectors).max().unwrap_or(1);
    let chips = need(max_v).div_ceil(chip_imas).max(1);
    let cap = chips * chip_imas;
    // Smallest T in [1, max_v] with need(T) <= cap; need falls as T grows.
    let (mut lo, mut hi) = (1u64, max_v);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if need(mid) <= cap {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let t = lo;
    let mut next_ima = 0u64;
    for l in &mut layers {
        l.copies = l.vectors.div_ceil(t);
        l.crossbars = l.copies * l.crossbars_per_copy;
        l.imas = l.crossbars.div_ceil(xpi);
        l.first_ima = next_ima;
        l.first_chip = next_ima / chip_imas;
        l.last_chip = (next_ima + l.imas - 1) / chip_imas;
        next_ima += l.imas;
    }
    let ht_bits = chip_traffic_bits(a, &layers);
    Ok(Mapping {
        chips,
        slots_per_frame: t,
        imas_used: next_ima,
        imas_available: cap,
        tiles_used: next_ima.div_ceil(a.tile.imas as u64),
        crossbars_used: layers.iter().map(|l| l.crossbars).sum(),
        crossbars_available: cap * xpi,
        ht_bits_per_frame: ht_bits,
        layers,
        digital,
    })
}

fn scale(e: &MatrixEvents, g: u64) -> MatrixEvents {
    MatrixEvents {
        crossbars: e.crossbars * g,
        crossbar_reads: e.crossbar_reads * g,
        dac_pulses: e.dac_pulses * g,
        adc_conversions: e.adc_conversions * g,
        shift_adds: e.shift_adds * g,
        vectors: e.vectors,
        macs: e.macs * g,
    }
}

/// Element operations per frame of a layer that is not on crossbars, and whether they take
/// time of their own. One operation is one use of a tile's digital unit (ISAAC's max-pool
/// unit: one compare, add or multiply per clock), charged its power / clock. Stated costs:
///
/// | op | operations | timed |
/// |---|---|---|
/// | relu, relu6, add (per extra input), max/avg pool (per window element), gap (per input) | 1 per element | no: ISAAC streams them with the outputs |
/// | affine, sigmoid, hardsigmoid, tanh, erf | 1 per output (a table lookup, as ISAAC's sigmoid unit) | no: applied as the outputs stream out |
/// | hardswish, gelu | 2 per output (the lookup and a multiply) | no |
/// | mul | 1 per output | yes: it waits for both operands (an excitation gate needs the whole map pooled) |
/// | div | 4 per output | yes |
/// | reducemean | 1 per input + 1 per output | yes |
/// | softmax | 7 per element (max, subtract, exp as 4, sum; then a divide in the 7) | yes |
/// | layernorm | 7 per element (mean 1, variance 2, normalise 2, scale and shift 2) | yes |
/// | matmul of two computed tensors | 2 per multiply-accumulate | yes |
/// | pad, transpose, reshape, slice, concat, flatten, upsample, const, bn | 0 (addressing in eDRAM; bn is folded) | no |
///
/// Timed operations take ops / (the owner's tiles * digital units per tile * digital clock);
/// the owner's pipeline stage takes the longer of that and its crossbar time.
pub fn digital_cost(step: &Step<'_>) -> (u64, bool) {
    let [c, h, w] = step.out;
    let out = (c * h * w) as u64;
    let input = step.input().iter().product::<usize>() as u64;
    match step.op() {
        Op::Relu | Op::Relu6 => (out, false),
        Op::MaxPool { kernel, .. } | Op::AvgPool { kernel, .. } => {
            (out * (kernel * kernel) as u64, false)
        }
        Op::Add => (out * (step.inputs.len() as u64 - 1), false),
        Op::GlobalAvgPool => (input, false),
        Op::Act(f) => {
            let per = match f {
                Act::HardSwish | Act::Gelu => 2,
                _ => 1,
            };
            (out * per, false)
        }
        Op::Mul => (out, true),
        Op::Div => (out * 4, true),
        Op::ReduceMean { .. } => (input + out, true),
        Op::Softmax { .. } | Op::LayerNorm { .. } => (out * 7, true),
        Op::MatMul => (out * step.input()[2] as u64 * 2, true),
        _ => (0, false),
    }
}

/// Charges each digital layer's operations to the crossbar layer before it in the list (whose
/// tile runs them; the first one's for layers before any); bn is folded.
fn attach_digital_ops(steps: &[Step<'_>], layers: &mut [LayerMap]) -> Vec<DigitalLayer> {
    let mut owner = 0usize;
    let mut digital = Vec::new();
    for step in steps {
        let (i, l) = (step.index, step.layer);
        if let Some(j) = layers.iter().position(|m| m.layer == i) {
            owner = j;
            continue;
        }
        let (ops, timed) = digital_cost(step);
        layers[owner].digital_ops += ops;
        if timed {
            layers[owner].timed_digital_ops += ops;
        }
        if ops > 0 {
            digital.push(DigitalLayer {
                name: l.name.clone(),
                op: l.op.kind(),
                ops,
                timed,
                owner,
            });
        }
    }
    digital
}

/// HyperTransport bits per frame: a layer's input goes to every chip it occupies other than
/// the chip where the previous layer ends; a layer split over chips returns one set of
/// partial sums (weight_bits + input_bits wide) per extra chip.
fn chip_traffic_bits(a: &ArchSpec, layers: &[LayerMap]) -> u64 {
    let in_bits = a.data.input_bits as u64;
    let psum_bits = (a.data.weight_bits + a.data.input_bits) as u64;
    let mut src_chip = 0u64;
    let mut bits = 0u64;
    for l in layers {
        let spanned = l.last_chip - l.first_chip + 1;
        let remote = spanned - u64::from((l.first_chip..=l.last_chip).contains(&src_chip));
        bits += remote * l.input_elems * in_bits;
        bits += (spanned - 1) * l.n * l.groups * l.vectors * psum_bits;
        src_chip = l.last_chip;
    }
    bits
}
