//! `nestevo terminal`: a terminal that plays its stream against `nestevo serve`.

use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
#[command(group = clap::ArgGroup::new("length").required(true).args(["frames", "seconds"]))]
pub struct TerminalArgs {
    /// The server, e.g. http://127.0.0.1:8470.
    #[arg(long)]
    server: String,
    /// The terminal's id.
    #[arg(long)]
    id: String,
    /// The terminal's token: a file holding the token, or the registration's JSON answer.
    /// With --register-with and no such file, the terminal registers and writes it here.
    #[arg(long)]
    token_file: PathBuf,
    /// Register first with the admin token in this file (when --token-file does not exist).
    #[arg(long)]
    register_with: Option<PathBuf>,
    /// The stream it plays: A, B, C, D, E or F (or give --folder).
    #[arg(long, required_unless_present = "folder", conflicts_with = "folder")]
    stream: Option<String>,
    /// A folder of PNG frames to play instead of a rendered stream (scored when it holds COCO
    /// annotations.json, as `nestevo data render` writes; otherwise played unscored).
    #[arg(long)]
    folder: Option<PathBuf>,
    /// The folder's clock, frames per second.
    #[arg(long, default_value_t = 30.0, requires = "folder")]
    fps: f64,
    #[arg(long, default_value_t = 0)]
    stream_seed: u64,
    /// The deployed model: a shipped checkpoint's name (M1, M2, M3) or a NAME.safetensors path.
    #[arg(long, default_value = "M1")]
    model: String,
    /// Play this many stream frames (whole windows).
    #[arg(long)]
    frames: Option<u64>,
    /// Play this many seconds of stream time (whole windows).
    #[arg(long)]
    seconds: Option<f64>,
    /// The run's seed and this terminal's place among the experiment's terminals: they fix
    /// which frames it uploads, as in `nestevo evolve run`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 0)]
    slot: usize,
    /// Frames of the next segment on which each window's models are scored.
    #[arg(long, default_value_t = 100)]
    eval_frames: usize,
    /// Seconds of stream time per window and frames of the first window (default: from the
    /// registration answer in --token-file).
    #[arg(long)]
    window_s: Option<f64>,
    #[arg(long)]
    first_upload: Option<usize>,
    /// Folder for downloaded models and the log (log.csv, log.json); default term-<id>.
    #[arg(long)]
    work: Option<PathBuf>,
    /// Seconds to wait for one evolution request.
    #[arg(long, default_value_t = 1800)]
    evolution_timeout_s: u64,
    #[arg(long)]
    cpu: bool,
    #[arg(long)]
    threads: Option<i32>,
}

#[cfg(feature = "torch")]
pub fn run(a: TerminalArgs) -> anyhow::Result<()> {
    use nestevo_data::{Folder, FrameSource};
    use nestevo_serve::client::Client;
    use nestevo_serve::service::Registered;
    use nestevo_serve::terminal::{play, TerminalOptions};
    let (source, stream_name) = match (&a.stream, &a.folder) {
        (Some(s), _) => (FrameSource::rendered(s.parse()?, a.stream_seed), s.clone()),
        (None, Some(d)) => (
            FrameSource::Folder(
                Folder::read(d, a.fps).map_err(|e| anyhow::anyhow!("--folder: {e}"))?,
            ),
            "folder".to_string(),
        ),
        (None, None) => anyhow::bail!("give --stream or --folder"),
    };
    let model = if a.model.ends_with(".safetensors") {
        PathBuf::from(&a.model)
    } else {
        PathBuf::from(format!("models/pretrained/{}.safetensors", a.model))
    };
    anyhow::ensure!(
        model.is_file(),
        "--model {}: no checkpoint at {}",
        a.model,
        model.display()
    );
    if !a.token_file.is_file() {
        let Some(admin) = &a.register_with else {
            anyhow::bail!(
                "--token-file {}: no such file (give --register-with ADMIN_TOKEN_FILE to register)",
                a.token_file.display()
            );
        };
        let t = std::fs::read_to_string(admin)
            .map_err(|e| anyhow::anyhow!("--register-with {}: {e}", admin.display()))?;
        let name = model
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let r = Client::new(&a.server, Some(t.trim().to_string())).register(
            &a.id,
            &name,
            &stream_name,
        )?;
        nestevo_core::error::write_atomic(
            &a.token_file,
            serde_json::to_string_pretty(&r)?.as_bytes(),
        )?;
    }
    let text = std::fs::read_to_string(&a.token_file)
        .map_err(|e| anyhow::anyhow!("--token-file {}: {e}", a.token_file.display()))?;
    let (token, window_s, first) = match serde_json::from_str::<Registered>(&text) {
        Ok(r) => (r.token, Some(r.window_s), Some(r.next_upload)),
        // A registration record that does not parse is damaged, not a token.
        Err(e) if text.trim_start().starts_with('{') => anyhow::bail!(
            "--token-file {}: a registration record (JSON) that does not parse: {e}",
            a.token_file.display()
        ),
        Err(_) => (text.trim().to_string(), None, None),
    };
    let window_s = a.window_s.or(window_s).ok_or_else(|| {
        anyhow::anyhow!("--window-s: needed when --token-file holds a bare token")
    })?;
    let first = a.first_upload.or(first).ok_or_else(|| {
        anyhow::anyhow!("--first-upload: needed when --token-file holds a bare token")
    })?;
    let fps = source.fps();
    let per_window = (window_s * fps).floor().max(1.0);
    let windows = match (a.frames, a.seconds) {
        (Some(n), _) => (n as f64 / per_window).floor() as usize,
        (None, Some(s)) => (s / window_s).floor() as usize,
        _ => anyhow::bail!("give --frames N or --seconds S"),
    };
    anyhow::ensure!(
        windows >= 1,
        "--frames/--seconds: shorter than one window ({window_s} s, {per_window} frames)"
    );
    if let Some(t) = a.threads {
        anyhow::ensure!(t > 0, "--threads {t}: allowed is 1 or more");
        tch::set_num_threads(t);
    }
    let log = play(
        &TerminalOptions {
            server: a.server,
            work: a
                .work
                .unwrap_or_else(|| PathBuf::from(format!("term-{}", a.id))),
            id: a.id,
            token,
            source,
            model,
            seed: a.seed,
            slot: a.slot,
            windows,
            eval_frames: a.eval_frames,
            evolution_timeout: std::time::Duration::from_secs(a.evolution_timeout_s),
            device: if a.cpu {
                tch::Device::Cpu
            } else {
                tch::Device::cuda_if_available()
            },
        },
        window_s,
        first,
    )?;
    println!("{}", serde_json::to_string_pretty(&log)?);
    Ok(())
}

#[cfg(not(feature = "torch"))]
super::needs_torch! {
    run(TerminalArgs) => "terminal";
}
