"""Type stubs of the native module ``ritz._ritz`` (PyO3). Use it through ``ritz``."""

from os import PathLike
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

__version__: str

ArrayLike = npt.ArrayLike
F64 = npt.NDArray[np.float64]
HVP = Callable[[F64], ArrayLike]

class Poisson:
    """A MAC-grid pressure-Poisson problem: ``flags`` int8 (0 fluid, 1 solid, 2 air) of shape
    ``(ny, nx)`` or ``(nz, ny, nx)`` (x fastest), ``walls`` ``"closed"`` or ``"open-top"``
    (air beyond the high end of axis 0). Unknowns are the fluid cells; grid vectors have the
    flags' shape and are zero elsewhere. Raises ValueError for bad shapes, codes, walls, a grid
    without fluid; MemoryError for sizes beyond memory."""

    def __new__(cls, flags: ArrayLike, walls: str = "closed") -> "Poisson": ...
    @staticmethod
    def scene(name: str, n: int, dim: int = 3, seed: int = 0) -> "Poisson":
        """A built-in seeded scene: plume, spheres, pillars, organic, closed."""
    @staticmethod
    def load(path: Union[str, PathLike], walls: str = "closed") -> "Poisson":
        """A problem from an npy file of int8 flags (OSError for unreadable files)."""
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def ndim(self) -> int: ...
    @property
    def num_cells(self) -> int: ...
    @property
    def num_fluid(self) -> int: ...
    @property
    def walls(self) -> str: ...
    @property
    def regions(self) -> tuple[int, int]:
        """(floating all-Neumann regions, fluid regions)."""
    def flags(self) -> npt.NDArray[np.int8]: ...
    def fluid_cells(self) -> npt.NDArray[np.uint32]:
        """Flat grid indices of the unknowns, in the order of ``matrix()``'s rows."""
    def matrix(self) -> Any:
        """The assembled matrix on the fluid unknowns (``scipy.sparse.csr_matrix``)."""
    def apply(self, x: ArrayLike) -> F64:
        """``A x`` on grid vectors (matrix-free)."""
    def rhs(self, kind: str = "smooth", seed: int = 0) -> F64:
        """A seeded right-hand side: ``smooth`` (divergence of a smooth velocity),
        ``buoyancy``, ``noise``."""
    def to_compact(self, x: ArrayLike) -> F64: ...
    def to_grid(self, x: ArrayLike) -> F64: ...

class SparseMatrix:
    """A validated CSR matrix (``ritz.as_sparse`` builds it from SciPy)."""

    def __new__(
        cls, shape: tuple[int, int], indptr: ArrayLike, indices: ArrayLike, data: ArrayLike
    ) -> "SparseMatrix": ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def nnz(self) -> int: ...

class Solver:
    """A catalogue solver built once on a ``Poisson`` problem or a sparse SPD matrix."""

    def __new__(
        cls,
        name: str,
        system: Any,
        *,
        tol: float = 1e-6,
        atol: float = 0.0,
        maxiter: int = 10000,
        weights: Optional[Union[str, PathLike]] = None,
        backend: str = "cpu",
    ) -> "Solver": ...
    @property
    def name(self) -> str: ...
    @property
    def setup_seconds(self) -> float: ...
    @property
    def tol(self) -> float: ...
    @property
    def maxiter(self) -> int: ...
    @property
    def vector_length(self) -> int: ...
    @property
    def problem(self) -> Optional[Poisson]: ...
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def preconditioner_is_spd(self) -> Optional[bool]: ...
    def solve(
        self,
        b: ArrayLike,
        x0: Optional[ArrayLike] = None,
        *,
        tol: Optional[float] = None,
        atol: Optional[float] = None,
        maxiter: Optional[int] = None,
        raise_on_failure: bool = False,
    ) -> tuple[F64, dict[str, Any]]:
        """``(x, info)``; ``info``: solver, iterations, residuals, elapsed, stop, converged,
        relative_residual, rhs_norm, setup_seconds, solve_seconds. Raises ValueError for
        shapes, NaN/Inf and breakdown; ``ConvergenceError`` when asked and not converged."""
    def preconditioner(self) -> Any:
        """The SPD preconditioner as ``scipy.sparse.linalg.LinearOperator`` (SciPy's ``M=``)."""
    def apply_preconditioner(self, r: ArrayLike) -> F64: ...

class Smoke:
    """The smoke simulator (no air cells: use open walls)."""

    def __new__(
        cls,
        flags: ArrayLike,
        walls: str = "open-top",
        *,
        dt: float = 1.0,
        buoyancy: float = 0.2,
        density_weight: float = 0.02,
        source: Optional[Sequence[float]] = None,
        source_radius: float = 0.08,
        cooling: float = 0.0,
        warm_start: bool = False,
    ) -> "Smoke": ...
    @staticmethod
    def sphere(n: int, dim: int = 3, *, warm_start: bool = False) -> "Smoke": ...
    @property
    def problem(self) -> Poisson: ...
    def step(self, solver: Solver) -> dict[str, Any]:
        """One frame: frame, iterations, relative_residual, solve_seconds, divergence_before,
        divergence_after, smoke_mass, max_velocity."""
    @property
    def frame(self) -> int: ...
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def density(self) -> F64: ...
    @property
    def temperature(self) -> F64: ...
    @property
    def pressure(self) -> F64: ...
    def velocity(self, axis: int) -> F64:
        """Face velocities normal to numpy axis ``axis`` (one longer along it)."""

class DynamicMfac:
    """M-FAC over a sliding window: ``F = damping I + (1/c) sum g g^T`` of the last gradients."""

    def __new__(cls, dim: int, window: int, damping: float = 1e-4) -> "DynamicMfac": ...
    def update(self, grad: ArrayLike) -> None: ...
    def ihvp(self, x: ArrayLike) -> F64: ...
    @property
    def dim(self) -> int: ...
    def __len__(self) -> int: ...

def catalogue() -> list[tuple[str, str]]: ...
def ot_solve(
    a: ArrayLike, b: ArrayLike, cost: ArrayLike, method: str, reg: float, max_iter: int, tol: float
) -> dict[str, Any]: ...
def top_eigenvalues(hvp: HVP, n: int, k: int, steps: int, seed: int = 0) -> tuple[F64, F64]: ...
def trace(
    hvp: HVP, n: int, matvecs: int, method: str = "hutch++", seed: int = 0
) -> tuple[float, float, int]: ...
def slq(hvp: HVP, n: int, steps: int, probes: int, seed: int = 0) -> tuple[F64, F64]: ...
