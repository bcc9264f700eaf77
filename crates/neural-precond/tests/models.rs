//! Oracle tests of the networks: parameter counts, shapes, the fast path against burn's
//! forward, SPD structure, the loss and weight files.

use burn::backend::{Autodiff, Flex};
use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use ritz_linalg::{LinearOperator, Preconditioner};
use ritz_neural_precond::ops::{laplacian, restrict_linear, upsample_linear};
use ritz_neural_precond::{
    AnyModel, DcdmLayout, DcdmNetConfig, FastStencil, Geometry, GeometryBatch, GridShape,
    LearnedModel, ModelConfig, NeuralError, StencilNetConfig, load_weights, save_weights,
};
use ritz_pde::{PoissonProblem, Scene};

type B = Flex;

fn dev() -> burn::tensor::Device<B> {
    Default::default()
}

fn problem(scene: Scene, dim: usize, n: usize, seed: u64) -> PoissonProblem {
    PoissonProblem::new(scene.generate(dim, n, seed).unwrap()).unwrap()
}

fn noise(n: usize, seed: u64, mask: &[f32]) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (((s >> 33) as f64 / (1u64 << 31) as f64) - 0.5) as f32 * mask[i]
        })
        .collect()
}

fn to_vec(t: Tensor<B, 5>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

#[test]
fn dcdm_parameter_counts() {
    let small = DcdmNetConfig::new(3).init::<B>(&dev()).unwrap();
    let large = DcdmNetConfig::new(3)
        .with_layout(DcdmLayout::Large)
        .init::<B>(&dev())
        .unwrap();
    assert_eq!(small.num_params(), 97_457);
    assert_eq!(large.num_params(), 152_881);
    // 2D: 3×3 kernels: 160 + 14 · 2320 + 17.
    let small2 = DcdmNetConfig::new(2).init::<B>(&dev()).unwrap();
    assert_eq!(small2.num_params(), 160 + 14 * 2320 + 17);
    // Multiply-adds per cell: 27·16 in, 4 full- and 3 half-resolution pairs of 2·27·16², 16
    // out (the module docs' ≈ 61k); Large 6 and 5 pairs (≈ 92k); 2D with 9-tap kernels.
    let pair = 2.0 * 27.0 * 256.0;
    assert_eq!(
        small.macs_per_cell(),
        432.0 + 4.0 * pair + 3.0 * pair / 8.0 + 16.0
    );
    assert_eq!(small.macs_per_cell(), 60_928.0);
    assert_eq!(
        large.macs_per_cell(),
        432.0 + 6.0 * pair + 5.0 * pair / 8.0 + 16.0
    );
    let pair2 = 2.0 * 9.0 * 256.0;
    assert_eq!(
        small2.macs_per_cell(),
        144.0 + 4.0 * pair2 + 3.0 * pair2 / 4.0 + 16.0
    );
}

#[test]
fn forward_shapes_and_masking() {
    for dim in [2, 3] {
        let p = problem(Scene::Spheres, dim, 16, 1);
        let g = Geometry::of(&p);
        let x = Tensor::<B, 5>::from_data(
            TensorData::new(
                noise(g.mask.len(), 2, &g.mask),
                [1, 1, g.shape.dhw[0], g.shape.dhw[1], g.shape.dhw[2]],
            ),
            &dev(),
        );
        for cfg in [
            ModelConfig::named("dcdm", dim).unwrap(),
            ModelConfig::named("stencil", dim).unwrap(),
            ModelConfig::named("stencil-spd", dim).unwrap(),
        ] {
            let y = match AnyModel::<B>::init(&cfg, &dev()).unwrap() {
                AnyModel::Dcdm(m) => {
                    let geo = GeometryBatch::new(&g, m.plan(g.shape).unwrap(), &dev()).unwrap();
                    m.predict(&geo, x.clone())
                }
                AnyModel::Stencil(m) => {
                    let geo = GeometryBatch::new(&g, m.plan(g.shape).unwrap(), &dev()).unwrap();
                    m.predict(&geo, x.clone())
                }
            };
            assert_eq!(y.dims(), x.dims(), "{}", cfg.name());
            let v = to_vec(y);
            assert!(v.iter().zip(&g.mask).all(|(a, &m)| m == 1.0 || *a == 0.0));
            assert!(v.iter().any(|a| *a != 0.0));
        }
    }
}

#[test]
fn wrong_grid_size_is_a_typed_error() {
    // The default two parameter levels need even sides; three levels need multiples of 4.
    let p = problem(Scene::Spheres, 3, 17, 1);
    let g = Geometry::of(&p);
    let net = StencilNetConfig::new(3).init::<B>(&dev()).unwrap();
    assert!(matches!(
        FastStencil::new(&net, &g),
        Err(NeuralError::GridSize { factor: 2, .. })
    ));
    let p18 = problem(Scene::Spheres, 3, 18, 1);
    let net3 = StencilNetConfig::new(3)
        .with_levels(3)
        .init::<B>(&dev())
        .unwrap();
    assert!(matches!(
        FastStencil::new(&net3, &Geometry::of(&p18)),
        Err(NeuralError::GridSize { factor: 4, .. })
    ));
    let p2 = problem(Scene::Spheres, 2, 18, 1);
    assert!(matches!(
        FastStencil::new(&net, &Geometry::of(&p2)),
        Err(NeuralError::Dimension { model: 3, grid: 2 })
    ));
    let d = DcdmNetConfig::new(2).init::<B>(&dev()).unwrap();
    let odd = problem(Scene::Spheres, 2, 15, 1);
    assert!(matches!(
        d.plan(Geometry::of(&odd).shape),
        Err(NeuralError::GridSize { .. })
    ));
}

#[test]
fn burn_laplacian_equals_the_problem_operator() {
    for (scene, dim) in [(Scene::Spheres, 3), (Scene::Pillars, 2), (Scene::Closed, 3)] {
        let p = problem(scene, dim, 12, 4);
        let g = Geometry::of(&p);
        let x = noise(g.mask.len(), 5, &g.mask);
        let geo = GeometryBatch::<B>::new(&g, Vec::new(), &dev()).unwrap();
        let xt = ritz_neural_precond::stencil::grid_tensor::<B>(&[&x], g.shape.dhw, &dev());
        let y = to_vec(laplacian(xt, geo.mask.clone(), geo.diag.clone(), g.shape));
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let mut y64 = vec![0.0; x.len()];
        p.apply(&x64, &mut y64);
        let err = y
            .iter()
            .zip(&y64)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-5, "{scene:?} {dim}D: {err}");
    }
}

#[test]
fn restriction_is_the_adjoint_of_upsampling() {
    for dim in [2, 3] {
        let fine = GridShape {
            dim,
            dhw: if dim == 3 { [8, 8, 8] } else { [1, 8, 8] },
        };
        let coarse = fine.coarse();
        let ones_f = vec![1.0f32; fine.cells()];
        let ones_c = vec![1.0f32; coarse.cells()];
        let u = noise(fine.cells(), 7, &ones_f);
        let v = noise(coarse.cells(), 8, &ones_c);
        let ut = ritz_neural_precond::stencil::grid_tensor::<B>(&[&u], fine.dhw, &dev());
        let vt = ritz_neural_precond::stencil::grid_tensor::<B>(&[&v], coarse.dhw, &dev());
        let ru = to_vec(restrict_linear(ut, fine));
        let pv = to_vec(upsample_linear(vt, coarse));
        let a: f64 = ru.iter().zip(&v).map(|(x, y)| (*x * *y) as f64).sum();
        let b: f64 = pv.iter().zip(&u).map(|(x, y)| (*x * *y) as f64).sum();
        assert!((a - b).abs() < 1e-5 * a.abs().max(1.0), "{a} vs {b}");
        // Upsampling a constant gives the constant away from the boundary.
        let ct = ritz_neural_precond::stencil::grid_tensor::<B>(&[&ones_c], coarse.dhw, &dev());
        let up = to_vec(upsample_linear(ct, coarse));
        let mid = if dim == 3 {
            (4 * 8 + 4) * 8 + 4
        } else {
            4 * 8 + 4
        };
        assert!((up[mid] - 1.0).abs() < 1e-6);
    }
}

fn fast_vs_burn(dim: usize, symmetric: bool, scene: Scene, n: usize) {
    let p = problem(scene, dim, n, 9);
    let g = Geometry::of(&p);
    let net = StencilNetConfig::new(dim)
        .with_symmetric(symmetric)
        .with_init_std(0.2)
        .init::<B>(&dev())
        .unwrap();
    let geo = GeometryBatch::new(&g, net.plan(g.shape).unwrap(), &dev()).unwrap();
    let r = noise(g.mask.len(), 11, &g.mask);
    let rt = ritz_neural_precond::stencil::grid_tensor::<B>(&[&r], g.shape.dhw, &dev());
    let want = to_vec(net.forward(&geo, rt));
    let fast = FastStencil::new(&net, &g).unwrap();
    let mut got = vec![0.0f32; r.len()];
    fast.apply_f32(&r, &mut got).unwrap();
    let num: f64 = want
        .iter()
        .zip(&got)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum();
    let den: f64 = want.iter().map(|a| (*a as f64).powi(2)).sum();
    let rel = (num / den).sqrt();
    assert!(
        rel < 1e-5,
        "{dim}D symmetric={symmetric} {scene:?}: relative difference {rel}"
    );
}

#[test]
fn fast_path_equals_burn_forward() {
    fast_vs_burn(2, false, Scene::Pillars, 32);
    fast_vs_burn(2, true, Scene::Spheres, 32);
    fast_vs_burn(3, false, Scene::Spheres, 16);
    fast_vs_burn(3, true, Scene::Organic, 16);
    fast_vs_burn(3, false, Scene::Closed, 16);
}

#[test]
fn spd_variant_is_symmetric_and_positive() {
    for dim in [2, 3] {
        let n = if dim == 3 { 16 } else { 32 };
        let p = problem(Scene::Spheres, dim, n, 3);
        let g = Geometry::of(&p);
        let net = StencilNetConfig::new(dim)
            .with_symmetric(true)
            .with_init_std(0.2)
            .init::<B>(&dev())
            .unwrap();
        let pc = ritz_neural_precond::SpdStencilPreconditioner::new(&net, &g).unwrap();
        let m64: Vec<f32> = g.mask.clone();
        let u: Vec<f64> = noise(g.mask.len(), 1, &m64)
            .iter()
            .map(|&v| v as f64)
            .collect();
        let v: Vec<f64> = noise(g.mask.len(), 2, &m64)
            .iter()
            .map(|&v| v as f64)
            .collect();
        let mut pu = vec![0.0; u.len()];
        let mut pv = vec![0.0; u.len()];
        pc.apply(&u, &mut pu);
        pc.apply(&v, &mut pv);
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let (a, b) = (dot(&pu, &v), dot(&pv, &u));
        assert!(
            (a - b).abs() <= 1e-5 * dot(&pu, &u).abs().max(dot(&pv, &v).abs()),
            "{a} vs {b}"
        );
        assert!(dot(&pu, &u) > 0.0 && dot(&pv, &v) > 0.0);
        // The non-symmetric net is refused as an SPD preconditioner.
        let vnet = StencilNetConfig::new(dim).init::<B>(&dev()).unwrap();
        assert!(ritz_neural_precond::SpdStencilPreconditioner::new(&vnet, &g).is_err());
    }
}

#[test]
fn weights_round_trip_and_corruption() {
    let dir = std::env::temp_dir().join(format!("ritz-weights-{}", std::process::id()));
    let cfg = ModelConfig::Stencil(StencilNetConfig::new(2).with_init_std(0.1));
    let AnyModel::Stencil(net) = AnyModel::<B>::init(&cfg, &dev()).unwrap() else {
        unreachable!()
    };
    let stem = dir.join("w");
    save_weights::<B, _>(&net, &cfg, serde_json::json!({"note": "test"}), &stem).unwrap();
    let (manifest, loaded) = load_weights::<B>(&stem, &dev()).unwrap();
    assert_eq!(manifest.params, net.num_params());
    let AnyModel::Stencil(loaded) = loaded else {
        panic!("wrong kind")
    };
    let p = problem(Scene::Spheres, 2, 16, 2);
    let g = Geometry::of(&p);
    let r = noise(g.mask.len(), 3, &g.mask);
    let (mut a, mut b) = (vec![0.0f32; r.len()], vec![0.0f32; r.len()]);
    FastStencil::new(&net, &g)
        .unwrap()
        .apply_f32(&r, &mut a)
        .unwrap();
    FastStencil::new(&loaded, &g)
        .unwrap()
        .apply_f32(&r, &mut b)
        .unwrap();
    assert_eq!(a, b);
    // Flip one byte of the record: refused with a typed error.
    let bin = stem.with_extension("bin");
    let mut bytes = std::fs::read(&bin).unwrap();
    let k = bytes.len() / 2;
    bytes[k] ^= 0x55;
    std::fs::write(&bin, &bytes).unwrap();
    assert!(matches!(
        load_weights::<B>(&stem, &dev()),
        Err(NeuralError::Load { .. })
    ));
    // Truncated, and missing.
    std::fs::write(&bin, &bytes[..k]).unwrap();
    assert!(matches!(
        load_weights::<B>(&stem, &dev()),
        Err(NeuralError::Load { .. })
    ));
    std::fs::remove_file(&bin).unwrap();
    assert!(matches!(
        load_weights::<B>(&stem, &dev()),
        Err(NeuralError::Load { .. })
    ));
    std::fs::remove_dir_all(&dir).ok();
}

type AB = Autodiff<Flex>;

/// `steps` Adam steps of size `lr` on `loss(net)`: the first and the last loss value. Every
/// value must be finite.
fn adam_descent<M: burn::module::AutodiffModule<AB>>(
    mut net: M,
    steps: usize,
    lr: f64,
    loss: impl Fn(&M) -> Tensor<AB, 1>,
) -> (f64, f64) {
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};
    let mut optim = AdamConfig::new().init();
    let mut values = Vec::with_capacity(steps);
    for _ in 0..steps {
        let l = loss(&net);
        let grads = l.backward();
        let v = l.into_data().to_vec::<f32>().unwrap()[0] as f64;
        assert!(v.is_finite(), "loss {v}");
        values.push(v);
        let g = GradientsParams::from_grads(grads, &net);
        net = optim.step(lr, net, g);
    }
    (values[0], values[steps - 1])
}

/// A 2D spheres problem at 16² with `samples` Ritz-vector right-hand sides as one batch.
fn tiny_batch(samples: usize) -> (PoissonProblem, Geometry, Vec<Vec<f32>>, Tensor<AB, 5>) {
    let p = problem(Scene::Spheres, 2, 16, 5);
    let g = Geometry::of(&p);
    let d = ritz_neural_precond::data::ritz_samples(&p, 60, samples, 0.55, 9.0, 1).unwrap();
    let parts: Vec<&[f32]> = d.iter().map(|v| v.as_slice()).collect();
    let b =
        ritz_neural_precond::stencil::grid_tensor::<AB>(&parts, g.shape.dhw, &Default::default());
    (p, g, d, b)
}

#[test]
fn loss_decreases_on_a_tiny_problem() {
    use ritz_neural_precond::loss::scale_invariant_loss;
    let (_, g, _, b) = tiny_batch(8);
    let net = StencilNetConfig::new(2)
        .init::<AB>(&Default::default())
        .unwrap();
    let geo =
        GeometryBatch::<AB>::new(&g, net.plan(g.shape).unwrap(), &Default::default()).unwrap();
    let (first, last) = adam_descent(net, 30, 1e-2, |net| {
        scale_invariant_loss(net.predict(&geo, b.clone()), b.clone(), &geo)
    });
    assert!(last < 0.7 * first, "loss {first} -> {last}");
}

/// The problem's diagonal, read off `A e_i` (independent of the network's geometry tensors).
fn operator_diagonal(p: &PoissonProblem) -> Vec<f64> {
    let n = p.ncols();
    let mut e = vec![0.0; n];
    let mut y = vec![0.0; n];
    (0..n)
        .map(|i| {
            e[i] = 1.0;
            p.apply(&e, &mut y);
            e[i] = 0.0;
            y[i]
        })
        .collect()
}

fn tensor_of(g: &Geometry, v: Vec<f32>) -> Tensor<B, 5> {
    let [d, h, w] = g.shape.dhw;
    Tensor::from_data(TensorData::new(v, [1, 1, d, h, w]), &dev())
}

#[test]
fn dcdm_jacobi_path_of_a_zero_network_is_a_jacobi_step() {
    for dim in [2, 3] {
        let p = problem(Scene::Spheres, dim, 16, 3);
        let g = Geometry::of(&p);
        let net = DcdmNetConfig::new(dim)
            .with_jacobi_skip(true)
            .init::<B>(&dev())
            .unwrap();
        let zeros = vec![0.0; ritz_neural_precond::curvature::flat_params(&net).len()];
        let net = ritz_neural_precond::curvature::set_flat_params(net, &zeros).unwrap();
        let geo = GeometryBatch::new(&g, net.plan(g.shape).unwrap(), &dev()).unwrap();
        let r = noise(g.mask.len(), 5, &g.mask);
        let z = to_vec(net.predict(&geo, tensor_of(&g, r.clone())));
        let d = operator_diagonal(&p);
        for i in 0..r.len() {
            let want = if g.mask[i] == 1.0 {
                r[i] as f64 / d[i]
            } else {
                0.0
            };
            assert!(
                (z[i] as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "{dim}D cell {i}"
            );
        }
    }
}

#[test]
fn dcdm_rms_input_makes_the_direction_independent_of_the_input_scale() {
    let p = problem(Scene::Organic, 2, 32, 4);
    let g = Geometry::of(&p);
    let r = noise(g.mask.len(), 6, &g.mask);
    let scaled: Vec<f32> = r.iter().map(|v| v * 0.125).collect();
    let run = |rms: bool| {
        let net = DcdmNetConfig::new(2)
            .with_rms_input(rms)
            .init::<B>(&dev())
            .unwrap();
        let geo = GeometryBatch::new(&g, net.plan(g.shape).unwrap(), &dev()).unwrap();
        let a = to_vec(net.predict(&geo, tensor_of(&g, r.clone())));
        let b = to_vec(net.predict(&geo, tensor_of(&g, scaled.clone())));
        let num: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
        let den: f32 = a.iter().map(|x| x * x).sum();
        (num / den).sqrt()
    };
    // With the option the network sees the same input at any scale; without it (the paper's
    // unit-norm convention leaves the scale to the caller) a biased ReLU net does not.
    assert!(run(true) < 1e-5, "{}", run(true));
    assert!(run(false) > 1e-3, "{}", run(false));
}

/// Plain CG from `x = 0` in f64: the energy `eᵀAe` removed by each of the first `k` steps
/// (`α_j r_jᵀr_j`), and `E_0 = bᵀA⁻¹b` from a tight solve.
fn cg_energy_steps(p: &PoissonProblem, b: &[f64], k: usize) -> (Vec<f64>, f64) {
    let n = b.len();
    let dot = |a: &[f64], c: &[f64]| a.iter().zip(c).map(|(x, y)| x * y).sum::<f64>();
    let mut x = vec![0.0; n];
    let mut r = b.to_vec();
    let mut d = r.clone();
    let mut ad = vec![0.0; n];
    let mut removed = Vec::new();
    let mut rr = dot(&r, &r);
    for _ in 0..10 * n {
        if rr <= 1e-28 * dot(b, b) {
            break;
        }
        p.apply(&d, &mut ad);
        let alpha = rr / dot(&d, &ad);
        if removed.len() < k {
            removed.push(alpha * rr);
        }
        for i in 0..n {
            x[i] += alpha * d[i];
            r[i] -= alpha * ad[i];
        }
        let rr_new = dot(&r, &r);
        for i in 0..n {
            d[i] = r[i] + rr_new / rr * d[i];
        }
        rr = rr_new;
    }
    (removed, dot(b, &x))
}

#[test]
fn unrolled_energy_loss_with_the_identity_network_is_cg() {
    use ritz_neural_precond::loss::{energy_loss, unrolled_energy_loss};
    // The flexible conjugate-direction iteration with all directions kept and p = r is CG,
    // so K unrolled steps remove exactly CG's first K energy decrements.
    let p = problem(Scene::Spheres, 2, 16, 2);
    let g = Geometry::of(&p);
    let geo = GeometryBatch::<B>::new(&g, Vec::new(), &dev()).unwrap();
    let r = noise(g.mask.len(), 9, &g.mask);
    let b64: Vec<f64> = r.iter().map(|&v| v as f64).collect();
    let (removed, e0) = cg_energy_steps(&p, &b64, 6);
    let energy = Tensor::<B, 1>::from_data(TensorData::new(vec![e0 as f32], [1]), &dev());
    let value = |t: Tensor<B, 1>| t.into_data().to_vec::<f32>().unwrap()[0] as f64;
    for k in [1, 3, 6] {
        let got = value(unrolled_energy_loss(
            |x| x,
            tensor_of(&g, r.clone()),
            energy.clone(),
            &geo,
            k,
        ));
        let left: f64 = 1.0 - removed[..k].iter().sum::<f64>() / e0;
        let want = left.powf(1.0 / k as f64);
        assert!(
            (got - want).abs() < 1e-3 * want,
            "K = {k}: {got} vs CG {want}"
        );
    }
    // K = 1 is the one-step energy loss.
    let one = value(energy_loss(
        tensor_of(&g, r.clone()),
        tensor_of(&g, r.clone()),
        energy.clone(),
        &geo,
    ));
    let unrolled = value(unrolled_energy_loss(
        |x| x,
        tensor_of(&g, r),
        energy,
        &geo,
        1,
    ));
    assert!((one - unrolled).abs() < 1e-6, "{one} vs {unrolled}");
}

#[test]
fn unrolled_loss_decreases_when_training_a_tiny_dcdm_net() {
    use ritz_neural_precond::loss::unrolled_energy_loss;
    let (p, g, d, b) = tiny_batch(6);
    let e: Vec<f32> = ritz_neural_precond::data::energies(&p, &d)
        .unwrap()
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let energy = Tensor::<AB, 1>::from_data(TensorData::new(e, [d.len()]), &Default::default());
    let net = DcdmNetConfig::new(2)
        .with_jacobi_skip(true)
        .with_rms_input(true)
        .init::<AB>(&Default::default())
        .unwrap();
    let geo = GeometryBatch::<AB>::new(&g, Vec::new(), &Default::default()).unwrap();
    let (first, last) = adam_descent(net, 25, 1e-3, |net| {
        let l = unrolled_energy_loss(|r| net.predict(&geo, r), b.clone(), energy.clone(), &geo, 3);
        let v = l.clone().into_data().to_vec::<f32>().unwrap()[0];
        assert!(v > 0.0 && v <= 1.0, "{v}");
        l
    });
    assert!(last < 0.8 * first, "loss {first} -> {last}");
}

/// An edited manifest or record whose checksum was fixed up is refused by the layout check
/// before burn decodes it (burn panics on a record of another architecture and accepts an
/// edited shape); a flipped parameter value loads or is refused as non-finite. Every 13th byte
/// of the shipped 2D stencil net is flipped in turn.
#[test]
fn edited_weights_with_fixed_checksums_never_reach_burn_unchecked() {
    use ritz_neural_precond::model::{decode_weights, fnv1a64, parse_manifest};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights");
    let json = dir.join("stencil-2d.json");
    let bin = dir.join("stencil-2d.bin");
    let text = std::fs::read_to_string(&json).unwrap();
    let bytes = std::fs::read(&bin).unwrap();
    let manifest = parse_manifest(&text, &json).unwrap();
    assert!(decode_weights::<B>(manifest.clone(), bytes.clone(), &bin, &dev()).is_ok());
    // Another architecture in the manifest.
    let mut edited: serde_json::Value = serde_json::from_str(&text).unwrap();
    edited["model"]["levels"] = 3.into();
    let m = parse_manifest(&edited.to_string(), &json).unwrap();
    let e = decode_weights::<B>(m, bytes.clone(), &bin, &dev());
    assert!(matches!(e, Err(NeuralError::Load { .. })), "{e:?}");
    // Out-of-range configurations are refused by the manifest parser.
    edited["model"]["levels"] = 1000.into();
    assert!(parse_manifest(&edited.to_string(), &json).is_err());
    let (mut refused, mut loaded) = (0, 0);
    for at in (0..bytes.len()).step_by(13) {
        let mut b = bytes.clone();
        b[at] ^= 0x24;
        let mut m = manifest.clone();
        m.checksum = format!("{:016x}", fnv1a64(&b));
        match decode_weights::<B>(m, b, &bin, &dev()) {
            Ok(_) => loaded += 1,
            Err(NeuralError::Load { .. } | NeuralError::NonFinite(_)) => refused += 1,
            Err(e) => panic!("byte {at}: unexpected error {e}"),
        }
    }
    assert!(
        refused > 0 && loaded > 0,
        "{refused} refused, {loaded} loaded"
    );
}

/// Without validation data the log records `val_loss: null` (not a made-up 0), and the
/// checkpoint's state carries the checksums of its records.
#[test]
fn training_without_validation_logs_a_null_validation_loss() {
    use ritz_neural_precond::train::{LossKind, LrSchedule, TrainConfig, read_state, train};
    let out = std::env::temp_dir().join(format!("ritz-noval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let cfg = TrainConfig {
        model: ModelConfig::Stencil(StencilNetConfig::new(2)),
        data: ritz_neural_precond::DatasetSpec {
            dim: 2,
            n: 8,
            scenes: vec![Scene::Spheres],
            geometries: 1,
            seed: 3,
            lanczos_steps: 8,
            ritz_samples: 2,
            rhs_samples: 1,
            low_fraction: 0.5,
            low_weight: 9.0,
            noise_samples: 0,
        },
        optimizer: burn::optim::AdamConfig::new(),
        learning_rate: 1e-4,
        batch_size: 2,
        epochs: 1,
        seed: 1,
        val_fraction: 0.0,
        loss: LossKind::Energy,
        schedule: LrSchedule::Constant,
        unroll: 1,
        init: None,
    };
    let data = ritz_neural_precond::Dataset::generate(&cfg.data).unwrap();
    let AnyModel::Stencil(net) = AnyModel::<AB>::init(&cfg.model, &dev()).unwrap() else {
        unreachable!()
    };
    let state = train(net, &cfg, &data, &out, false, &dev(), &mut |_| {}).unwrap();
    assert_eq!(state.log.len(), 1);
    assert_eq!(state.log[0].val_loss, None);
    let text = std::fs::read_to_string(out.join("checkpoint/state.json")).unwrap();
    assert!(text.contains("\"val_loss\": null"), "{text}");
    let saved = read_state(&out).unwrap().unwrap();
    assert!(
        saved
            .checkpoint
            .is_some_and(|c| c.model.len() == 16 && c.optim.len() == 16)
    );
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn stencil_net_multiply_adds() {
    use ritz_neural_precond::GridShape;
    let g = |dim, n| GridShape {
        dim,
        dhw: [if dim == 3 { n } else { 1 }, n, n],
    };
    let v = StencilNetConfig::new(3).init::<B>(&dev()).unwrap();
    let spd = StencilNetConfig::new(3)
        .with_symmetric(true)
        .init::<B>(&dev())
        .unwrap();
    let plan = [g(3, 16), g(3, 8)];
    // V-net: two 27-tap blocks and two 7-point residuals per fine cell, then 512² coarse.
    assert_eq!(v.macs(&plan), (2.0 * 27.0 + 14.0) * 4096.0 + 512.0 * 512.0);
    // SPD: a block and its transpose.
    assert_eq!(spd.macs(&plan), 54.0 * 4096.0 + 512.0 * 512.0);
    let v2 = StencilNetConfig::new(2).init::<B>(&dev()).unwrap();
    assert_eq!(
        v2.macs(&[g(2, 32), g(2, 16)]),
        28.0 * 1024.0 + 256.0 * 256.0
    );
    assert_eq!(v2.macs(&[]), 0.0);
}
