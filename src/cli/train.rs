use clap::Args;

#[derive(Args)]
pub struct PretrainArgs {}

#[derive(Args)]
pub struct EvalArgs {}

pub fn pretrain(_: PretrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("`nestevo pretrain` is not built yet")
}

pub fn eval(_: EvalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`nestevo eval` is not built yet")
}
