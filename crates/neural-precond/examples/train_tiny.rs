//! Trains a tiny 2D stencil V-net in well under a minute on the CPU and solves with it.
//!
//! ```text
//! cargo run --release -p ritz-neural-precond --example train_tiny
//! ```
//!
//! Data: Ritz-vector and scene right-hand sides on eight 32² geometries; the trained net then
//! preconditions the flexible conjugate-direction iteration on a 64² geometry it never saw,
//! next to plain CG.

use burn::backend::{Autodiff, Flex};
use burn::optim::AdamConfig;
use ritz_krylov::{FcdParams, SolveParams, cg, fcd};
use ritz_neural_precond::{
    DatasetSpec, Geometry, ModelConfig, StencilNetConfig, StencilPreconditioner, TrainConfig,
    TrainEvent, load_weights,
};
use ritz_pde::rhs::RhsKind;
use ritz_pde::{PoissonProblem, Scene};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::temp_dir().join("ritz-train-tiny");
    let _ = std::fs::remove_dir_all(&out);
    let cfg = TrainConfig {
        model: ModelConfig::Stencil(StencilNetConfig::new(2)),
        data: DatasetSpec {
            dim: 2,
            n: 32,
            scenes: vec![Scene::Spheres, Scene::Organic, Scene::Pillars, Scene::Plume],
            geometries: 8,
            seed: 1,
            lanczos_steps: 80,
            ritz_samples: 8,
            rhs_samples: 4,
            low_fraction: 0.55,
            low_weight: 9.0,
            noise_samples: 4,
        },
        optimizer: AdamConfig::new(),
        learning_rate: 5e-3,
        batch_size: 8,
        epochs: 15,
        seed: 1,
        val_fraction: 0.25,
        loss: ritz_neural_precond::train::LossKind::Energy,
        schedule: ritz_neural_precond::train::LrSchedule::Constant,
        unroll: 1,
        init: None,
    };
    let t = std::time::Instant::now();
    let data = ritz_neural_precond::Dataset::generate(&cfg.data)?;
    type B = Autodiff<Flex>;
    let device = Default::default();
    let net = StencilNetConfig::new(2).init::<B>(&device)?;
    ritz_neural_precond::train(net, &cfg, &data, &out, false, &device, &mut |ev| {
        if let TrainEvent::Epoch(l) = ev {
            println!(
                "epoch {:2}  train loss {:.3e}  validation {}",
                l.epoch,
                l.train_loss,
                l.val_loss.map_or("-".into(), |v| format!("{v:.3e}"))
            );
        }
    })?;
    println!("trained in {:.1} s", t.elapsed().as_secs_f64());

    // Solve on an unseen 64² geometry.
    let (_, trained) = load_weights::<Flex>(&out.join("weights"), &Default::default())?;
    let ritz_neural_precond::AnyModel::Stencil(net) = trained else {
        unreachable!("a stencil net was trained")
    };
    let problem = PoissonProblem::new(Scene::Spheres.generate(2, 64, 99)?)?;
    let mut b = RhsKind::SmoothDivergence.generate(&problem, 5);
    problem.prepare_rhs(&mut b)?;
    let params = SolveParams {
        rtol: 1e-6,
        max_iters: 2000,
        ..Default::default()
    };
    let mut x = vec![0.0; b.len()];
    let plain = cg(&problem, &b, &mut x, &params, &mut ())?;
    let pc = StencilPreconditioner::new(&net, &Geometry::of(&problem))?;
    let mut x = vec![0.0; b.len()];
    let fp = FcdParams {
        solve: params,
        ..Default::default()
    };
    let learned = fcd(&problem, &pc, &b, &mut x, &fp, &mut ())?;
    println!(
        "64² spheres: CG {} iterations, learned stencil V-net + FCD {} iterations (tol 1e-6)",
        plain.iterations, learned.iterations
    );
    Ok(())
}
