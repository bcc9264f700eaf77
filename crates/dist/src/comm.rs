//! Communicators: what the distributed solvers need from a message-passing layer — a rank,
//! a size, global sums and maxima (krylov's [`Reduction`]), and a paired send/receive with a
//! neighbour.
//!
//! - [`ThreadComm`]: the ranks are threads of one process ([`ThreadComm::run`]); messages are
//!   copied through shared mailboxes. It runs every distributed code path in `cargo test` with
//!   no MPI installed, and its sums are deterministic (added in rank order on every rank).
//! - `mpi_comm::MpiComm` (feature `mpi`): `MPI_Allreduce` and
//!   `MPI_Sendrecv` through rsmpi.

use ritz_krylov::reduce::Reduction;
use std::collections::HashMap;
use std::sync::{Arc, Barrier, Condvar, Mutex};

/// A group of ranks that sum, take maxima and exchange messages.
///
/// Every method is collective over the ranks it involves: [`Reduction::sum`] and
/// [`Reduction::max`] over all ranks (same call order, same lengths),
/// [`Communicator::sendrecv`] between the two partners.
pub trait Communicator: Reduction {
    /// This rank, `0..size`.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// Sends `send` to rank `to` and receives `recv.len()` values from rank `from` (either may
    /// be `None`: no partner on that side). Cost: the message's bytes over the link.
    ///
    /// Panics if the message received has another length (a bug in the caller's pattern).
    fn sendrecv(&self, send: &[f64], to: Option<usize>, recv: &mut [f64], from: Option<usize>) {
        let bytes: Vec<u8> = send.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut got = vec![0u8; 8 * recv.len()];
        self.sendrecv_bytes(&bytes, to, &mut got, from);
        for (r, b) in recv.iter_mut().zip(got.chunks_exact(8)) {
            *r = f64::from_le_bytes(b.try_into().unwrap_or_default());
        }
    }
    /// [`Communicator::sendrecv`] of raw bytes (the split V-cycle's `f32` planes).
    fn sendrecv_bytes(&self, send: &[u8], to: Option<usize>, recv: &mut [u8], from: Option<usize>);
}

/// Messages in flight, by `(from, to)`, oldest first.
type Mailboxes = HashMap<(usize, usize), std::collections::VecDeque<Vec<u8>>>;

/// State shared by the threads of a [`ThreadComm`] group.
struct Shared {
    size: usize,
    barrier: Barrier,
    slots: Mutex<Vec<Vec<f64>>>,
    mail: Mutex<Mailboxes>,
    arrived: Condvar,
}

/// One rank of a group of threads (see the module docs).
///
/// ```
/// use ritz_dist::comm::{Communicator, ThreadComm};
/// use ritz_krylov::reduce::Reduction;
/// let sums = ThreadComm::run(3, |c| c.sum1(c.rank() as f64 + 1.0));
/// assert_eq!(sums, vec![6.0; 3]);
/// ```
pub struct ThreadComm {
    rank: usize,
    shared: Arc<Shared>,
}

impl ThreadComm {
    /// Runs `f` on `size` ranks, each a scoped thread with its own communicator, and returns
    /// their results in rank order. Panics in a rank propagate (after the others are joined or
    /// blocked: a rank that panics mid-collective leaves the others waiting, as in MPI).
    pub fn run<T: Send>(size: usize, f: impl Fn(&ThreadComm) -> T + Sync) -> Vec<T> {
        assert!(size >= 1, "a communicator needs at least one rank");
        let shared = Arc::new(Shared {
            size,
            barrier: Barrier::new(size),
            slots: Mutex::new(vec![Vec::new(); size]),
            mail: Mutex::new(HashMap::new()),
            arrived: Condvar::new(),
        });
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..size)
                .map(|rank| {
                    let comm = ThreadComm {
                        rank,
                        shared: shared.clone(),
                    };
                    let f = &f;
                    s.spawn(move || f(&comm))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }

    /// All ranks deposit `values`, then each combines the deposits in rank order.
    fn combine(&self, values: &mut [f64], op: fn(f64, f64) -> f64) {
        let sh = &self.shared;
        if sh.size == 1 {
            return;
        }
        lock(&sh.slots)[self.rank] = values.to_vec();
        sh.barrier.wait();
        {
            let slots = lock(&sh.slots);
            for (i, v) in values.iter_mut().enumerate() {
                *v = slots[1..].iter().fold(slots[0][i], |acc, s| op(acc, s[i]));
            }
        }
        // Nobody overwrites a slot before every rank has read them all.
        sh.barrier.wait();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Reduction for ThreadComm {
    fn sum(&self, values: &mut [f64]) {
        self.combine(values, |a, b| a + b);
    }
    fn max(&self, values: &mut [f64]) {
        // NaN wins, as in a NaN-propagating maximum: every rank must see a NaN anywhere.
        self.combine(values, |a, b| {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.max(b)
            }
        });
    }
    fn parts(&self) -> usize {
        self.shared.size
    }
}

impl Communicator for ThreadComm {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.shared.size
    }
    fn sendrecv_bytes(&self, send: &[u8], to: Option<usize>, recv: &mut [u8], from: Option<usize>) {
        let sh = &self.shared;
        if let Some(to) = to {
            lock(&sh.mail)
                .entry((self.rank, to))
                .or_default()
                .push_back(send.to_vec());
            sh.arrived.notify_all();
        }
        if let Some(from) = from {
            let mut mail = lock(&sh.mail);
            loop {
                if let Some(msg) = mail
                    .get_mut(&(from, self.rank))
                    .and_then(|queue| queue.pop_front())
                {
                    assert_eq!(msg.len(), recv.len(), "sendrecv: message length");
                    recv.copy_from_slice(&msg);
                    break;
                }
                mail = sh.arrived.wait(mail).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

/// One process, no partners: the serial case as a communicator.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelfComm;

impl Reduction for SelfComm {
    fn sum(&self, _: &mut [f64]) {}
    fn max(&self, _: &mut [f64]) {}
}

impl Communicator for SelfComm {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sendrecv_bytes(&self, _: &[u8], to: Option<usize>, _: &mut [u8], from: Option<usize>) {
        assert!(
            to.is_none() && from.is_none(),
            "a single process has no partners"
        );
    }
}

/// Time and traffic a [`Timed`] communicator has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CommStats {
    /// Seconds in neighbour exchanges (halo), waiting for the partner included.
    pub halo_s: f64,
    /// Neighbour exchanges (each a send and / or a receive).
    pub halo_calls: usize,
    /// Bytes sent to neighbours.
    pub halo_bytes: usize,
    /// Seconds in sums and maxima (all-reduces), waiting for the slowest rank included.
    pub allreduce_s: f64,
    /// All-reduces.
    pub allreduce_calls: usize,
    /// Values reduced, over all calls.
    pub allreduce_values: usize,
}

/// A communicator that times another one's calls ([`CommStats`]): what a rank spends in halo
/// exchanges and in all-reduces; the rest of a solve's time is its computation. Cost: two
/// clock reads and a lock per call.
///
/// ```
/// use ritz_dist::comm::{Communicator, ThreadComm, Timed};
/// use ritz_krylov::reduce::Reduction;
/// let calls = ThreadComm::run(2, |c| {
///     let t = Timed::new(c);
///     t.sum1(1.0);
///     t.stats().allreduce_calls
/// });
/// assert_eq!(calls, vec![1, 1]);
/// ```
pub struct Timed<'a> {
    inner: &'a dyn Communicator,
    stats: Mutex<CommStats>,
}

impl<'a> Timed<'a> {
    /// Wraps `inner`, with zero counts.
    pub fn new(inner: &'a dyn Communicator) -> Self {
        Self {
            inner,
            stats: Mutex::new(CommStats::default()),
        }
    }
    /// The counts so far.
    pub fn stats(&self) -> CommStats {
        *lock(&self.stats)
    }
    /// Zeroes the counts.
    pub fn reset(&self) {
        *lock(&self.stats) = CommStats::default();
    }
    /// Counts one neighbour exchange begun at `t` that sent `bytes`.
    fn halo(&self, t: std::time::Instant, bytes: usize) {
        let mut s = lock(&self.stats);
        s.halo_s += t.elapsed().as_secs_f64();
        s.halo_calls += 1;
        s.halo_bytes += bytes;
    }
    fn reduce(&self, values: &mut [f64], op: impl FnOnce(&mut [f64])) {
        let t = std::time::Instant::now();
        op(values);
        let mut s = lock(&self.stats);
        s.allreduce_s += t.elapsed().as_secs_f64();
        s.allreduce_calls += 1;
        s.allreduce_values += values.len();
    }
}

impl Reduction for Timed<'_> {
    fn sum(&self, values: &mut [f64]) {
        self.reduce(values, |v| self.inner.sum(v));
    }
    fn max(&self, values: &mut [f64]) {
        self.reduce(values, |v| self.inner.max(v));
    }
    fn parts(&self) -> usize {
        self.inner.size()
    }
}

impl Communicator for Timed<'_> {
    fn rank(&self) -> usize {
        self.inner.rank()
    }
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn sendrecv_bytes(&self, send: &[u8], to: Option<usize>, recv: &mut [u8], from: Option<usize>) {
        let t = std::time::Instant::now();
        self.inner.sendrecv_bytes(send, to, recv, from);
        self.halo(t, to.map_or(0, |_| send.len()));
    }
    fn sendrecv(&self, send: &[f64], to: Option<usize>, recv: &mut [f64], from: Option<usize>) {
        let t = std::time::Instant::now();
        self.inner.sendrecv(send, to, recv, from);
        self.halo(t, to.map_or(0, |_| 8 * send.len()));
    }
}
