//! The evolution's pictures (PNG): each terminal's mAP@0.5 over stream time for each method,
//! with the co-evolution moments marked, and plain line charts for sweeps.

use nestevo_evolve::config::Experiment;
use nestevo_evolve::error::{EvolveError, Result};
use nestevo_evolve::method::Method;
use nestevo_evolve::run::WindowRecord;
use plotters::prelude::*;
use std::path::Path;

const COLOURS: [RGBColor; 7] = [
    RGBColor(200, 30, 30),
    RGBColor(30, 90, 200),
    RGBColor(20, 150, 60),
    RGBColor(200, 120, 0),
    RGBColor(130, 50, 170),
    RGBColor(0, 150, 160),
    RGBColor(90, 90, 90),
];

fn fail<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> EvolveError + '_ {
    move |e| EvolveError::Fault(format!("plotting {}: {e}", path.display()))
}

/// One panel per terminal: for each method the new model's mAP@0.5 on the segment after each
/// window (at the segment's middle, in seconds of stream time), the window's starting model as a
/// grey dashed line for the first method, and a triangle where the method co-evolved.
pub fn terminal_curves(
    path: &Path,
    e: &Experiment,
    runs: &[(Method, &[WindowRecord])],
) -> Result<()> {
    let f = fail(path);
    let n = e.terminals.len().max(1);
    let root = BitMapBackend::new(path, (960, 300 * n as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(&f)?;
    let panels = root.split_evenly((n, 1));
    let t = e.windows.t_total_s;
    let x_end = (e.windows.count as f64 + 1.0) * t;
    for (panel, term) in panels.iter().zip(&e.terminals) {
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("terminal {} (stream {})", term.id, term.stream),
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_end, 0.0..1.0)
            .map_err(&f)?;
        chart
            .configure_mesh()
            .x_desc("stream time (s)")
            .y_desc("mAP@0.5")
            .draw()
            .map_err(&f)?;
        for (m, (method, records)) in runs.iter().enumerate() {
            let c = COLOURS[m % COLOURS.len()];
            let mut rs: Vec<&WindowRecord> =
                records.iter().filter(|r| r.terminal == term.id).collect();
            rs.sort_by_key(|r| r.window);
            let at = |r: &WindowRecord| (r.window as f64 + 1.5) * t;
            if m == 0 {
                let before: Vec<(f64, f64)> = rs.iter().map(|r| (at(r), r.map50_before)).collect();
                chart
                    .draw_series(DashedLineSeries::new(
                        before,
                        4,
                        4,
                        RGBColor(150, 150, 150).into(),
                    ))
                    .map_err(&f)?
                    .label("model at the window's start")
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(150, 150, 150))
                    });
                // The starting model on the same frames: what no evolution (A3) gives.
                if rs.iter().any(|r| r.map50_start > 0.0) {
                    let start: Vec<(f64, f64)> =
                        rs.iter().map(|r| (at(r), r.map50_start)).collect();
                    chart
                        .draw_series(DashedLineSeries::new(start, 2, 3, BLACK.stroke_width(2)))
                        .map_err(&f)?
                        .label("starting model (no evolution)")
                        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
                }
            }
            let pts: Vec<(f64, f64)> = rs.iter().map(|r| (at(r), r.map50_after)).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(&f)?
                .label(method.name())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c));
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(&f)?;
            chart
                .draw_series(
                    rs.iter()
                        .filter(|r| r.action.starts_with("co-evolve"))
                        .map(|r| {
                            TriangleMarker::new(((r.window as f64 + 1.0) * t, 0.97), 6, c.filled())
                        }),
                )
                .map_err(&f)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(&f)?;
    }
    root.present().map_err(&f)?;
    Ok(())
}

/// A line chart of named series of (x, y) points.
pub fn lines(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let f = fail(path);
    let pts: Vec<(f64, f64)> = series.iter().flat_map(|s| s.1.iter().copied()).collect();
    if pts.is_empty() {
        return Err(EvolveError::BadInput(format!(
            "plotting {}: no points",
            path.display()
        )));
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in &pts {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    let pad = |a: f64, b: f64| {
        let d = ((b - a) * 0.1).max(1e-3);
        (a - d, b + d)
    };
    let ((x0, x1), (y0, y1)) = (pad(x0, x1), pad(y0.min(0.0), y1));
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(&f)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(&f)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(&f)?;
    for (k, (name, s)) in series.iter().enumerate() {
        let c = COLOURS[k % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(s.clone(), c.stroke_width(2)))
            .map_err(&f)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c));
        chart
            .draw_series(s.iter().map(|&p| Circle::new(p, 4, c.filled())))
            .map_err(&f)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(&f)?;
    root.present().map_err(&f)?;
    Ok(())
}
