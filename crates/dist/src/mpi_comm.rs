//! [`Communicator`] over MPI (rsmpi and the system's MPI library; feature `mpi`).
//!
//! Sums and maxima are `MPI_Allreduce` (`MPI_SUM`, `MPI_MAX`), neighbour exchanges
//! `MPI_Sendrecv` (or a plain send / receive when one side has no partner).

use crate::comm::Communicator;
use mpi::collective::SystemOperation;
use mpi::point_to_point as p2p;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives as _, Destination as _, Source as _};
use ritz_krylov::reduce::Reduction;

/// One MPI rank's communicator (`MPI_COMM_WORLD` or any other).
///
/// ```no_run
/// let universe = mpi::initialize().expect("MPI initializes once");
/// let comm = ritz_dist::mpi_comm::MpiComm::new(universe.world());
/// ```
pub struct MpiComm {
    comm: SimpleCommunicator,
}

// SAFETY: rsmpi's communicator is a handle the MPI library owns; it is not `Sync` because MPI
// may be initialized without thread support. The solvers call the communicator only from the
// thread that runs the solve (rayon workers compute local kernels and never communicate), so
// the handle is never used by two threads at once — MPI's `MPI_THREAD_FUNNELED` pattern.
unsafe impl Sync for MpiComm {}
// SAFETY: as above; the handle is moved, not shared, and used by one thread at a time.
unsafe impl Send for MpiComm {}

impl MpiComm {
    /// Wraps a communicator.
    pub fn new(comm: SimpleCommunicator) -> Self {
        Self { comm }
    }
    /// The communicator inside.
    pub fn raw(&self) -> &SimpleCommunicator {
        &self.comm
    }

    /// `MPI_Sendrecv`, or a plain send / receive when one side has no partner.
    fn pair<T: mpi::datatype::Equivalence>(
        &self,
        send: &[T],
        to: Option<usize>,
        recv: &mut [T],
        from: Option<usize>,
    ) {
        match (to, from) {
            (Some(t), Some(f)) => {
                let (dest, src) = (
                    self.comm.process_at_rank(t as i32),
                    self.comm.process_at_rank(f as i32),
                );
                p2p::send_receive_into(send, &dest, recv, &src);
            }
            (Some(t), None) => self.comm.process_at_rank(t as i32).send(send),
            (None, Some(f)) => {
                self.comm.process_at_rank(f as i32).receive_into(recv);
            }
            (None, None) => {}
        }
    }
}

impl Reduction for MpiComm {
    fn sum(&self, values: &mut [f64]) {
        if self.comm.size() > 1 {
            let send = values.to_vec();
            self.comm
                .all_reduce_into(&send[..], values, SystemOperation::sum());
        }
    }
    fn max(&self, values: &mut [f64]) {
        if self.comm.size() > 1 {
            let send = values.to_vec();
            self.comm
                .all_reduce_into(&send[..], values, SystemOperation::max());
        }
    }
    fn parts(&self) -> usize {
        self.comm.size() as usize
    }
}

impl Communicator for MpiComm {
    fn rank(&self) -> usize {
        self.comm.rank() as usize
    }
    fn size(&self) -> usize {
        self.comm.size() as usize
    }
    fn sendrecv(&self, send: &[f64], to: Option<usize>, recv: &mut [f64], from: Option<usize>) {
        self.pair(send, to, recv, from);
    }
    fn sendrecv_bytes(&self, send: &[u8], to: Option<usize>, recv: &mut [u8], from: Option<usize>) {
        self.pair(send, to, recv, from);
    }
}
