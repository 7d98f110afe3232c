use anyhow::{ensure, Result};
use clap::{Args, Subcommand};
use nestevo_data::size::check_size;
use nestevo_data::{contact_sheet, export_frames, write_png, Stream, StreamId, CLASSES};
use nestevo_experiments::render_speed::render_speed;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Render frames of a stream (source, A..E) as PNGs with COCO-style labels (annotations.json).
    Render(RenderArgs),
    /// Draw a contact sheet of a stream: a grid of frames spread over time, boxes outlined.
    Sheet(SheetArgs),
    /// Time the renderer: frames/s on one thread for each stream.
    Speed(SpeedArgs),
}

/// Which stream, seeded how, at what size.
#[derive(Args, Clone)]
pub struct StreamSel {
    /// Stream: source, A, B, C, D, E or F.
    #[arg(long)]
    pub stream: StreamId,
    /// Seed of the stream's scene and objects.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frame width and height in pixels.
    #[arg(long, default_value_t = 96)]
    pub size: usize,
}

impl StreamSel {
    fn open(&self) -> Result<Stream> {
        check_size(self.size)?;
        Ok(Stream::new(self.stream, self.seed).with_size(self.size, self.size))
    }
}

#[derive(Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub sel: StreamSel,
    /// Number of frames.
    #[arg(long)]
    pub frames: u64,
    /// First frame index.
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Output folder (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct SheetArgs {
    #[command(flatten)]
    pub sel: StreamSel,
    /// Output PNG file.
    #[arg(long)]
    pub out: PathBuf,
    /// Columns and rows of the grid.
    #[arg(long, default_value_t = 8)]
    pub cols: usize,
    #[arg(long, default_value_t = 4)]
    pub rows: usize,
    /// Seconds of stream time between consecutive tiles (0: consecutive frames).
    #[arg(long, default_value_t = 20.0)]
    pub every_s: f64,
    /// Pixel scale of each tile.
    #[arg(long, default_value_t = 2)]
    pub scale: usize,
    /// Leave the ground-truth boxes out.
    #[arg(long)]
    pub no_boxes: bool,
}

#[derive(Args)]
pub struct SpeedArgs {
    /// Frames rendered per stream.
    #[arg(long, default_value_t = 2000)]
    pub frames: u64,
    /// Frame width and height in pixels.
    #[arg(long, default_value_t = 96)]
    pub size: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Render(a) => render(a),
        DataCommand::Sheet(a) => sheet(a),
        DataCommand::Speed(a) => speed(a),
    }
}

fn render(a: RenderArgs) -> Result<()> {
    ensure!(a.frames > 0, "--frames must be at least 1");
    let stream = a.sel.open()?;
    let s = export_frames(&stream, a.start, a.frames, &a.out)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!(
        "stream {} ({}), seed {}, {}x{} px, frames {}..{} ({:.1} s of video)",
        stream.id(),
        stream.id().describe(),
        a.sel.seed,
        a.sel.size,
        a.sel.size,
        a.start,
        a.start + a.frames,
        a.frames as f64 / stream.fps()
    );
    println!("{:<10} {:>8}", "class", "boxes");
    for (c, n) in CLASSES.iter().zip(&s.boxes_per_class) {
        println!("{c:<10} {n:>8}");
    }
    println!("{:<10} {:>8}", "all", s.boxes);
    println!(
        "box height: min {:.1} px, median {:.1} px, max {:.1} px",
        s.box_height_px[0], s.box_height_px[1], s.box_height_px[2]
    );
    println!(
        "wrote {} PNGs and annotations.json to {} in {:.2} s ({:.0} frames/s)",
        s.frames,
        a.out.display(),
        s.seconds,
        s.frames as f64 / s.seconds
    );
    Ok(())
}

fn sheet(a: SheetArgs) -> Result<()> {
    // A sheet is one PNG: a few hundred frames at most make sense on a screen.
    ensure!(
        (1..=64).contains(&a.cols) && (1..=64).contains(&a.rows),
        "--cols {} --rows {}: each is allowed from 1 to 64",
        a.cols,
        a.rows
    );
    ensure!(
        a.every_s >= 0.0 && a.every_s.is_finite(),
        "--every-s {}: allowed is a number of seconds >= 0",
        a.every_s
    );
    let stream = a.sel.open()?;
    let step = ((a.every_s * stream.fps()).round() as u64).max(1);
    let frames: Vec<_> = (0..(a.cols * a.rows) as u64)
        .map(|k| stream.frame(k * step))
        .collect();
    let (w, h, rgb) = contact_sheet(&frames, a.cols, a.scale, !a.no_boxes);
    if let Some(dir) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    write_png(&a.out, w, h, &rgb)?;
    println!(
        "wrote {} ({w}x{h} px): stream {}, {} frames, one every {step} frames ({:.3} s)",
        a.out.display(),
        stream.id(),
        frames.len(),
        step as f64 / stream.fps()
    );
    Ok(())
}

fn speed(a: SpeedArgs) -> Result<()> {
    let rows = render_speed(a.frames, a.size)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "rendering {}x{} px on one thread, {} frames per stream",
        a.size, a.size, a.frames
    );
    println!("{:<8} {:>12} {:>14}", "stream", "frames/s", "boxes/frame");
    for r in &rows {
        println!(
            "{:<8} {:>12.0} {:>14.2}",
            r.stream, r.frames_per_s, r.boxes_per_frame
        );
    }
    Ok(())
}
