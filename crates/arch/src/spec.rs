//! The accelerator description. Field names are the keys of the TOML files in `arch/` and of
//! `--set section.key=value`; units are in the names where a number has one.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub chip: ChipSpec,
    pub tile: TileSpec,
    pub ima: ImaSpec,
    pub crossbar: CrossbarSpec,
    pub data: DataSpec,
    pub dac: DacSpec,
    pub adc: AdcSpec,
    pub encoding: EncodingSpec,
    pub timing: TimingSpec,
    /// Power of one unit of each component, in mW.
    pub power_mw: ComponentFigures,
    /// Area of one unit of each component, in mm^2.
    pub area_mm2: ComponentFigures,
    /// What the cells really hold: device laws applied at programming (none: ideal cells).
    #[serde(default)]
    pub device: DeviceSpec,
}

/// The device laws of the crossbars' cells, applied in order while programming conductances
/// (`nestevo_device`: programming, read, stuck, drift, table). A description without them has
/// ideal cells; a run with laws takes the analogue path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    #[serde(default)]
    pub laws: Vec<nestevo_device::LawSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChipSpec {
    pub tiles: u32,
    pub ht_links: u32,
    /// Bandwidth of one HyperTransport link, GB/s.
    pub ht_link_gb_per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileSpec {
    pub imas: u32,
    pub edram_kb: u32,
    pub edram_banks: u32,
    pub edram_bus_bits: u32,
    /// Wires of the shared eDRAM-to-IMA bus.
    pub ima_bus_wires: u32,
    pub output_register_kb: u32,
    pub shift_add_units: u32,
    pub sigmoid_units: u32,
    pub maxpool_units: u32,
    /// Tiles that share one router (its power and area are split between them).
    pub tiles_per_router: u32,
    pub router_flit_bits: u32,
    pub router_ports: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImaSpec {
    pub crossbars: u32,
    /// ADCs per IMA; each crossbar's columns share its ADC(s).
    pub adcs: u32,
    pub shift_add_units: u32,
    pub input_register_kb: u32,
    pub output_register_bytes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossbarSpec {
    pub rows: u32,
    pub cols: u32,
    pub bits_per_cell: u32,
    /// A column of ones that reports `sum_r x_b[r]`, needed to undo column flipping.
    #[serde(default = "yes")]
    pub unit_column: bool,
    /// Conductance of a cell at level 0, in uS (cell-level noise works in conductance).
    #[serde(default = "default_g_min")]
    pub g_min_us: f64,
    /// Conductance of a cell at its top level, in uS.
    #[serde(default = "default_g_max")]
    pub g_max_us: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    pub weight_bits: u32,
    pub input_bits: u32,
    /// How the float weights map onto the integer range: one scale per layer (ISAAC) or one
    /// per crossbar column, i.e. per output channel (aihwkit's column-wise weight scaling).
    /// Absent from a file: per layer; written out only when it is not the default, so older
    /// descriptions and run records read back unchanged.
    #[serde(default, skip_serializing_if = "WeightScale::is_layer")]
    pub weight_scale: WeightScale,
}

/// The weights' quantisation scale (`data.weight_scale`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightScale {
    /// s_w = max|W| / (2^(bits-1) - 1) over the whole layer (each group of a grouped conv its
    /// own): one multiply per output after the shift-and-add, as ISAAC has it.
    #[default]
    Layer,
    /// `s_w[n] = max_k |W[k, n]| / (2^(bits-1) - 1)` for each output column n: a column whose
    /// weights are small keeps its full 2^(bits-1) - 1 levels. The rescale is still one multiply
    /// per output, by that column's scale.
    Column,
}

impl WeightScale {
    pub fn as_str(self) -> &'static str {
        match self {
            WeightScale::Layer => "layer",
            WeightScale::Column => "column",
        }
    }
    pub fn is_layer(&self) -> bool {
        *self == WeightScale::Layer
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DacSpec {
    /// Input bits applied per crossbar cycle (ISAAC: 1).
    pub bits: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdcRange {
    /// LSB = one cell step; codes above 2^bits - 1 saturate.
    Exact,
    /// Full scale = the largest sum a column can deliver, split into 2^bits - 1 steps.
    Calibrated,
}

impl AdcRange {
    pub fn as_str(self) -> &'static str {
        match self {
            AdcRange::Exact => "exact",
            AdcRange::Calibrated => "calibrated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdcSpec {
    pub bits: u32,
    pub range: AdcRange,
    /// Conversions per second of one ADC, in GS/s.
    pub sample_rate_gs_per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncodingSpec {
    /// Store 3 - c in a column whose sum would exceed half the full scale (ISAAC's flip).
    pub flip: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingSpec {
    /// One crossbar read (one input bit-slice through every column), ns.
    pub crossbar_read_ns: f64,
    /// Stages of the IMA pipeline, counted in crossbar cycles.
    pub ima_pipeline_cycles: u32,
    pub digital_clock_ghz: f64,
}

/// Per-unit figures (power in mW or area in mm^2) of each component. The counts come from the
/// structure (ADCs per IMA, IMAs per tile, ...), so changing a count moves the totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentFigures {
    /// One ADC.
    pub adc: f64,
    /// One 1-bit DAC (one per crossbar row).
    pub dac: f64,
    /// One sample-and-hold (one per crossbar column).
    pub sample_hold: f64,
    /// One crossbar array.
    pub crossbar: f64,
    /// One shift-and-add unit inside an IMA.
    pub ima_shift_add: f64,
    /// The IMA input register.
    pub ima_input_register: f64,
    /// The IMA output register.
    pub ima_output_register: f64,
    /// The tile's eDRAM buffer.
    pub edram: f64,
    /// The tile's eDRAM-IMA bus.
    pub edram_bus: f64,
    /// One whole router (shared by `tile.tiles_per_router` tiles).
    pub router: f64,
    /// One sigmoid unit.
    pub sigmoid: f64,
    /// The tile's shift-and-add unit.
    pub tile_shift_add: f64,
    /// One max-pool unit.
    pub maxpool: f64,
    /// The tile output register.
    pub tile_output_register: f64,
    /// All HyperTransport links of the chip together.
    pub hyper_transport: f64,
}

fn yes() -> bool {
    true
}
fn default_g_min() -> f64 {
    1.0
}
fn default_g_max() -> f64 {
    100.0
}

impl ArchSpec {
    /// Cells that hold one weight (ISAAC: 16 / 2 = 8).
    pub fn slices_per_weight(&self) -> u32 {
        self.data.weight_bits / self.crossbar.bits_per_cell
    }
    /// Crossbar reads (cycles) per input vector (ISAAC: 16 / 1 = 16).
    pub fn cycles_per_input(&self) -> u32 {
        self.data.input_bits.div_ceil(self.dac.bits)
    }
    /// Highest level of one cell (ISAAC: 3).
    pub fn cell_max(&self) -> u32 {
        (1u32 << self.crossbar.bits_per_cell) - 1
    }
    /// Highest level of one DAC input slice (ISAAC: 1).
    pub fn dac_max(&self) -> u32 {
        (1u32 << self.dac.bits) - 1
    }
    /// Largest sum one column can deliver in one read, in cell steps. With flipping the
    /// unit column (sum of the input slices) goes through the same ADC, so it counts too.
    pub fn max_column_sum(&self) -> u64 {
        let rows = self.crossbar.rows as u64;
        let dac = self.dac_max() as u64;
        let stored = rows * self.cell_max() as u64;
        if self.encoding.flip {
            (stored / 2 * dac).max(rows * dac)
        } else {
            stored * dac
        }
    }
    /// Smallest ADC width that never saturates in the exact range.
    pub fn lossless_adc_bits(&self) -> u32 {
        64 - self.max_column_sum().leading_zeros()
    }
    /// Outputs (weights) held by one crossbar's columns.
    pub fn outputs_per_crossbar(&self) -> u32 {
        self.crossbar.cols / self.slices_per_weight()
    }
    /// The device laws, built and checked against the cells (`device.laws.N.key` in errors).
    pub fn device_laws(
        &self,
        source: &str,
    ) -> Result<Vec<std::sync::Arc<dyn nestevo_device::CellLaw>>, crate::ArchError> {
        let at = |e: nestevo_device::DeviceError| {
            crate::ArchError::new(
                source,
                format!("device.laws.{}", e.field),
                e.value,
                e.allowed,
            )
        };
        let laws = nestevo_device::build_all(&self.device.laws).map_err(at)?;
        for (i, law) in laws.iter().enumerate() {
            law.check(
                self.crossbar.g_min_us,
                self.crossbar.g_max_us,
                self.cell_max(),
            )
            .map_err(|e| at(e.within(&i.to_string())))?;
        }
        Ok(laws)
    }
    pub fn crossbars_per_chip(&self) -> u64 {
        self.chip.tiles as u64 * self.tile.imas as u64 * self.ima.crossbars as u64
    }
}
