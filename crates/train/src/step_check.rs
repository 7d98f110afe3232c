//! A few training steps of a small conv net on the default device: proves that LibTorch, the
//! device and autograd work in this binary (used by `nestevo info --train-step`).

use tch::{nn, nn::ModuleT, nn::OptimizerConfig, Device, Kind, Tensor};

#[derive(Debug, Clone)]
pub struct StepCheck {
    pub device: String,
    pub steps: usize,
    pub first_loss: f64,
    pub last_loss: f64,
    pub ms_per_step: f64,
}

pub fn run(steps: usize) -> Result<StepCheck, super::TrainError> {
    tch::manual_seed(0);
    let device = Device::cuda_if_available();
    let vs = nn::VarStore::new(device);
    let p = vs.root();
    let net = nn::seq_t()
        .add(nn::conv2d(
            &p / "c1",
            3,
            16,
            3,
            nn::ConvConfig {
                padding: 1,
                ..Default::default()
            },
        ))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(nn::conv2d(
            &p / "c2",
            16,
            32,
            3,
            nn::ConvConfig {
                padding: 1,
                ..Default::default()
            },
        ))
        .add_fn(|x| x.relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1))
        .add(nn::linear(&p / "fc", 32, 4, Default::default()));
    let mut opt = nn::Adam::default().build(&vs, 1e-2)?;
    let x = Tensor::randn([32, 3, 32, 32], (Kind::Float, device));
    let y = Tensor::randint(4, [32], (Kind::Int64, device));
    let mut losses = Vec::with_capacity(steps);
    let start = std::time::Instant::now();
    for _ in 0..steps {
        let loss = net.forward_t(&x, true).cross_entropy_for_logits(&y);
        opt.backward_step(&loss);
        losses.push(loss.double_value(&[]));
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / steps as f64;
    Ok(StepCheck {
        device: format!("{device:?}"),
        steps,
        first_loss: losses[0],
        last_loss: *losses.last().unwrap(),
        ms_per_step: ms,
    })
}
