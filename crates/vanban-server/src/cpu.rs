//! The pool that runs CPU-bound work (signing, validating, parsing packages): one thread per
//! core and one more (a job's first step may read a blob from disk), at a lower
//! scheduling priority (nice 10) than the rest of the server.
//!
//! Why lower: a request is mostly short steps — a database statement, a page — between which
//! its CPU-heavy steps run. When signing keeps every core busy at the same priority, the
//! SQLite writer's thread and the async threads wait for a time slice between statements while
//! holding the write lock, and the whole instance slows to the speed of that queue. At nice 10
//! (a tenth of the weight) they run as soon as they are woken, and the cores still do the
//! signing in every gap.

use std::sync::{Arc, Mutex, mpsc};

type Job = Box<dyn FnOnce() + Send>;

/// The niceness of the pool's threads.
const NICE: i32 = 10;

pub(crate) struct CpuPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl CpuPool {
    /// Starts `threads` threads; they end when the pool is dropped.
    pub(crate) fn new(threads: usize) -> CpuPool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("vanban-cpu-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("a CPU pool thread starts");
        }
        CpuPool { jobs: Mutex::new(tx) }
    }

    /// Runs `f` on the pool and waits for its result; a panic in `f` is an error, not a crash.
    pub(crate) async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(out);
        });
        self.jobs
            .lock()
            .map_err(|_| "the CPU pool is poisoned".to_owned())?
            .send(job)
            .map_err(|_| "the CPU pool stopped".to_owned())?;
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(panic)) => Err(panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a CPU job panicked".to_owned())),
            Err(_) => Err("a CPU job was dropped".to_owned()),
        }
    }
}

/// Raises the calling thread's niceness by [`NICE`] (on Linux, niceness is per thread).
/// Failure leaves the priority as it was.
#[cfg(target_os = "linux")]
fn lower_priority() {
    let tid = rustix::thread::gettid();
    if let Ok(now) = rustix::process::getpriority_process(Some(tid)) {
        let _ = rustix::process::setpriority_process(Some(tid), (now + NICE).min(19));
    }
}

#[cfg(all(test, target_os = "linux"))]
fn priority() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_reports_panics() {
        let pool = CpuPool::new(2);
        let jobs = (0..8u64).map(|n| pool.run(move || (0..=n).sum::<u64>()));
        let sums: Vec<u64> = futures::future::try_join_all(jobs).await.unwrap();
        assert_eq!(sums, vec![0, 1, 3, 6, 10, 15, 21, 28]);
        let err = pool.run(|| -> u32 { panic!("boom") }).await.unwrap_err();
        assert_eq!(err, "boom");
        // The pool still works after a panic.
        assert_eq!(pool.run(|| 2 + 2).await.unwrap(), 4);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn threads_run_at_lower_priority() {
        let pool = CpuPool::new(1);
        let here = priority();
        let there = pool.run(priority).await.unwrap();
        assert_eq!(there, (here + NICE).min(19));
    }
}
