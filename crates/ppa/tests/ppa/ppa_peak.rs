//! ISAAC-CE's published peak figures, and knobs moving them the way the arithmetic says.

use nestevo_arch::{apply_overrides, preset, ArchSpec};
use nestevo_ppa::peak;

fn isaac() -> ArchSpec {
    preset("isaac").unwrap()
}

fn with(sets: &[&str]) -> ArchSpec {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    apply_overrides(&isaac(), &sets, "test").unwrap()
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    ((got - want) / want).abs() <= rel
}

#[test]
fn isaac_ce_matches_table_i_and_iv() {
    let p = peak(&isaac());
    assert_eq!(p.crossbars, 168 * 12 * 8);
    assert_eq!(p.macs_per_crossbar, 2048);
    assert!(close(p.peak_tops, 41.29, 1e-3), "{} TOPS", p.peak_tops);
    assert!(close(p.gops_per_w, 627.5, 1e-3), "{} GOPS/W", p.gops_per_w);
    assert!(close(p.power_w, 65.8, 1e-3), "{} W", p.power_w);
    assert!(close(p.area_mm2, 85.4, 1e-3), "{} mm^2", p.area_mm2);
    assert!(
        close(p.gops_per_mm2, 478.95, 1e-2),
        "{} GOPS/s/mm^2",
        p.gops_per_mm2
    );
}

#[test]
fn more_rows_double_the_macs_and_add_dacs() {
    let (a, b) = (peak(&isaac()), peak(&with(&["crossbar.rows=256"])));
    assert!(close(b.peak_tops, 2.0 * a.peak_tops, 1e-12));
    // One more DAC per added row: 16128 crossbars * 128 rows * 3.90625 uW.
    let dac_w = 16128.0 * 128.0 * 0.00390625e-3;
    assert!(
        close(b.power_w - a.power_w, dac_w, 1e-9),
        "{}",
        b.power_w - a.power_w
    );
}

#[test]
fn more_columns_are_held_back_by_the_adc() {
    // 256 columns on one 1.28 GS/s ADC take 200 ns per read: twice the outputs, half the rate.
    let (a, b) = (peak(&isaac()), peak(&with(&["crossbar.cols=256"])));
    assert!(close(b.peak_tops, a.peak_tops, 1e-12));
    assert_eq!(b.macs_per_crossbar, 2 * a.macs_per_crossbar);
    // With two ADCs per crossbar the read time is back to 100 ns.
    let c = peak(&with(&["crossbar.cols=256", "ima.adcs=16"]));
    assert!(close(c.peak_tops, 2.0 * a.peak_tops, 1e-12));
}

#[test]
fn more_bits_per_cell_fewer_slices_more_outputs() {
    let (a, b) = (peak(&isaac()), peak(&with(&["crossbar.bits_per_cell=4"])));
    // 16 / 4 = 4 slices: 32 outputs per crossbar instead of 16; no component count changes.
    assert!(close(b.peak_tops, 2.0 * a.peak_tops, 1e-12));
    assert!(close(b.power_w, a.power_w, 1e-12));
    assert!(close(b.gops_per_w, 2.0 * a.gops_per_w, 1e-12));
}

#[test]
fn adc_count_moves_power_and_rate() {
    let a = peak(&isaac());
    let more = peak(&with(&["ima.adcs=16"]));
    assert!(
        close(more.peak_tops, a.peak_tops, 1e-12),
        "the crossbar read still takes 100 ns"
    );
    let adc_w = 2016.0 * 8.0 * 2.0e-3;
    assert!(close(more.power_w - a.power_w, adc_w, 1e-9));
    assert!(close(
        more.area_mm2 - a.area_mm2,
        2016.0 * 8.0 * 0.0012,
        1e-9
    ));
    let fewer = peak(&with(&["ima.adcs=4"]));
    assert!(
        close(fewer.peak_tops, a.peak_tops / 2.0, 1e-12),
        "128 columns per 0.5 ADC: 200 ns"
    );
    assert!(close(a.power_w - fewer.power_w, adc_w / 2.0, 1e-9));
}

#[test]
fn tiles_scale_everything_but_the_links() {
    let (a, b) = (peak(&isaac()), peak(&with(&["chip.tiles=336"])));
    assert!(close(b.peak_tops, 2.0 * a.peak_tops, 1e-12));
    let ht_w = 10.4;
    assert!(close(b.power_w - ht_w, 2.0 * (a.power_w - ht_w), 1e-9));
    assert!(close(b.area_mm2 - 22.88, 2.0 * (a.area_mm2 - 22.88), 1e-9));
}
