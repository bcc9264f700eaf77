//! `ritz-linalg`: the vocabulary every other ritz crate speaks.
//!
//! * [`LinearOperator`]: `y = A x` on `f64` slices, with an optional fused `xᵀA x` and an
//!   optional [`NullSpace`] (singular but consistent systems, e.g. all-Neumann Poisson).
//! * [`Preconditioner`]: any map `r ↦ z` (it may be nonlinear, e.g. a neural network), and the
//!   marker [`SpdPreconditioner`] for linear, symmetric positive definite maps. Plain PCG only
//!   accepts the latter; flexible methods accept any [`Preconditioner`].
//! * [`FusedPcg`]: an operator–preconditioner pair that runs the vector work of a
//!   preconditioned CG iteration itself, in fused passes over storage of its own layout and
//!   precision (MGPCG on the MAC grid); `ritz-krylov`'s `pcg_fused` iterates it.
//! * [`vector`]: rayon-parallel, deterministic, fused BLAS-1 kernels (memory-bandwidth bound).
//! * [`CsrMatrix`]: compressed sparse rows with a rayon-parallel mat-vec (faer's sparse × dense
//!   product is single-threaded) and conversion to faer for direct factorizations.
//! * [`mem`]: the memory budget every input-derived size is checked against before allocating.
//! * [`direct`]: sparse Cholesky (faer) for SPD and region-singular matrices.
//! * [`io`]: MatrixMarket (coordinate, real/integer, general/symmetric) and `.npy` files.
//!
//! Errors are typed ([`LinalgError`], [`io::IoError`]); nothing here panics on user input, only
//! on violated documented preconditions of the hot-loop kernels (slice lengths).
//!
//! ```
//! use ritz_linalg::{CsrMatrix, LinearOperator, vector};
//! let a = CsrMatrix::from_triplets(2, 2, &[(0, 0, 2.0), (0, 1, -1.0), (1, 0, -1.0), (1, 1, 2.0)])?;
//! let mut y = vec![0.0; 2];
//! a.apply(&[1.0, 1.0], &mut y);
//! assert_eq!(y, [1.0, 1.0]);
//! assert_eq!(vector::norm2(&[3e-170, 4e-170]), 5e-170); // no underflow
//! # Ok::<(), ritz_linalg::LinalgError>(())
//! ```

pub mod csr;
pub mod dense;
pub mod direct;
pub mod error;
pub mod fused;
pub mod io;
pub mod mem;
pub mod nullspace;
pub mod operator;
pub mod precond;
pub mod schedule;
pub mod vector;

pub use csr::CsrMatrix;
pub use dense::DenseMatrix;
pub use error::LinalgError;
pub use fused::FusedPcg;
pub use io::IoError;
pub use nullspace::{NullSpace, RegionNullSpace};
pub use operator::LinearOperator;
pub use precond::{IdentityPreconditioner, Preconditioner, SpdPreconditioner};
