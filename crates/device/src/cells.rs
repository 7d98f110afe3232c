use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::sync::Arc;

/// One crossbar's cells while it is programmed: conductances in uS and stored levels, both
/// row-major `[rows][cols]` (the last column is the unit column where the crossbar has one).
pub struct Cells<'a> {
    pub g: &'a mut [f64],
    pub levels: &'a [u8],
    pub rows: usize,
    pub cols: usize,
    /// Conductance of level 0 and of the top level, uS.
    pub g_min: f64,
    pub g_max: f64,
    /// Highest level of a cell (2-bit cells: 3).
    pub cell_max: u32,
}

impl Cells<'_> {
    /// The nominal conductance of `level`: g_min + level * (g_max - g_min) / cell_max, which is
    /// what the periphery assumes when it converts a current back to a level.
    pub fn nominal(&self, level: u8) -> f64 {
        self.g_min + level as f64 * ((self.g_max - self.g_min) / self.cell_max as f64)
    }
}

/// A device law: how programming (and reading) changes a cell's conductance. One file per law;
/// a law added touches only its own file and its line in the registry.
pub trait CellLaw: Send + Sync + fmt::Debug {
    /// The name it is selected by.
    fn name(&self) -> &'static str;

    /// Changes one crossbar's conductances in place, at programming time. Every draw comes from
    /// `rng`, the law's own stream for this crossbar.
    fn program(&self, cells: &mut Cells<'_>, rng: &mut ChaCha8Rng);

    /// Fresh noise on every read: sigma as a fraction of g_max - g_min (0: none).
    fn read_mu(&self) -> f64 {
        0.0
    }

    /// Refuses a crossbar the law cannot describe (a table without a level the cells use).
    fn check(&self, _g_min: f64, _g_max: f64, _cell_max: u32) -> Result<(), super::DeviceError> {
        Ok(())
    }
}

/// Applies `laws` in order to crossbar `index`. Law i draws from ChaCha8(`seed`), stream
/// `index + i * 2^40`: law 0 keeps the stream the kernels always used, so a list that starts
/// with the programming law draws what `--noise cell` drew before laws were plug-ins.
pub fn program_crossbar(laws: &[Arc<dyn CellLaw>], cells: &mut Cells<'_>, seed: u64, index: u64) {
    for (i, law) in laws.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(index + ((i as u64) << 40));
        law.program(cells, &mut rng);
    }
}
