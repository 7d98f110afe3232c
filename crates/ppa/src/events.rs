//! Event counts predicted for one layer, with the same definitions as the crossbar simulator's
//! measured `cim::LayerStats`, so the two can be compared field by field.

use nestevo_arch::ArchSpec;
use serde::Serialize;

/// Crossbar-side events of one layer (all frames' worth is `vectors` input vectors).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MatrixEvents {
    /// Crossbars per copy: ceil(K/rows) * ceil(N / floor(cols/slices)).
    pub crossbars: u64,
    /// crossbars * cycles_per_input * vectors.
    pub crossbar_reads: u64,
    /// K * column tiles * cycles * vectors (each row tile's rows, once per column tile).
    pub dac_pulses: u64,
    /// Sum over crossbars of (used data columns + 1 with flipping) * cycles * vectors.
    pub adc_conversions: u64,
    /// Data-column conversions (the unit column needs no shift-and-add).
    pub shift_adds: u64,
    /// Input vectors: output pixels of a conv, 1 per frame for a linear layer.
    pub vectors: u64,
    /// K * N * vectors.
    pub macs: u64,
}

impl MatrixEvents {
    /// Field-wise sum (the groups of a grouped conv).
    pub fn add(&self, o: &MatrixEvents) -> MatrixEvents {
        MatrixEvents {
            crossbars: self.crossbars + o.crossbars,
            crossbar_reads: self.crossbar_reads + o.crossbar_reads,
            dac_pulses: self.dac_pulses + o.dac_pulses,
            adc_conversions: self.adc_conversions + o.adc_conversions,
            shift_adds: self.shift_adds + o.shift_adds,
            vectors: self.vectors.max(o.vectors),
            macs: self.macs + o.macs,
        }
    }
}

/// The events of a K x N matrix applied to `vectors` input vectors.
pub fn matrix_events(a: &ArchSpec, k: u64, n: u64, vectors: u64) -> MatrixEvents {
    let rows = a.crossbar.rows as u64;
    let slices = a.slices_per_weight() as u64;
    let outs = a.outputs_per_crossbar() as u64;
    let cycles = a.cycles_per_input() as u64;
    let row_tiles = k.div_ceil(rows);
    let col_tiles = n.div_ceil(outs);
    let crossbars = row_tiles * col_tiles;
    // Every row tile holds all N outputs' slices: N * slices data columns in use.
    let data_cols = row_tiles * n * slices;
    let unit_cols = if a.encoding.flip { crossbars } else { 0 };
    let per_vector = cycles * vectors;
    MatrixEvents {
        crossbars,
        crossbar_reads: crossbars * per_vector,
        dac_pulses: k * col_tiles * per_vector,
        adc_conversions: (data_cols + unit_cols) * per_vector,
        shift_adds: data_cols * per_vector,
        vectors,
        macs: k * n * vectors,
    }
}

/// All events of one layer per frame: the crossbar side plus digital and data movement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LayerEvents {
    #[serde(flatten)]
    pub matrix: MatrixEvents,
    /// Input bits read from the tile eDRAM (K inputs per vector, no reuse across windows).
    pub edram_read_bits: u64,
    /// Output bits written to the consumer's eDRAM (requantised to input_bits).
    pub edram_write_bits: u64,
    /// Bits on the eDRAM-IMA bus (the inputs, broadcast once to the IMAs of a copy).
    pub bus_bits: u64,
    /// Output bits sent over the on-chip network to the next layer's tile.
    pub router_bits: u64,
    /// Partial sums of row tiles merged by the tile's shift-and-add.
    pub tile_shift_adds: u64,
    /// Element operations of pooling, ReLU, residual add and global pooling in the tile.
    pub digital_ops: u64,
}
