//! Range and consistency checks: an invalid description never reaches the simulator.

use super::{ArchError, ArchSpec};

pub(super) fn validate(s: &ArchSpec, file: &str) -> Result<(), ArchError> {
    let err = |field: &str, value: &dyn std::fmt::Display, allowed: &str| {
        Err(ArchError::new(file, field, value, allowed))
    };
    let in_range = |field: &str, v: u32, lo: u32, hi: u32| -> Result<(), ArchError> {
        if v < lo || v > hi {
            return err(field, &v, &format!("allowed: {lo}..={hi}"));
        }
        Ok(())
    };
    in_range("crossbar.rows", s.crossbar.rows, 1, 4096)?;
    in_range("crossbar.cols", s.crossbar.cols, 1, 4096)?;
    in_range("crossbar.bits_per_cell", s.crossbar.bits_per_cell, 1, 8)?;
    in_range("data.weight_bits", s.data.weight_bits, 2, 16)?;
    // The kernels take up to 24 input bits (`nestevo_kernels::MAX_INPUT_BITS`).
    in_range("data.input_bits", s.data.input_bits, 1, 24)?;
    in_range("dac.bits", s.dac.bits, 1, 8)?;
    in_range("adc.bits", s.adc.bits, 1, 16)?;
    if !s.data.weight_bits.is_multiple_of(s.crossbar.bits_per_cell) {
        return err(
            "data.weight_bits",
            &s.data.weight_bits,
            &format!(
                "must be a multiple of crossbar.bits_per_cell = {}",
                s.crossbar.bits_per_cell
            ),
        );
    }
    if s.crossbar.cols < s.slices_per_weight() {
        return err(
            "crossbar.cols",
            &s.crossbar.cols,
            &format!(
                "must be at least the slices per weight (data.weight_bits / crossbar.bits_per_cell = {})",
                s.slices_per_weight()
            ),
        );
    }
    if s.dac.bits > s.data.input_bits {
        return err(
            "dac.bits",
            &s.dac.bits,
            &format!("must not exceed data.input_bits = {}", s.data.input_bits),
        );
    }
    if !s.data.input_bits.is_multiple_of(s.dac.bits) {
        return err(
            "dac.bits",
            &s.dac.bits,
            &format!("must divide data.input_bits = {}", s.data.input_bits),
        );
    }
    if s.encoding.flip && !s.crossbar.unit_column {
        return err(
            "encoding.flip",
            &true,
            "flipping needs crossbar.unit_column = true to recover flipped sums",
        );
    }
    for (field, v) in [
        ("chip.tiles", s.chip.tiles),
        ("tile.imas", s.tile.imas),
        ("tile.tiles_per_router", s.tile.tiles_per_router),
        ("ima.crossbars", s.ima.crossbars),
        ("ima.adcs", s.ima.adcs),
        ("ima.shift_add_units", s.ima.shift_add_units),
        ("timing.ima_pipeline_cycles", s.timing.ima_pipeline_cycles),
    ] {
        if v == 0 {
            return err(field, &v, "must be at least 1");
        }
    }
    for (field, v) in [
        ("crossbar.g_min_us", s.crossbar.g_min_us),
        ("adc.sample_rate_gs_per_s", s.adc.sample_rate_gs_per_s),
        ("timing.crossbar_read_ns", s.timing.crossbar_read_ns),
        ("timing.digital_clock_ghz", s.timing.digital_clock_ghz),
        ("chip.ht_link_gb_per_s", s.chip.ht_link_gb_per_s),
    ] {
        if !v.is_finite() || v < 0.0 || (v == 0.0 && field != "crossbar.g_min_us") {
            return err(field, &v, "must be a finite number > 0");
        }
    }
    if !(s.crossbar.g_max_us.is_finite() && s.crossbar.g_max_us > s.crossbar.g_min_us) {
        return err(
            "crossbar.g_max_us",
            &s.crossbar.g_max_us,
            &format!(
                "must be finite and above crossbar.g_min_us = {}",
                s.crossbar.g_min_us
            ),
        );
    }
    for (section, figs) in [("power_mw", &s.power_mw), ("area_mm2", &s.area_mm2)] {
        let v = toml::Value::try_from(figs).expect("figures serialise");
        for (k, x) in v.as_table().expect("a table") {
            let x = x.as_float().unwrap_or(f64::NAN);
            if !x.is_finite() || x < 0.0 {
                return err(
                    &format!("{section}.{k}"),
                    &x,
                    "must be a finite number >= 0",
                );
            }
        }
    }
    s.device_laws(file)?;
    Ok(())
}
