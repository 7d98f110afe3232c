use clap::Args;

#[derive(Args)]
pub struct InfoArgs {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
    /// Also run a few training steps of a small conv net on the device, as a check.
    #[arg(long)]
    train_step: bool,
}

pub fn run(a: InfoArgs) -> anyhow::Result<()> {
    let info = crate::info::collect();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        println!("{info}");
    }
    if a.train_step {
        train_step()?;
    }
    Ok(())
}

#[cfg(feature = "torch")]
fn train_step() -> anyhow::Result<()> {
    let r = nestevo_train::step_check::run(8)?;
    println!(
        "train step     {} steps on {}: loss {:.4} -> {:.4}, {:.1} ms/step",
        r.steps, r.device, r.first_loss, r.last_loss, r.ms_per_step
    );
    anyhow::ensure!(r.last_loss < r.first_loss, "the loss did not fall: {r:?}");
    Ok(())
}

#[cfg(not(feature = "torch"))]
fn train_step() -> anyhow::Result<()> {
    anyhow::bail!("--train-step needs the `torch` feature (this binary was built without torch)")
}
